import { describe, expect, it } from 'vitest'
import { analyzeSnapshots, decodeSnapFile, walCoverage, type SnapFileResult } from '../../src/app/snap.js'
import type { WalFacts, WalSegmentName } from '../../src/app/sources.js'
import type { SnapDirEntry } from '../../src/io/snap-dir.js'
import { classifySnapName } from '../../src/io/snap-dir.js'
import { raftSnapshot, snapFile, v2StoreJson } from './snap-bytes.js'
import { defaultSnapshotCount, SNAPSHOT_COUNT_DEFAULTS } from '../../src/format/snap/snapshot-count.js'

const hex16 = (v: bigint): string => v.toString(16).padStart(16, '0')
const name = (term: bigint, index: bigint): string => `${hex16(term)}-${hex16(index)}.snap`
const seg = (seq: bigint, index: bigint): WalSegmentName => ({ name: `${hex16(seq)}-${hex16(index)}.wal`, seq, index, size: 64_000_000 })

function snapOf(term: bigint, index: bigint, crc?: number, version: string | undefined = '3.4.0'): { entry: SnapDirEntry; decoded: SnapFileResult } {
  const n = name(term, index)
  const bytes = snapFile(raftSnapshot({ term, index, voters: [1n], data: v2StoreJson(version ? { version } : {}) }), crc)
  return { entry: { name: n, kind: 'snap', size: bytes.length, mtimeMs: 0, term, index }, decoded: decodeSnapFile(n, bytes) }
}

function wal(over: Partial<WalFacts>): WalFacts {
  return {
    walDir: '/x/member/wal', segments: [], metadata: { nodeId: 1n, clusterId: 2n }, hardState: { term: 2n, vote: 1n, commit: 100n },
    firstIndex: 1n, lastIndex: 100n, snapshots: [{ index: 0n, term: 0n }], confChanges: [], end: { status: 'ok' }, ...over,
  }
}

function analyze(files: { entry: SnapDirEntry; decoded: SnapFileResult }[], w: WalFacts | null, segments: WalSegmentName[] | null, extra: SnapDirEntry[] = [], count?: bigint) {
  return analyzeSnapshots({
    path: '/x', snapDir: '/x/member/snap', entries: [...files.map((f) => f.entry), ...extra],
    decoded: new Map(files.map((f) => [f.entry.name, f.decoded])), wal: w, walSegments: segments, walDetail: w ? 'read' : 'WAL not read', walDir: '/x/member/wal',
    snapshotCount: count,
  })
}

describe('snap analysis: cadence, WAL records, newest usable, coverage', () => {
  it('cadence from files and WAL records, next snapshot prediction', () => {
    const files = [snapOf(2n, 21n), snapOf(2n, 42n), snapOf(2n, 63n)]
    const w = wal({ snapshots: [{ index: 0n, term: 0n }, { index: 21n, term: 2n }, { index: 42n, term: 2n }, { index: 63n, term: 2n }, { index: 84n, term: 2n }], lastIndex: 90n })
    const r = analyze(files, w, [seg(0n, 0n)], [], 20n)
    expect(r.cadence.points.map((p) => [p.index, p.distance, p.sources.join('+')])).toEqual([
      [21n, null, 'file+wal'], [42n, 21n, 'file+wal'], [63n, 21n, 'file+wal'], [84n, 21n, 'wal'],
    ])
    expect(r.cadence.expectedDistance).toBe(21n)
    expect(r.cadence.consistentWithCount).toBe(true)
    expect(r.cadence.inferredSnapshotCount).toBe(20n)
    expect(r.cadence.nextSnapshotAt).toBe(105n)
    expect(r.cadence.entriesUntilNext).toBe(15n)
    expect(r.wal.recordsWithoutFile).toBe(1)
    expect(r.wal.records.find((x) => x.index === 84n)?.file).toBeNull()
    expect(r.snapshots.every((s) => s.walRecord === 'match')).toBe(true)
    expect(r.wal.newestUsable).toEqual({ file: name(2n, 63n), index: 63n, term: 2n })
    expect(r.wal.coverage.covered).toBe(true)
  })
  it('the snapshot count is the default of the version the .snap names, and a cadence finding when snapshots are closer', () => {
    const r = analyze([snapOf(2n, 21n), snapOf(2n, 42n)], null, null)
    expect(r.cadence.snapshotCount).toBe(100_000n)
    expect(r.cadence.snapshotCountSource).toBe('version')
    expect(r.cadence.snapshotCountVersion).toBe('3.4.0')
    expect(r.cadence.defaults).toEqual(SNAPSHOT_COUNT_DEFAULTS)
    expect(r.cadence.observedDistance).toBe(21n)
    expect(r.cadence.consistentWithCount).toBe(false)
    expect(r.findings.map((f) => f.code)).toContain('cadence-below-count')
    expect(r.wal.newestUsable).toBeNull()
    expect(r.wal.newestUsableDetail).toMatch(/^unknown: /)
    // One table for every version (the case: two 3.5 .snap files 100,001 apart).
    for (const [v, count] of [['2.3.0', 10_000n], ['3.1.0', 10_000n], ['3.2.0', 100_000n], ['3.5.0', 100_000n], ['3.6.0', 10_000n]] as const) {
      const x = analyze([snapOf(2n, 1_100_023n, undefined, v), snapOf(2n, 1_200_024n, undefined, v)], null, null)
      expect({ v, count: x.cadence.snapshotCount, src: x.cadence.snapshotCountSource }).toEqual({ v, count, src: 'version' })
      expect(x.cadence.observedDistance).toBe(100_001n)
      expect(x.cadence.nextSnapshotAt).toBe(1_200_024n + count + 1n)
    }
    // No version anywhere: etcd 3.4/3.5's default, said to be assumed.
    const none = analyze([snapOf(2n, 21n, undefined, '')], null, null)
    expect(none.cadence).toMatchObject({ snapshotCount: 100_000n, snapshotCountSource: 'default', snapshotCountVersion: null })
    expect(defaultSnapshotCount('3.5')?.snapshotCount).toBe(100_000n)
    expect(defaultSnapshotCount('garbage')).toBeNull()
  })
  it('newest usable skips a file with a bad CRC, a file without a WAL record, and a record beyond commit', () => {
    const files = [snapOf(2n, 21n), snapOf(2n, 42n), snapOf(2n, 63n, 12345), snapOf(3n, 84n), snapOf(3n, 105n)]
    const w = wal({
      hardState: { term: 3n, vote: 1n, commit: 100n },
      snapshots: [{ index: 0n, term: 0n }, { index: 21n, term: 2n }, { index: 42n, term: 2n }, { index: 63n, term: 2n }, { index: 105n, term: 3n }],
    })
    const r = analyze(files, w, [seg(0n, 0n), seg(1n, 30n)], [], 20n)
    expect(r.snapshots.map((s) => [s.file.slice(-9), s.status, s.walRecord])).toEqual([
      ['0015.snap', 'ok', 'match'], ['002a.snap', 'ok', 'match'], ['003f.snap', 'crc-mismatch', 'unknown'], ['0054.snap', 'ok', 'none'], ['0069.snap', 'ok', 'match'],
    ])
    // 105 > commit 100: not valid; 84 has no record; 63 is broken: etcd boots from 42.
    expect(r.wal.newestUsable?.index).toBe(42n)
    expect(r.wal.records.find((x) => x.index === 105n)?.valid).toBe(false)
    expect(r.wal.filesWithoutRecord).toEqual([name(3n, 84n)])
    expect(r.wal.coverage).toMatchObject({ fromIndex: 42n, segment: seg(1n, 30n).name, covered: true })
    expect(r.findings.filter((f) => f.severity === 'error').map((f) => f.code)).toEqual(['crc-mismatch'])
  })
  it('no .snap at all (3.8-style WAL records only, or a fresh dir)', () => {
    const r = analyze([], wal({ snapshots: [{ index: 0n, term: 0n }, { index: 10001n, term: 2n }], lastIndex: 12000n }), [seg(0n, 0n)])
    expect(r.snapshots).toEqual([])
    expect(r.wal.recordsWithoutFile).toBe(1)
    expect(r.wal.newestUsable).toBeNull()
    expect(r.wal.newestUsableDetail).toMatch(/no \.snap files/)
    expect(r.cadence.lastSnapshotIndex).toBe(10001n)
    expect(r.cadence.nextSnapshotAt).toBe(110_002n)
    const empty = analyze([], null, null)
    expect(empty.cadence.points).toEqual([])
    expect(empty.cadence.nextSnapshotAt).toBe(100_001n)
    expect(empty.findings).toEqual([])
  })
  it('lists broken, snap.db (with index), db.tmp and db', () => {
    const extra: SnapDirEntry[] = [
      { name: `${name(2n, 5n)}.broken`, size: 3, mtimeMs: 0, ...classifySnapName(`${name(2n, 5n)}.broken`) },
      { name: `${hex16(30n)}.snap.db`, size: 4096, mtimeMs: 0, ...classifySnapName(`${hex16(30n)}.snap.db`) },
      { name: 'db.tmp.123', size: 10, mtimeMs: 0, ...classifySnapName('db.tmp.123') },
      { name: 'db', size: 32768, mtimeMs: 0, ...classifySnapName('db') },
      { name: 'notes.txt', size: 1, mtimeMs: 0, ...classifySnapName('notes.txt') },
    ]
    const r = analyze([snapOf(2n, 42n)], null, null, extra)
    expect(r.broken).toEqual([{ file: `${name(2n, 5n)}.broken`, size: 3, term: 2n, index: 5n }])
    expect(r.snapDbs).toEqual([{ file: `${hex16(30n)}.snap.db`, size: 4096, index: 30n }])
    expect(r.dbTmp).toEqual([{ file: 'db.tmp.123', size: 10 }])
    expect(r.db).toEqual({ file: 'db', size: 32768 })
    expect(r.other).toEqual([{ file: 'notes.txt', size: 1 }])
    expect(r.findings.map((f) => f.code).sort()).toEqual(['broken-snapshot', 'db-tmp', 'stale-snap-db'])
  })
  it('name that disagrees with the metadata', () => {
    const bytes = snapFile(raftSnapshot({ term: 2n, index: 42n, data: v2StoreJson() }))
    const d = decodeSnapFile(name(2n, 43n), bytes)
    const r = analyzeSnapshots({ path: '/x', snapDir: '/x/member/snap', entries: [{ name: d.file, kind: 'snap', size: bytes.length, mtimeMs: 0 }],
      decoded: new Map([[d.file, d]]), wal: null, walSegments: null, walDetail: '', walDir: null })
    expect(r.findings.map((f) => f.code)).toEqual(['name-mismatch'])
  })
})

describe('walCoverage (wal.go searchIndex + isValidSeq)', () => {
  it('covered, missing head, seq gap, no segments', () => {
    expect(walCoverage([seg(3n, 100n), seg(4n, 200n), seg(5n, 300n)], 250n)).toMatchObject({ segment: seg(4n, 200n).name, covered: true })
    expect(walCoverage([seg(3n, 100n), seg(4n, 200n)], 50n)).toMatchObject({ segment: null, covered: false })
    expect(walCoverage([seg(3n, 100n), seg(5n, 300n)], 150n)).toMatchObject({ covered: false, detail: expect.stringMatching(/sequence breaks/) })
    expect(walCoverage([], 0n).covered).toBe(false)
    expect(walCoverage(null, 0n).covered).toBeNull()
  })
})

describe('snap analysis with a corrupt WAL', () => {
  it('warns that records after the damage are unknown', () => {
    const r = analyze([snapOf(2n, 21n)], wal({ snapshots: [{ index: 0n, term: 0n }, { index: 21n, term: 2n }], end: { status: 'corrupt', file: 'a.wal', offset: 64, code: 'crc-mismatch', detail: 'x' } }), [seg(0n, 0n)])
    expect(r.findings.find((f) => f.code === 'wal-corrupt')).toMatchObject({ severity: 'warning', file: 'a.wal', offset: 64,
      detail: 'the WAL is corrupt at a.wal@64: snapshot records after that point are unknown' })
  })
})
