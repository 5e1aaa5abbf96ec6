import { describe, expect, it } from 'vitest'
import { decodeWal, type DecodeWalOptions, type WalEvent, type WalFinding } from '../../src/format/wal/decoder.js'
import { WalWriter, firstSegment, irrPut, memSource, frame, record } from '../support/wal-writer.js'

function run(segs: Uint8Array[], opts: DecodeWalOptions = {}) {
  const sources = segs.map((b, i) => ({ file: `s${i}.wal`, source: memSource(b) }))
  const events: WalEvent[] = []
  for (const e of decodeWal(sources, opts)) events.push(e.kind === 'record' ? { ...e, data: e.data.slice() } : e)
  const findings: WalFinding[] = events.filter((e) => e.kind === 'finding').map((e) => (e as { finding: WalFinding }).finding)
  const end = events.at(-1) as Extract<WalEvent, { kind: 'end' }>
  return { events, findings, end, sources, records: events.filter((e) => e.kind === 'record').length }
}

/** A segment whose 4th frame (index 3) is a ~1.5 KiB entry spanning sector boundaries. */
function build() {
  const w = firstSegment()
  w.entry(1, 1, irrPut('a', '1'))
  w.entry(1, 2, irrPut('big', 'B'.repeat(1500)))
  w.entry(1, 3, irrPut('c', '3'))
  w.state(1, 1, 3)
  const offs = [...w.offsets]
  const seg = w.cut()
  const next = w.crcRecord().metadata().state(1, 1, 3).entry(1, 4, irrPut('d', '4')).cut(1024)
  return { seg, offs, next }
}

describe('truncation at every byte of a frame', () => {
  it('last segment: torn tail inside a frame, clean at frame boundaries', () => {
    const { seg, offs } = build()
    const start = offs[3]!
    const stop = offs[4]!
    for (let cut = start; cut <= stop; cut++) {
      const r = run([seg.subarray(0, cut)])
      if (cut === start || cut === stop) {
        expect(r.end.status, `cut ${cut}`).toBe('clean')
        expect(r.findings, `cut ${cut}`).toEqual([])
      } else {
        expect(r.end.status, `cut ${cut}`).toBe('torn-tail')
        expect(r.findings.map((f) => [f.code, f.offset]), `cut ${cut}`).toEqual([['torn-tail', start]])
        expect(r.end.lastValid).toEqual({ file: 's0.wal', offset: start })
      }
    }
  })
  it('earlier segment: corruption (etcd would silently drop the later segments)', () => {
    const { seg, offs, next } = build()
    for (const cut of [offs[4]! + 1, offs[4]! + 7, offs[4]! + 8, offs[4]! + 100, offs[5]! - 1]) {
      const r = run([seg.subarray(0, cut), next])
      expect(r.end.status, `cut ${cut}`).toBe('corrupt')
      expect(r.findings[0], `cut ${cut}`).toMatchObject({ severity: 'error', code: 'truncated-segment', file: 's0.wal', offset: offs[4] })
      expect(r.findings[0]!.hint).toMatch(/replace this member/)
    }
  })
})

describe('damaged bytes', () => {
  it('a zeroed 512-byte sector mid-record: torn in the last segment, CRC corruption before it', () => {
    const { seg, offs, next } = build()
    const bad = seg.slice()
    const sector = Math.ceil((offs[4]! + 16) / 512) * 512
    expect(sector + 512).toBeLessThan(offs[5]!)
    bad.fill(0, sector, sector + 512)
    const last = run([bad])
    expect(last.end.status).toBe('torn-tail')
    expect(last.findings.map((f) => [f.code, f.offset])).toEqual([['torn-tail', offs[4]]])
    const earlier = run([bad, next])
    expect(earlier.end.status).toBe('corrupt')
    expect(earlier.findings[0]).toMatchObject({ code: 'crc-mismatch', file: 's0.wal', offset: offs[4] })
  })
  it('a flipped payload byte: crc-mismatch with expected and computed, file and offset', () => {
    const { seg, offs } = build()
    const bad = seg.slice()
    bad[offs[4]! + 200]! ^= 0x01
    const r = run([bad])
    expect(r.end.status).toBe('corrupt')
    const f = r.findings[0]!
    expect(f).toMatchObject({ severity: 'error', code: 'crc-mismatch', file: 's0.wal', offset: offs[4] })
    expect(f.detail).toBe(`wal: crc mismatch: expected ${f.expected} computed ${f.computed}`)
    expect(f.expected).not.toBe(f.computed)
  })
  it('a flipped byte of the stored CRC', () => {
    const { seg, offs } = build()
    const bad = seg.slice()
    // record = 08 02 10 <crc varint...>: flip the low bits of the first CRC byte
    expect(bad[offs[4]! + 10]).toBe(0x10)
    bad[offs[4]! + 11]! ^= 0x02
    const r = run([bad])
    expect(r.findings[0]).toMatchObject({ code: 'crc-mismatch', offset: offs[4] })
    expect(r.end.status).toBe('corrupt')
  })
  it('a huge length word allocates nothing beyond the file and is torn only in the last segment', () => {
    const { seg, offs, next } = build()
    const bad = seg.slice()
    new DataView(bad.buffer).setBigUint64(offs[4]!, 0x00ff_ffff_ffff_fff0n, true)
    const src = memSource(bad)
    const evs = [...decodeWal([{ file: 'x.wal', source: src }], { chunkBytes: 1024 })]
    expect(src.maxRead).toBeLessThanOrEqual(1024)
    const f = evs.find((e) => e.kind === 'finding') as { finding: WalFinding }
    expect(f.finding).toMatchObject({ code: 'torn-tail', offset: offs[4] })
    expect(f.finding.detail).toMatch(/runs past the end of the file/)
    const r = run([bad, next])
    expect(r.findings[0]).toMatchObject({ code: 'truncated-segment', offset: offs[4] })
  })
  it('garbage protobuf inside an intact frame', () => {
    const w = firstSegment()
    w.raw(frame(Uint8Array.from([0x0f, 0xff, 0xff, 0x01])))
    const at = w.offsets[3]!
    const r = run([w.cut(64)])
    expect(r.findings[0]).toMatchObject({ severity: 'error', code: 'bad-protobuf', offset: at })
    expect(r.findings[0]!.detail).toMatch(/^wal: record at \d+ is not a walpb.Record: protobuf: illegal wire type 7/)
  })
  it('a segment without its CRC record', () => {
    const w = firstSegment()
    w.entry(1, 1)
    const s0 = w.cut()
    w.metadata().entry(1, 2)
    const r = run([s0, w.cut()])
    expect(r.findings.map((f) => [f.code, f.file, f.offset])).toEqual([['missing-crc-record', 's1.wal', 0]])
    expect(r.end.status).toBe('corrupt')
  })
  it('a non-WAL file named like a segment is not a torn tail', () => {
    const text = new TextEncoder().encode('this is not a WAL segment, just some notes\n')
    const r = run([text])
    expect(r.end.status).toBe('corrupt')
    expect(r.findings[0]).toMatchObject({ code: 'bad-frame', offset: 0 })
    expect(r.findings[0]!.detail).toMatch(/this file is not a WAL segment/)
  })
  it('an all-zero segment is reported, not silently accepted', () => {
    const r = run([new Uint8Array(4096)])
    expect(r.findings.map((f) => f.code)).toEqual(['empty-segment'])
  })
  it('an unknown record type after a valid CRC', () => {
    const w = firstSegment()
    w.add(9, Uint8Array.from([1, 2, 3]))
    const at = w.offsets[3]!
    const r = run([w.cut(64)])
    expect(r.findings[0]).toMatchObject({ code: 'unknown-record-type', offset: at })
  })
})

describe('--tolerant', () => {
  it('keeps going and reports every damaged record once', () => {
    const w = firstSegment()
    for (let i = 1; i <= 10; i++) w.entry(1, i, irrPut(`k${i}`, `v${i}`))
    const offs = [...w.offsets]
    const seg = w.cut(512)
    const bad = seg.slice()
    bad[offs[4]! + 20]! ^= 0x40
    bad[offs[8]! + 20]! ^= 0x40
    const strict = run([bad])
    expect(strict.findings.map((f) => f.offset)).toEqual([offs[4]])
    const tol = run([bad], { tolerant: true })
    expect(tol.findings.map((f) => [f.code, f.offset])).toEqual([['crc-mismatch', offs[4]], ['crc-mismatch', offs[8]]])
    expect(tol.records).toBe(13)
    expect(tol.end.status).toBe('corrupt')
  })
  it('skips the rest of a cut-short earlier segment and checks the chain at the next', () => {
    const { seg, offs, next } = build()
    const r = run([seg.subarray(0, offs[3]! + 30), next], { tolerant: true })
    expect(r.findings.map((f) => f.code)).toEqual(['truncated-segment', 'crc-chain-break'])
  })
})

describe('sanity of the builder', () => {
  it('records are what etcd writes', () => {
    expect([...record(4, 0)]).toEqual([0x08, 0x04, 0x10, 0x00])
    expect(new WalWriter().crc).toBe(0)
  })
})
