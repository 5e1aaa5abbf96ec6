/**
 * The parallel `wal` (app/wal-parallel.ts + app/wal-fast.ts + the render writers on the pool's
 * workers) must print exactly what the reader path prints (`streamWal` + `renderWalStream`), byte
 * for byte, in every format, on every real fixture and on every damaged or unusual log; on regular
 * logs the workers must do all of it (no takeover), and where something is irregular the reader
 * must take over at the exact entry where the workers stopped. Small chunks make every log cross
 * many chunk boundaries.
 *
 * Under vitest the pool runs the chunk jobs in this thread from the TypeScript sources
 * (workers/pool.ts); test/workers/pool.test.ts runs the compiled workers.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { cpSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runWal, streamWal, verifyByScan, verifyWal, type WalOptions } from '../../src/app/wal.js'
import { streamWalParallel, workersPayOff, type ParallelOptions } from '../../src/app/wal-parallel.js'
import { walName } from '../../src/format/wal/segment-name.js'
import { EntryRowWriter, renderWalStream } from '../../src/render/wal.js'
import { presentChunk, type ChunkEntrySink, type ChunkJob } from '../../src/app/wal-fast.js'
import { EntryLineWriter } from '../../src/render/wal-line.js'
import type { OutputFormat, Sink } from '../../src/render/output.js'
import { allDataDirs, extractMultiseg, materialize } from '../support/fixtures.js'
import { firstSegment, irrPut, lastFrameOffset, msg, pb, WalWriter, writeWalDir } from '../support/wal-writer.js'

const temps: string[] = []
afterAll(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })))

/** Collects text; `owned` also offers writeOwned (copying at once), so output buffers go round. */
function sink(owned: boolean): Sink & { text(): string; owned: number } {
  const parts: string[] = []
  const s = {
    owned: 0,
    write: (b: string | Uint8Array) => { parts.push(typeof b === 'string' ? b : Buffer.from(b).toString('utf8')) },
    text: () => parts.join(''),
  }
  if (!owned) return s
  return Object.assign(s, {
    writeOwned: async (b: Uint8Array) => {
      s.owned++
      parts.push(Buffer.from(b).toString('utf8'))
    },
  })
}

const SMALL: ParallelOptions = { threads: 2, force: true, chunkBytes: 4096 }

const FORMATS: OutputFormat[] = ['ndjson', 'json', 'table', 'simple']

async function compare(dir: string, cfg: ParallelOptions = SMALL, opts: WalOptions = {}, format: OutputFormat = 'ndjson') {
  const reader = sink(false)
  await renderWalStream(streamWal(dir, { ...opts, markReplaced: format !== 'ndjson' }), reader, format)
  const par = sink(true)
  const run = await streamWalParallel(dir, opts, { ...cfg, style: format })
  expect(run).not.toBeNull()
  const result = await renderWalStream(run!.items, par, format)
  const a = par.text().split('\n')
  const b = reader.text().split('\n')
  // line by line first, so a failure names the first differing line rather than a 1 MB string
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) expect({ format, line: i + 1, text: a[i] }).toEqual({ format, line: i + 1, text: b[i] })
  expect(a.length).toBeGreaterThan(1)
  return { r: { result, resumedAt: run!.resumedAt }, lines: b.length - 1, owned: par.owned }
}

function multisegCopy(): { dir: string; wal: string; segs: string[] } {
  const src = extractMultiseg({ shared: true }).dataDir
  const dir = mkdtempSync(join(tmpdir(), 'wal-par-ms-'))
  temps.push(dir)
  cpSync(src, dir, { recursive: true })
  const wal = join(dir, 'member/wal')
  return { dir, wal, segs: readdirSync(wal).filter((n) => n.endsWith('.wal')).sort() }
}

describe('wal in parallel: every fixture, every format, byte for byte', () => {
  for (const d of allDataDirs()) {
    it(`${d.fixture}/${d.key}`, async () => {
      const replaced = runWal(d.dir).summary.replaced > 0
      for (const format of FORMATS) {
        // the formats that mark replaced entries leave a log with overwrites to the reader
        if (format !== 'ndjson' && replaced) {
          expect(await streamWalParallel(d.dir, {}, { ...SMALL, style: format })).toBeNull()
          continue
        }
        const { r } = await compare(d.dir, SMALL, {}, format)
        // the workers do it all exactly where the verify scan calls the log regular
        if (verifyByScan(d.dir, {}) !== null) expect(r.resumedAt).toBeUndefined()
        else expect(r.resumedAt).toBeDefined()
      }
    })
  }
  it('multiseg (full-size segments, the chain across them), 1 MiB and 64 KiB chunks', async () => {
    const m = extractMultiseg({ shared: true })
    const big = await compare(m.dataDir, { threads: 2, force: true })
    expect(big.r.resumedAt).toBeUndefined()
    expect(big.r.result!.segments.length).toBeGreaterThanOrEqual(2)
    expect(big.owned).toBeGreaterThan(1)
    // the other writers on full-size segments (the same frames as above; json and table cover the line and row writers)
    for (const format of ['json', 'table'] as const) expect((await compare(m.dataDir, { threads: 2, force: true, chunkBytes: 256 * 1024 }, {}, format)).r.resumedAt).toBeUndefined()
    const small = await compare(m.dataDir, { threads: 3, force: true, chunkBytes: 64 * 1024 })
    expect(small.r.resumedAt).toBeUndefined()
  })
  it('single, full-size preallocated segment (zero tail) and one worker', async () => {
    const m = materialize('single', { fullSize: true })
    temps.push(m.root)
    const { r } = await compare(m.dataDir, { threads: 1, force: true, chunkBytes: 8192 })
    expect(r.resumedAt).toBeUndefined()
    expect(r.result!.segments.at(-1)!.end).toBe('zero-tail')
  })
})

describe('wal -w ndjson in parallel: the reader takes over where the log is not regular', () => {
  it('a flipped payload byte in an earlier segment: takeover inside that segment', async () => {
    const m = multisegCopy()
    const f = join(m.wal, m.segs[0]!)
    const b = readFileSync(f)
    b[40_000] ^= 0x01
    writeFileSync(f, b)
    for (const format of FORMATS) {
      const { r } = await compare(m.dir, { threads: 2, force: true, chunkBytes: 16 * 1024 }, {}, format)
      expect(r.resumedAt?.segment).toBe(0)
      // the entries before the damaged record came from the workers
      expect(r.resumedAt!.skip).toBeGreaterThan(0)
      expect(r.result!.summary.end).toBe('corrupt')
    }
  })
  it('the last segment cut inside a frame: torn tail', async () => {
    const m = multisegCopy()
    const end = verifyWal(m.dir).segments.at(-1)!.lastValidOffset!
    truncateSync(join(m.wal, m.segs.at(-1)!), end - 7)
    for (const format of ['ndjson', 'table'] as const) {
      const { r } = await compare(m.dir, { threads: 2, force: true, chunkBytes: 32 * 1024 }, {}, format)
      expect(r.resumedAt?.segment).toBe(m.segs.length - 1)
      expect(r.result!.summary.end).toBe('torn-tail')
    }
  })
  it('a missing middle segment: the listing finding sends it all to the reader', async () => {
    const m = multisegCopy()
    if (m.segs.length < 3) return void expect(m.segs.length).toBe(2)
    renameSync(join(m.wal, m.segs[1]!), join(m.dir, 'aside.wal'))
    expect(await streamWalParallel(m.dir, {}, SMALL)).toBeNull()
  })
  it('a chain break between segments: takeover at the head of the second', async () => {
    const a = firstSegment()
    a.entry(1, 1, irrPut('a', '1')).state(1, 1, 1)
    const s0 = a.cut()
    const b = firstSegment(new WalWriter())
    b.entry(1, 1, irrPut('x', 'other history')).state(1, 1, 1)
    b.cut()
    b.crcRecord().metadata().state(1, 1, 1).entry(1, 2, irrPut('b', '2'))
    const { r } = await compare(writeWalDir([[0n, 0n, s0], [1n, 2n, b.cut(1024)]], temps, 'wal-par-'))
    expect(r.resumedAt).toEqual({ segment: 1, skip: 0 })
    expect(r.result!.findings.map((f) => f.code)).toContain('crc-chain-break')
  })
  it('metadata that differs between segments', async () => {
    const w = firstSegment()
    w.entry(1, 1).state(1, 1, 1)
    const s0 = w.cut()
    w.crcRecord().metadata(0x1234n, 0x5678n).state(1, 1, 1).entry(1, 2)
    const { r } = await compare(writeWalDir([[0n, 0n, s0], [1n, 2n, w.cut(512)]], temps, 'wal-par-'))
    expect(r.resumedAt).toEqual({ segment: 1, skip: 0 })
  })
  it('entries a new leader overwrote: takeover at the overwriting entry', async () => {
    const w = firstSegment()
    w.entry(1, 1).entry(1, 2).entry(1, 3).state(1, 1, 1)
    w.entry(2, 2).state(2, 1, 2)
    const { r } = await compare(writeWalDir([[0n, 0n, w.cut(512)]], temps, 'wal-par-'))
    expect(r.resumedAt).toEqual({ segment: 0, skip: 3 })
    expect(r.result!.summary.replaced).toBe(2)
  })
  it('an index that does not follow across a chunk boundary', async () => {
    const w = firstSegment()
    for (let i = 1; i <= 40; i++) w.entry(1, i, irrPut(`/k/${i}`, 'v'.repeat(200)))
    for (let i = 45; i <= 80; i++) w.entry(1, i, irrPut(`/k/${i}`, 'v'.repeat(200)))
    w.state(1, 1, 80)
    const d = writeWalDir([[0n, 0n, w.cut(4096)]], temps, 'wal-par-')
    for (const format of FORMATS) {
      const { r } = await compare(d, { threads: 2, force: true, chunkBytes: 1024 }, {}, format)
      expect(r.resumedAt).toEqual({ segment: 0, skip: 40 })
    }
  })
  it('a segment name that disagrees with its entries', async () => {
    const w = firstSegment()
    w.entry(1, 1).entry(1, 2).state(1, 1, 2)
    const s0 = w.cut()
    w.crcRecord().metadata().state(1, 1, 2).entry(1, 3)
    const { r } = await compare(writeWalDir([[0n, 0n, s0], [1n, 7n, w.cut(512)]], temps, 'wal-par-'))
    expect(r.resumedAt).toEqual({ segment: 1, skip: 0 })
  })
  it('a zero tail in a segment that is not the last', async () => {
    const w = firstSegment()
    w.entry(1, 1).state(1, 1, 1)
    const s0 = w.cut(64)
    w.crcRecord().metadata().state(1, 1, 1).entry(1, 2)
    const { r } = await compare(writeWalDir([[0n, 0n, s0], [1n, 2n, w.cut(512)]], temps, 'wal-par-'))
    expect(r.resumedAt).toEqual({ segment: 0, skip: 1 })
  })
  it('a flipped stored CRC of the last record', async () => {
    const w = firstSegment()
    w.entry(1, 1, irrPut('a', '1')).state(1, 1, 1).entry(1, 2, irrPut('b', '2'))
    const d = writeWalDir([[0n, 0n, w.cut()]], temps, 'wal-par-')
    const f = join(d, 'member/wal', walName(0n, 0n))
    const b = readFileSync(f)
    // the last frame's stored CRC varint follows 08 02 10
    b[lastFrameOffset(b) + 8 + 3] ^= 0x01
    writeFileSync(f, b)
    const { r } = await compare(d)
    expect(r.resumedAt).toEqual({ segment: 0, skip: 1 })
  })
})

describe('presentChunk: entries CRCs checked at the end of the chunk', () => {
  // a segment of 12 puts with HardStates between them; entry 7's data has one flipped byte
  function chunk(flip: boolean): { job: ChunkJob; buf: Uint8Array } {
    const w = firstSegment()
    for (let i = 1; i <= 12; i++) {
      w.entry(1, i, irrPut(`/k/${i}`, `value ${i}`))
      if (i % 4 === 0) w.state(1, 1, i)
    }
    const at = w.offsets[3 + 7]! // crc, metadata, snapshot, then entries 1..6 and the state after 4
    const buf = w.cut()
    if (flip) buf[at + 40] ^= 0x01 // inside the put
    return { job: { id: 0, segment: 0, file: 'member/wal/x.wal', first: true, base: 0, length: buf.length, crc: 0, commit: 12n }, buf }
  }
  function run(flip: boolean) {
    const { job, buf } = chunk(flip)
    const w = new EntryLineWriter('ndjson')
    w.begin(buf, job.file, undefined, 1 << 16)
    let restarts = 0
    const sink: ChunkEntrySink = { raw: (...a) => w.raw(...a), entry: (e) => w.entry(e), restart: () => { restarts++; w.restart() } }
    const out = presentChunk(job, buf, sink)
    return { out, restarts, text: Buffer.from(w.take()).toString('utf8') }
  }
  it('a clean chunk: one walk, every entry, the last HardState', () => {
    const r = run(false)
    expect(r.restarts).toBe(0)
    expect(r.out.irregular).toBeNull()
    expect(r.out.presented).toBe(12)
    expect(r.out.hardState).toEqual({ term: 1n, vote: 1n, commit: 12n })
    expect(r.text.trim().split('\n')).toHaveLength(12)
  })
  it('a bad CRC: walked again record by record, stopping exactly at the bad entry, its output written once', () => {
    const clean = run(false)
    const r = run(true)
    expect(r.restarts).toBe(1)
    expect(r.out.irregular).toBe('CRC mismatch')
    expect(r.out.presented).toBe(6)
    expect(r.out.lastIndex).toBe(6n)
    // the HardState after entry 4 is the last one before the stop
    expect(r.out.hardState).toEqual({ term: 1n, vote: 1n, commit: 4n })
    expect(r.text).toBe(clean.text.split('\n').slice(0, 6).join('\n') + '\n')
  })
  it('the table and simple writers too: the rows before the bad entry, their digests filled once', () => {
    for (const style of ['table', 'simple'] as const) {
      const rows = (flip: boolean) => {
        const { job, buf } = chunk(flip)
        const w = new EntryRowWriter(style, undefined, 1 << 16)
        w.begin(buf)
        const out = presentChunk(job, buf, w)
        const t = w.take()
        return { out, text: Buffer.from(t.bytes).toString('utf8'), rows: t.rows }
      }
      const clean = rows(false)
      const r = rows(true)
      expect(r.out.presented).toBe(6)
      expect(clean.text).toMatch(/sha256:[0-9a-f]{16}>/)
      if (style === 'simple') expect(r.text).toBe(clean.text.split('\n').slice(0, 6).join('\n') + '\n')
      else {
        expect(r.rows).toHaveLength(30)
        expect(r.text).toBe(clean.text.slice(0, clean.rows![29]))
      }
    }
  })
})

describe('EntryLineWriter: the put lines it writes from bytes are the general path\'s, in any file, mixed with other entries', () => {
  // puts (fast path) around a no-op, a delete and a put with prev_kv (general path), terms changing
  // mid-chunk, entries beyond the commit: one chunk through the writer, and again through a sink
  // that sends every entry the general way (entryLine of the decoded entry)
  function chunk(): { buf: Uint8Array; n: number } {
    const w = firstSegment()
    let i = 0
    for (let t = 1; t <= 3; t++) {
      w.entry(t, ++i)
      for (let k = 0; k < 5; k++) w.entry(t, ++i, irrPut(`/t${t}/k${k}${'x'.repeat(k * 3)}`, 'v'.repeat(k * 20)))
      w.entry(t, ++i, msg(pb.bytes(5, msg(pb.bytes(1, `/gone${t}`))), pb.bytes(100, pb.varint(1, 8n))))
      w.entry(t, ++i, msg(pb.bytes(4, msg(pb.bytes(1, '/prev'), pb.bytes(2, 'v'), pb.varint(4, true))), pb.bytes(100, pb.varint(1, 7n))))
      w.entry(t, ++i, irrPut(`/after${t}`, 'w'))
    }
    w.state(3, 1, i - 3)
    return { buf: w.cut(), n: i }
  }
  // names that JSON escapes or that are long, multi-byte and DEL at every alignment of a word
  const FILES = ['member/wal/0000000000000000-0000000000000000.wal', 'a"b\\c.wal', ...[0, 1, 2, 3, 4, 5, 6, 7].map((k) => `${'d'.repeat(k)}\u007f😀é\u007f/ü.wal`)]
  for (const style of ['ndjson', 'json'] as const) {
    it(`${style}: every file name, the writer reused from chunk to chunk`, () => {
      const { buf, n } = chunk()
      const w = new EntryLineWriter(style)
      const out = new Uint8Array(1 << 16)
      for (const file of FILES) {
        const job: ChunkJob = { id: 0, segment: 0, file, first: true, base: 0, length: buf.length, crc: 0, commit: BigInt(n - 3) }
        w.begin(buf, file, out, 1 << 12)
        let taken = 0
        const fast = presentChunk(job, buf, { raw: (...a) => w.raw(...a) && ++taken > 0, entry: (e) => w.entry(e), restart: () => w.restart() })
        expect(taken).toBe(18) // the puts: 6 a term
        const text = Buffer.from(w.take()).toString('utf8')
        const g = new EntryLineWriter(style)
        g.begin(buf, file, undefined, 1 << 12)
        const general = presentChunk(job, buf, { raw: () => false, entry: (e) => g.entry(e), restart: () => g.restart() })
        expect(fast.irregular).toBeNull()
        expect(fast.presented).toBe(n)
        expect(general.presented).toBe(n)
        expect(text).toBe(Buffer.from(g.take()).toString('utf8'))
        expect(w.count).toBe(n)
      }
    })
  }
  it('header ids: digits copied from the id before where only the low seven bits differ, written in full elsewhere', () => {
    const X = 0xac04a23b98e3a2e8n
    const ids = [
      // the first: a chunk's id is never compared with the last chunk's, whose digits are elsewhere
      (1n << 63n) + 1n, 1n, 2n, 127n, 128n, 129n, 255n, 256n, 16383n, 16384n, 16385n, 16384n + 127n, 16384n + 128n, 16384n + 129n,
      X, X + 1n, X + 2n, X + 0x17n, X + 0x18n, X + 0x19n, X + 0x98n, X + 0x99n, X + (1n << 40n), X + (1n << 40n) + 1n,
      // the same varint bytes after the first but one byte longer or shorter
      0x3fffn, 0x1fffffn, 0x1fff80n, 0x7fn, X >> 8n, (X >> 8n) + 1n, X >> 4n, (X >> 4n) + 1n, X >> 1n, (X >> 1n) + 1n,
      (1n << 64n) - 2n, (1n << 64n) - 1n, 1n << 63n, (1n << 63n) + 5n,
      // the same length, apart in one byte after the first only (three, four and six bytes of varint)
      (1n << 14n) + 5n, (1n << 14n) + 0x300n + 6n, (1n << 21n) + 3n, (1n << 21n) + (1n << 22n) + 4n, (1n << 40n) + 5n, (1n << 40n) + (1n << 35n) + 6n,
    ]
    const w0 = firstSegment()
    ids.forEach((id, i) => w0.entry(1, i + 1, irrPut(`/k${i % 7}`, 'v'.repeat(i % 5), 0n, id)))
    // a general-path entry between two fast ones does not break the run of copied digits
    w0.entry(1, ids.length + 1, msg(pb.bytes(5, msg(pb.bytes(1, '/gone'))), pb.bytes(100, pb.varint(1, X + 0x1an))))
    w0.entry(1, ids.length + 2, irrPut('/k', 'v', 0n, (1n << 63n) + 6n))
    w0.state(1, 1, ids.length + 2)
    const buf = w0.cut()
    const job: ChunkJob = { id: 0, segment: 0, file: 'x.wal', first: true, base: 0, length: buf.length, crc: 0, commit: BigInt(ids.length + 2) }
    const g = new EntryLineWriter('ndjson')
    g.begin(buf, job.file, undefined, 1 << 12)
    presentChunk(job, buf, { raw: () => false, entry: (e) => g.entry(e), restart: () => g.restart() })
    const general = Buffer.from(g.take()).toString('utf8').split('\n')
    expect(general.slice(0, ids.length).map((l) => JSON.parse(l).header.id)).toEqual(ids.map((id) => id.toString(16)))
    // the same chunk twice through one writer, into a new output buffer each time
    const w = new EntryLineWriter('ndjson')
    for (let round = 0; round < 2; round++) {
      w.begin(buf, job.file, new Uint8Array(1 << 14), 1 << 12)
      let taken = 0
      presentChunk(job, buf, { raw: (...a) => w.raw(...a) && ++taken > 0, entry: (e) => w.entry(e), restart: () => w.restart() })
      expect(taken).toBe(ids.length + 1)
      expect(Buffer.from(w.take()).toString('utf8').split('\n')).toEqual(general)
    }
  })
  it('a chunk of no entries writes nothing; take twice gives the same bytes', () => {
    const w = new EntryLineWriter('ndjson')
    const empty = new Uint8Array(0)
    w.begin(empty, 'x.wal')
    expect(w.take()).toHaveLength(0)
    expect(w.take()).toHaveLength(0)
  })
})

describe('wal -w ndjson in parallel: the put fast path and the general path agree', () => {
  const k8s = Uint8Array.from([0x6b, 0x38, 0x73, 0x00, 0x0a, 0x02, 0x76, 0x31])
  const POSITIONS = Array.from({ length: 17 }, (_, k) => k)
  const puts: [string, string | Uint8Array, bigint?, bigint?][] = [
    ['/registry/pods/default/web-0', 'plain ascii text\twith tab and\nnewline'],
    ['/utf8', 'héllo wörld ✓'],
    ['/invalid-utf8', Uint8Array.from([0x61, 0xff, 0xfe, 0x62])],
    ['/control', Uint8Array.from([0x61, 0x01, 0x62])],
    ['/del', Uint8Array.from([0x61, 0x7f])],
    ['/empty', ''],
    ['/k8s', k8s],
    ['/json', '{"a":1,"b":[1,2]}'],
    ['/array', '[1,2,3]'],
    ['/quote"key', 'v'],
    ['/back\\slash', 'v'],
    ['/ключ', 'v'],
    ['/lease', 'v', 0x694d7a1b2c3d4e5fn],
    ['/bigid', 'v', 0n, 0xfedcba9876543210n],
    ['/zeroid', 'v', 0n, 0n],
    ['/big', 'x'.repeat(20_000)],
    // block-at-a-time edges (the text scan takes 16 bytes at a time): the odd byte at every
    // position of a block, with a block or less after it, and the range ends
    ...POSITIONS.map((at): [string, Uint8Array] => [`/ctl${at}`, Uint8Array.from([...Buffer.from('x'.repeat(32 + at)), 0x1f, ...Buffer.from('tail')])]),
    ...POSITIONS.map((at): [string, Uint8Array] => [`/nul${at}`, Uint8Array.from([...Buffer.from('x'.repeat(at)), 0x00, ...Buffer.from('x'.repeat(40))])]),
    ...POSITIONS.map((at): [string, Uint8Array] => [`/del${at}`, Uint8Array.from([...Buffer.from('y'.repeat(16 + at)), 0x7f, ...Buffer.from('zz')])]),
    ...POSITIONS.map((at): [string, string] => [`/utf${at}`, 'z'.repeat(20 + at) + 'é' + 'z'.repeat(9)]),
    ...POSITIONS.map((at): [string, Uint8Array] => [`/ff${at}`, Uint8Array.from([...Buffer.from('w'.repeat(at)), 0xff, ...Buffer.from('w'.repeat(31 - at))])]),
    ...[15, 16, 17, 31, 32, 33].map((n): [string, string] => [`/len${n}`, '~'.repeat(n)]),
    ['/edges', ' ~ ~ ~ ~\t\r\n  ~~~~    \t\t\t\t\r\r\r\r\n\n\n\n'],
    // the key check takes four bytes at a time: a quote, a backslash, a control, DEL and a high
    // byte at every position of a word, and keys of every length around a word
    ...[0, 1, 2, 3, 4, 5, 6, 7].flatMap((at): [string, string][] => ['"', '\\', '\x01', '\x7f', '\x1f'].map((c): [string, string] => [`/kq${at}${'k'.repeat(at)}${c}kk`, 'v'])),
    ...[0, 1, 2, 3, 4, 5, 6, 7].map((at): [string, string] => [`/kh${'h'.repeat(at)}é`, 'v']),
    ...[1, 2, 3, 4, 5, 8, 9].map((n): [string, string] => [`/${'n'.repeat(n)}`, 'v']),
    ['/kk', 'kkkkkkkk'], ['/k8', 'k8s'], ['/k8x', 'k8sx and more'], ['/d9', Uint8Array.from([0xd9, 0xd9, 0x41])],
    ['/high', Uint8Array.from([...Buffer.from('abcdefgh'), 0x80, 0x80, 0x80, 0x80])],
  ]
  it('every kind of value and key, committed and not, across chunk boundaries and a frame larger than a chunk', async () => {
    const w = firstSegment()
    let i = 0
    for (const [k, v, lease, id] of puts) w.entry(2, ++i, irrPut(k, v, lease ?? 0n, id ?? BigInt(i)))
    // a put with prev_kv (field 4) and a delete take the general path
    w.entry(2, ++i, msg(pb.bytes(4, msg(pb.bytes(1, '/prev'), pb.bytes(2, 'v'), pb.varint(4, true))), pb.bytes(100, pb.varint(1, 7n))))
    w.entry(2, ++i, msg(pb.bytes(5, msg(pb.bytes(1, '/gone'))), pb.bytes(100, pb.varint(1, 8n))))
    w.entry(2, ++i) // leader no-op
    w.state(2, 1, i - 5) // the last five are beyond the commit
    for (let j = 0; j < 30; j++) w.entry(2, ++i, irrPut(`/tail/${j}`, 'y'.repeat(100)))
    const d = writeWalDir([[0n, 0n, w.cut(8192)]], temps, 'wal-par-')
    for (const chunkBytes of [512, 4096, 1 << 20]) {
      const { r, lines } = await compare(d, { threads: 2, force: true, chunkBytes })
      expect(r.resumedAt).toBeUndefined()
      expect(lines).toBe(i + 1)
      expect(r.result!.summary.uncommitted.count).toBeGreaterThan(0)
    }
    for (const format of FORMATS) expect((await compare(d, { threads: 2, force: true, chunkBytes: 512 }, {}, format)).r.resumedAt).toBeUndefined()
  })
  it('an index of 2^53 or more is left to the reader (exact 64-bit output)', async () => {
    const w = firstSegment()
    const base = 2n ** 53n - 2n
    w.snapshot(base, 1)
    for (let j = 1n; j <= 4n; j++) w.entry(1, base + j, irrPut(`/k${j}`, 'v'))
    w.state(1, 1, base + 4n)
    const { r } = await compare(writeWalDir([[0n, 0n, w.cut(512)]], temps, 'wal-par-'))
    expect(r.resumedAt).toEqual({ segment: 0, skip: 1 })
    expect(r.result!.summary.lastIndex).toBe(base + 4n)
  })
})

describe('wal -w ndjson in parallel: when it steps aside entirely', () => {
  it('options it does not reproduce, a small log without force, one thread without force', async () => {
    const d = allDataDirs()[0]!.dir
    for (const opts of [{ key: '/a' }, { prefix: '/a' }, { startIndex: 1n }, { showValues: true }, { tolerant: true }, { fromSnapshot: true }, { types: ['put'] }] as WalOptions[]) {
      expect(await streamWalParallel(d, opts, SMALL)).toBeNull()
    }
    expect(await streamWalParallel(d, {}, { threads: 2 })).toBeNull()
    expect(await streamWalParallel(d, {}, { threads: 1, chunkBytes: 4096 })).toBeNull()
  })
})

describe('wal in parallel: the thread choice', () => {
  it('workers for many small entries; for a few thousand big values only with the native addon (bench/wal.mjs wal6 and walbig)', () => {
    for (const native of [false, true]) {
      // wal6: 386 MB of records, ~350 bytes each; walbig: 307 MB, ~100 KB each
      expect(workersPayOff(386e6, { records: 1000, bytes: 350_000 }, 2, native)).toBe(true)
      // big values go to the workers once there are enough of them to outweigh starting them
      expect(workersPayOff(3e9, { records: 10, bytes: 1_000_000 }, 2, native)).toBe(true)
      expect(workersPayOff(20e6, { records: 10, bytes: 1_000_000 }, 2, native)).toBe(false)
      // nothing known about the records: the workers, as before
      expect(workersPayOff(386e6, { records: 0, bytes: 0 }, 2, native)).toBe(true)
    }
    // walbig: one thread in JS (1.31 vs 1.53 s); the workers with the addon's CRC batches (0.81-0.91 vs 1.26-1.87 s)
    expect(workersPayOff(307e6, { records: 10, bytes: 1_000_000 }, 2, false)).toBe(false)
    expect(workersPayOff(307e6, { records: 10, bytes: 1_000_000 }, 2, true)).toBe(true)
  })
})
