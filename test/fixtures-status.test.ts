/**
 * Every committed fixture data dir against its expected `status` JSON sidecar
 * fixtures/<name>/expected.status.<key>.json (`UPDATE_FIXTURES=1` rewrites them), cross-checked
 * with what etcd itself reported when the fixture was made (MANIFEST.json); and the multi-segment
 * fixture: the bounded WAL read (from the snapshot's segment) agrees with a full read.
 */
import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { collectStatus } from '../src/app/status.js'
import { readWalFacts } from '../src/app/sources.js'
import { toJson } from '../src/render/json.js'
import { hashTree } from './support/tree-hash.js'
import { allDataDirs, expectedOutput, extractMultiseg, FIXTURES_DIR } from './support/fixtures.js'

const dirs = allDataDirs()
const portable = (value: unknown): unknown => JSON.parse(toJson(value).split(FIXTURES_DIR).join('fixtures'))

describe('status on fixture data dirs', () => {
  it('found fixtures', () => {
    expect(dirs.length).toBeGreaterThan(0)
  })
  for (const d of dirs) {
    it(`${d.fixture}/${d.key}: matches expected.status.${d.key}.json, agrees with the MANIFEST, changes nothing`, async () => {
      const before = hashTree(d.dir)
      const r = await collectStatus(d.dir, { skipLockCheck: true, scanEntries: true })
      expect(hashTree(d.dir)).toEqual(before)
      const actual = portable({ ...r, elapsedMs: 0 })
      expect(actual).toEqual(expectedOutput(d.fixture, 'status', actual, { key: d.key }))
      expect(r.memberId).toBe(d.manifest.memberId)
      expect(r.clusterId).toBe(d.manifest.clusterId)
      expect(r.snapshot.files).toBe(d.manifest.snapFiles.length)
      expect(r.sizes.walSegments).toBe(d.manifest.walSegments.length)
      // Committed fixtures are intact; only the removed member carries membership findings.
      expect(r.integrity.ok).toBe(true)
      if (d.key === 'm3-removed') {
        expect(r.members.selfRemovedInWal).toMatchObject({ type: 'remove', nodeId: d.manifest.memberId, committed: true })
        expect(r.members.selfRemovedInDb).toBe(true)
        expect(r.members.selfInDb).toBe(false)
      } else {
        expect(r.members.selfRemovedInWal).toBeNull()
        expect(r.members.selfInDb).toBe(true)
      }
    })
  }
})

describe('multi-segment WAL (fixtures/multiseg)', () => {
  it('reading from the segment covering the snapshot gives the same identity, HardState, snapshot and last index as a full read', async () => {
    const m = extractMultiseg({ shared: true })
    const dir = m.dataDir
    const before = hashTree(dir)
    const fast = await collectStatus(dir, { skipLockCheck: true })
    const full = await collectStatus(dir, { skipLockCheck: true, allWalSegments: true })
    expect(hashTree(dir)).toEqual(before)
    for (const k of ['memberId', 'clusterId', 'hardState', 'lastIndex', 'snapshotIndex', 'snapshotTerm', 'consistentIndex', 'revision'] as const) {
      expect(fast[k]).toEqual(full[k])
    }
    expect(full.walRange!.segmentsRead).toBe(full.walRange!.segmentsTotal)
    expect(fast.walRange!.segmentsRead).toBeLessThan(full.walRange!.segmentsTotal)
    expect(fast.integrity.invariants).toEqual(full.integrity.invariants)
    expect(fast.integrity.wal.status).toBe('ok')
    expect(full.integrity.wal.status).toBe('ok')
  })
  it('a hint past the last snapshot record (an orphaned .snap) falls back to a full read', async () => {
    const dir = extractMultiseg({ shared: true }).dataDir
    const walDir = join(dir, 'member/wal')
    const all = await readWalFacts(walDir)
    const past = await readWalFacts(walDir, { fromIndex: all.lastIndex! })
    expect(past.range).toEqual(all.range)
    expect(past.snapshots).toEqual(all.snapshots)
    const last = all.snapshots.at(-1)!.index
    const hinted = await readWalFacts(walDir, { fromIndex: last })
    expect(hinted.range!.segmentsRead).toBeLessThan(all.range!.segmentsTotal)
    expect(hinted.snapshots.at(-1)).toEqual(all.snapshots.at(-1))
    expect(hinted.hardState).toEqual(all.hardState)
  })
})
