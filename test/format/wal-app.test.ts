/** runWal/readWalSummary on hand-built segments written to a temp dir. */
import { afterAll, describe, expect, it } from 'vitest'
import { rmSync } from 'node:fs'
import { runWal, readWalSummary } from '../../src/app/wal.js'
import { firstSegment, irrPut, confChange, writeWalDir } from '../support/wal-writer.js'

const temps: string[] = []
afterAll(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })))

const walDir = (segs: [bigint, bigint, Uint8Array][]): string => writeWalDir(segs, temps, 'wal-app-')

describe('runWal on hand-built logs', () => {
  it('flags entries beyond the HardState commit and what a new leader replaced', () => {
    const w = firstSegment()
    w.entry(1, 1, confChange(0, 0x2f7fbfd36802ff7an, '{"id":3422665156528897914,"peerURLs":["http://127.0.0.1:2380"],"name":"m1"}'), 1)
    w.entry(2, 2).entry(2, 3, irrPut('a', '1')).state(2, 1, 3)
    w.entry(2, 4, irrPut('b', '2')).entry(2, 5, irrPut('c', '3')).state(2, 1, 3)
    w.entry(3, 4, irrPut('b', 'new')).state(3, 1, 4)
    w.snapshot(3, 2, [0x2f7fbfd36802ff7an])
    w.entry(3, 5, irrPut('d', '4'))
    const d = walDir([[0n, 0n, w.cut(4096)]])
    const r = runWal(d)
    expect(r.entries.map((e) => [e.index, e.term, e.committed, e.replaced ?? false])).toEqual([
      [1n, 1n, true, false], [2n, 2n, true, false], [3n, 2n, true, false],
      [4n, 2n, false, true], [5n, 2n, false, true], [4n, 3n, true, false], [5n, 3n, false, false],
    ])
    expect(r.entries[5]!.replaces!.map((x) => [x.index, x.term])).toEqual([[4n, 2n], [5n, 2n]])
    expect(r.summary.uncommitted).toEqual({ count: 2, from: 5n, to: 5n })
    expect(r.summary.replaced).toBe(2)
    expect(r.hardState).toEqual({ term: 3n, vote: '1', commit: 4n })
    expect(r.memberId).toBe('2f7fbfd36802ff7a')
    const fs = runWal(d, { fromSnapshot: true })
    expect(fs.fromSnapshot).toEqual({ index: 3n, term: 2n })
    expect(fs.entries.map((e) => e.index)).toEqual([4n, 5n, 4n, 5n])
    const s = readWalSummary(d)
    expect(s.confChanges).toMatchObject([{ index: 1n, type: 'ConfChangeAddNode', nodeIdHex: '2f7fbfd36802ff7a', name: 'm1', committed: true }])
    expect(s.snapshots.at(-1)).toMatchObject({ index: 3n, term: 2n, confState: { voters: [0x2f7fbfd36802ff7an] } })
  })
  it('reports segment names that do not match the entries (index discontinuity)', () => {
    const w = firstSegment()
    w.entry(1, 1).entry(1, 2).state(1, 1, 2)
    const s0 = w.cut()
    w.crcRecord().metadata().state(1, 1, 2).entry(1, 3)
    const s1 = w.cut(512)
    const d = walDir([[0n, 0n, s0], [1n, 7n, s1]])
    const s = readWalSummary(d)
    expect(s.findings.map((f) => [f.code, f.severity])).toEqual([['index-discontinuity', 'warning']])
    expect(s.findings[0]!.detail).toBe('wal: segment name says first index 7 but the previous segments end at index 2')
    expect(s.end).toBe('clean')
  })
  it('filters by key inside txns and by member', () => {
    const put = (k: string) => [0x12, ...(() => { const b = [0x0a, k.length, ...Buffer.from(k), 0x12, 1, 0x76]; return [b.length, ...b] })()]
    const txn = [0x32, ...(() => {
      const cmp = [0x0a, 9, 0x10, 0x02, 0x1a, 5, ...Buffer.from('guard')]
      const ops = [0x12, put('inner').length, ...put('inner')]
      const body = [...cmp, ...ops]
      return [body.length, ...body]
    })()]
    const w = firstSegment()
    w.entry(1, 1, irrPut('outer', 'v')).entry(1, 2, txn).entry(1, 3, confChange(1, 5n), 1).entry(1, 4, confChange(1, 6n), 1).state(1, 1, 4)
    const d = walDir([[0n, 0n, w.cut(512)]])
    expect(runWal(d, { key: 'inner' }).entries.map((e) => e.index)).toEqual([2n])
    expect(runWal(d, { key: 'guard' }).entries.map((e) => e.index)).toEqual([2n])
    expect(runWal(d, { prefix: 'out' }).entries.map((e) => e.index)).toEqual([1n])
    expect(runWal(d, { member: 6n }).entries.map((e) => e.index)).toEqual([4n])
    expect(runWal(d, { types: ['txn', 'conf'] }).entries.map((e) => e.index)).toEqual([2n, 3n, 4n])
    expect(runWal(d, { startIndex: 2n, endIndex: 3n }).entries.map((e) => e.index)).toEqual([2n, 3n])
  })
})
