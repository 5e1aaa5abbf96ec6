import { describe, expect, it } from 'vitest'
import { decodeWal, type DecodeWalOptions, type WalEvent, type WalFinding, type WalRecordEvent } from '../../src/format/wal/decoder.js'
import { readLog } from '../../src/format/wal/log.js'
import { firstSegment, irrPut, memSource, concat } from '../support/wal-writer.js'

function run(segs: Uint8Array[], opts: DecodeWalOptions = {}) {
  const sources = segs.map((b, i) => ({ file: `s${i}.wal`, source: memSource(b) }))
  // Record data views the reader's reused buffer: copy it while iterating (the documented contract).
  const events: WalEvent[] = []
  for (const e of decodeWal(sources, opts)) events.push(e.kind === 'record' ? { ...e, data: e.data.slice() } : e)
  const findings = events.filter((e) => e.kind === 'finding').map((e) => (e as { finding: WalFinding }).finding)
  const records = events.filter((e): e is WalRecordEvent => e.kind === 'record')
  const end = events.at(-1) as Extract<WalEvent, { kind: 'end' }>
  return { events, findings, records, end, sources }
}

/** Three segments with the chain carried across, like a real WAL after two cuts. */
function threeSegments() {
  const w = firstSegment()
  let idx = 1
  for (let i = 0; i < 20; i++) w.entry(2, idx++, irrPut(`k${i}`, `value-${i}`))
  w.state(2, 1, idx - 1)
  const s0 = w.cut()
  w.crcRecord().metadata().state(2, 1, idx - 1)
  for (let i = 0; i < 20; i++) w.entry(2, idx++, irrPut(`k${i}`, 'x'.repeat(i * 7)))
  const s1 = w.cut()
  w.crcRecord().metadata().state(2, 1, idx - 1)
  for (let i = 0; i < 5; i++) w.entry(3, idx++, irrPut(`z${i}`, 'y'))
  w.state(3, 1, idx - 1)
  const s2 = w.cut(4096)
  return { s0, s1, s2, lastIndex: idx - 1, crc: w.crc }
}

describe('decodeWal: the chain', () => {
  it('checks every CRC record across segments and ends cleanly at the zero tail', () => {
    const { s0, s1, s2, crc } = threeSegments()
    const r = run([s0, s1, s2])
    expect(r.findings).toEqual([])
    expect(r.end.status).toBe('clean')
    expect(r.end.crc).toBe(crc)
    const crcRecs = r.records.filter((x) => x.type === 4)
    expect(crcRecs.map((x) => x.status)).toEqual(['adopted', 'ok', 'ok'])
    const ends = r.events.filter((e) => e.kind === 'segment-end').map((e) => (e as { end: string }).end)
    expect(ends).toEqual(['eof', 'eof', 'zero-tail'])
  })
  it('a reader starting at a later segment adopts its first CRC record and checks the next', () => {
    const { s1, s2 } = threeSegments()
    const r = run([s1, s2])
    expect(r.findings).toEqual([])
    const crcRecs = r.records.filter((x) => x.type === 4)
    expect(crcRecs[0]!.status).toBe('adopted')
    expect(crcRecs[0]!.storedCrc).not.toBe(0)
    expect(crcRecs[1]!.status).toBe('ok')
  })
  it('a lost record in a non-last segment breaks the chain at the next CRC record', () => {
    const w = firstSegment()
    w.entry(1, 1, irrPut('a', '1')).entry(1, 2, irrPut('b', '2'))
    const offs = [...w.offsets]
    const s0full = w.cut()
    w.crcRecord().metadata().entry(1, 3, irrPut('c', '3'))
    const s1 = w.cut(64)
    const s0 = s0full.subarray(0, offs[4]!) // drop the last entry record: frames stay intact
    const r = run([s0, s1])
    expect(r.findings.map((f) => [f.code, f.file, f.offset])).toEqual([['crc-chain-break', 's1.wal', 0]])
    expect(r.findings[0]!.expected).toMatch(/^[0-9a-f]{8}$/)
    expect(r.findings[0]!.expected).not.toBe(r.findings[0]!.computed)
    expect(r.end.status).toBe('corrupt')
  })
  it('splitting the stream at any chunk size gives the same records', () => {
    const { s0, s1, s2 } = threeSegments()
    const ref = run([s0, s1, s2]).records.map((x) => [x.offset, x.type, x.storedCrc, Buffer.from(x.data).toString('hex')])
    for (let chunk = 64; chunk <= 700; chunk++) {
      const got: unknown[] = []
      for (const e of decodeWal([s0, s1, s2].map((b, i) => ({ file: `s${i}.wal`, source: memSource(b) })), { chunkBytes: chunk })) {
        // data views the reused buffer: consume it before the next iteration, as the contract says
        if (e.kind === 'record') got.push([e.offset, e.type, e.storedCrc, Buffer.from(e.data).toString('hex')])
        if (e.kind === 'finding') got.push(e.finding)
      }
      expect(got, `chunk ${chunk}`).toEqual(ref)
    }
  })
  it('frames larger than the chunk are read whole, with a buffer bounded by the frame', () => {
    const w = firstSegment()
    w.entry(1, 1, irrPut('big', 'v'.repeat(10_000)))
    const seg = w.cut(512)
    const src = memSource(seg)
    const evs = [...decodeWal([{ file: 'a.wal', source: src }], { chunkBytes: 256 })]
    expect(evs.filter((e) => e.kind === 'finding')).toEqual([])
    expect(src.maxRead).toBeLessThanOrEqual(seg.length)
    expect(evs.filter((e) => e.kind === 'record')).toHaveLength(4)
  })
})

describe('readLog: what ReadAll makes of it', () => {
  it('collects metadata, the last HardState, snapshots, and flags what a later entry replaced', () => {
    const w = firstSegment()
    w.entry(1, 1, irrPut('a', '1')).entry(1, 2, irrPut('b', '2')).state(1, 1, 1)
    w.entry(1, 3, irrPut('c', '3')).entry(1, 4, irrPut('d', '4'))
    // new leader at term 2 overwrites the uncommitted 3 and 4
    w.entry(2, 3, irrPut('c2', '3')).state(2, 2, 3).snapshot(3, 2, [1])
    const seg = w.cut(1024)
    const { state, items } = readLog([{ file: 'x.wal', source: memSource(seg) }])
    const entries = [...items].filter((i) => i.kind === 'entry').map((i) => (i as { entry: { index: bigint; term: bigint; replaces?: unknown[] } }).entry)
    expect(entries.map((e) => [e.index, e.term])).toEqual([[1n, 1n], [2n, 1n], [3n, 1n], [4n, 1n], [3n, 2n]])
    expect(entries[4]!.replaces).toMatchObject([{ index: 3n, term: 1n }, { index: 4n, term: 1n }])
    expect(state.replacedCount).toBe(2)
    expect(state.hardState).toEqual({ term: 2n, vote: 2n, commit: 3n })
    expect(state.metadata).toMatchObject({ nodeIdHex: '2f7fbfd36802ff7a', clusterIdHex: '4f0a3b9d2c6e1f85', nodeId: 0x2f7fbfd36802ff7an })
    expect(state.snapshots.map((s) => [s.index, s.term, s.confState?.voters])).toEqual([[0n, 0n, undefined], [3n, 2n, [1n]]])
    expect(state.findings).toEqual([])
  })
  it('reports an overwrite at or below the persisted commit and index gaps', () => {
    const w = firstSegment()
    w.entry(1, 1).entry(1, 2).state(1, 1, 2).entry(2, 2).entry(2, 5)
    const { state, items } = readLog([{ file: 'x.wal', source: memSource(w.cut()) }])
    ;[...items]
    expect(state.findings.map((f) => [f.code, f.index])).toEqual([['overwrite-below-commit', 2n], ['index-gap', 5n]])
  })
  it('reports metadata that differs between segments', () => {
    const w = firstSegment()
    w.entry(1, 1)
    const s0 = w.cut()
    w.crcRecord().metadata(0x1234n, 0x4f0a3b9d2c6e1f85n).entry(1, 2)
    const s1 = w.cut()
    const { state, items } = readLog([{ file: 'a.wal', source: memSource(s0) }, { file: 'b.wal', source: memSource(s1) }])
    ;[...items]
    expect(state.findings).toHaveLength(1)
    expect(state.findings[0]).toMatchObject({ severity: 'error', code: 'metadata-conflict', file: 'b.wal', offset: 16 })
    expect(state.findings[0]!.detail).toBe('wal: conflicting metadata found: member 1234 cluster 4f0a3b9d2c6e1f85, but a.wal says member 2f7fbfd36802ff7a cluster 4f0a3b9d2c6e1f85')
  })
  it('concat helper sanity: segments are multiples of 8', () => {
    const { s0, s1 } = threeSegments()
    expect(concat([s0, s1]).length % 8).toBe(0)
  })
})
