/**
 * `wal verify` has two engines: the tight CRC scan (io/wal-scan.ts) for regular logs and the WAL
 * library's reader for everything else. The scan may only answer when its answer is the reader's:
 * on every real fixture it must answer and agree exactly; on every damaged or irregular log it must
 * step aside, and `verifyWal` must then return exactly what the reader returns.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { cpSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { verifyByScan, verifyWal } from '../../src/app/wal.js'
import { walName } from '../../src/format/wal/segment-name.js'
import { allDataDirs, extractMultiseg, materialize } from '../support/fixtures.js'
import { firstSegment, irrPut, lastFrameOffset, WalWriter, writeWalDir } from '../support/wal-writer.js'

const temps: string[] = []
afterAll(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })))

const walDir = (segs: [bigint, bigint, Uint8Array][]): string => writeWalDir(segs, temps, 'wal-verify-')

/** A private copy of the multi-segment fixture (>= 2 full segments, real etcd). */
function multisegCopy(): { dir: string; wal: string; segs: string[] } {
  const src = extractMultiseg({ shared: true }).dataDir
  const dir = mkdtempSync(join(tmpdir(), 'wal-verify-ms-'))
  temps.push(dir)
  cpSync(src, dir, { recursive: true })
  const wal = join(dir, 'member/wal')
  return { dir, wal, segs: readdirSync(wal).filter((n) => n.endsWith('.wal')).sort() }
}

function patch(file: string, at: number, f: (b: number) => number): void {
  const b = readFileSync(file)
  b[at] = f(b[at]!)
  writeFileSync(file, b)
}

/** The reader's answer; the scan must have stepped aside and verifyWal must give the same. */
function expectReaderOnly(dir: string) {
  expect(verifyByScan(dir, {})).toBeNull()
  const reader = verifyWal(dir, { engine: 'reader' })
  expect(verifyWal(dir)).toEqual(reader)
  return reader
}

describe('wal verify: the scan answers for regular logs, exactly as the reader', () => {
  for (const d of allDataDirs()) {
    it(`${d.fixture}/${d.key}`, () => {
      const scan = verifyByScan(d.dir, {})
      expect(scan).not.toBeNull()
      expect(scan).toEqual(verifyWal(d.dir, { engine: 'reader' }))
      expect(scan!.verdict).toBe('clean')
    })
  }
  it('multiseg (full-size segments, chain across them)', () => {
    const m = extractMultiseg({ shared: true })
    const scan = verifyByScan(m.dataDir, {})
    expect(scan).not.toBeNull()
    expect(scan!.segments.length).toBeGreaterThanOrEqual(2)
    expect(scan).toEqual(verifyWal(m.dataDir, { engine: 'reader' }))
  })
  it('single, full-size preallocated segment (zero tail)', () => {
    const m = materialize('single', { fullSize: true })
    temps.push(m.root)
    const scan = verifyByScan(m.dataDir, {})
    expect(scan).not.toBeNull()
    expect(scan!.segments.at(-1)!.end).toBe('zero-tail')
    expect(scan).toEqual(verifyWal(m.dataDir, { engine: 'reader' }))
  })
})

describe('wal verify: the scan steps aside for damaged or irregular logs', () => {
  it('a flipped payload byte in an earlier segment: corrupt', () => {
    const m = multisegCopy()
    const f = join(m.wal, m.segs[0]!)
    patch(f, 40_000, (b) => b ^ 0x01)
    const r = expectReaderOnly(m.dir)
    expect(r.verdict).toBe('corrupt')
    expect(r.findings.some((x) => x.code === 'crc-mismatch' || x.code === 'bad-protobuf' || x.code === 'truncated-segment')).toBe(true)
  })
  it('the last segment cut inside a frame: torn tail', () => {
    const m = multisegCopy()
    const last = join(m.wal, m.segs.at(-1)!)
    const v = verifyWal(m.dir)
    const end = v.segments.at(-1)!.lastValidOffset!
    truncateSync(last, end - 7)
    const r = expectReaderOnly(m.dir)
    expect(r.verdict).toBe('torn-tail')
  })
  it('a missing middle segment (seq gap)', () => {
    const m = multisegCopy()
    if (m.segs.length < 3) {
      // two segments: drop the first instead, which leaves a log that starts mid-chain (regular)
      renameSync(join(m.wal, m.segs[0]!), join(m.dir, 'aside.wal'))
      expect(verifyByScan(m.dir, {})).toEqual(verifyWal(m.dir, { engine: 'reader' }))
      return
    }
    renameSync(join(m.wal, m.segs[1]!), join(m.dir, 'aside.wal'))
    expect(expectReaderOnly(m.dir).verdict).toBe('corrupt')
  })
  it('a chain break between segments (the next CRC record carries another value)', () => {
    const a = firstSegment()
    a.entry(1, 1, irrPut('a', '1')).state(1, 1, 1)
    const s0 = a.cut()
    const b = firstSegment(new WalWriter())
    b.entry(1, 1, irrPut('x', 'other history')).state(1, 1, 1)
    b.cut()
    b.crcRecord().metadata().state(1, 1, 1).entry(1, 2, irrPut('b', '2'))
    const d = walDir([[0n, 0n, s0], [1n, 2n, b.cut(1024)]])
    const r = expectReaderOnly(d)
    expect(r.findings.map((f) => f.code)).toContain('crc-chain-break')
  })
  it('metadata that differs between segments', () => {
    const w = firstSegment()
    w.entry(1, 1).state(1, 1, 1)
    const s0 = w.cut()
    w.crcRecord().metadata(0x1234n, 0x5678n).state(1, 1, 1).entry(1, 2)
    const d = walDir([[0n, 0n, s0], [1n, 2n, w.cut(512)]])
    expect(expectReaderOnly(d).findings.map((f) => f.code)).toContain('metadata-conflict')
  })
  it('entries a new leader overwrote', () => {
    const w = firstSegment()
    w.entry(1, 1).entry(1, 2).entry(1, 3).state(1, 1, 1)
    w.entry(2, 2).state(2, 1, 2)
    const r = expectReaderOnly(walDir([[0n, 0n, w.cut(512)]]))
    expect(r.verdict).toBe('clean')
  })
  it('a segment name that disagrees with its entries', () => {
    const w = firstSegment()
    w.entry(1, 1).entry(1, 2).state(1, 1, 2)
    const s0 = w.cut()
    w.crcRecord().metadata().state(1, 1, 2).entry(1, 3)
    const r = expectReaderOnly(walDir([[0n, 0n, s0], [1n, 7n, w.cut(512)]]))
    expect(r.findings.map((f) => f.code)).toEqual(['index-discontinuity'])
  })
  it('a zero tail in a segment that is not the last', () => {
    const w = firstSegment()
    w.entry(1, 1).state(1, 1, 1)
    const s0 = w.cut(64)
    w.crcRecord().metadata().state(1, 1, 1).entry(1, 2)
    const r = expectReaderOnly(walDir([[0n, 0n, s0], [1n, 2n, w.cut(512)]]))
    expect(r.findings.map((f) => f.code)).toContain('zero-tail-before-last')
  })
  it('a flipped stored CRC of the last record', () => {
    const w = firstSegment()
    w.entry(1, 1, irrPut('a', '1')).state(1, 1, 1).entry(1, 2, irrPut('b', '2'))
    const seg = w.cut()
    const d = walDir([[0n, 0n, seg]])
    const f = join(d, 'member/wal', walName(0n, 0n))
    const b = readFileSync(f)
    // the last frame's stored CRC varint follows 08 02 10
    b[lastFrameOffset(b) + 8 + 3] ^= 0x01
    writeFileSync(f, b)
    const r = expectReaderOnly(d)
    expect(r.verdict).not.toBe('clean')
  })
})
