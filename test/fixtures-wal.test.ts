/**
 * Every fixture data dir (real etcd 3.4.23) through `etcd-inspect wal`, compared with its
 * expected-output sidecar (`fixtures/<name>/expected.wal.<key>.json`; rewrite with
 * UPDATE_FIXTURES=1 and review). Also: trimmed vs full-size 64,000,000-byte segments decode to the
 * same entries; the multi-segment WAL keeps its chain across segments; nothing is written.
 */
import { describe, expect, it } from 'vitest'
import { runWal, readWalSummary, type WalResult } from '../src/app/wal.js'
import { toJson } from '../src/render/json.js'
import { presentWalResult } from '../src/render/wal-entry.js'
import { allDataDirs, expectedOutput, materialize, extractMultiseg, SEGMENT_SIZE } from './support/fixtures.js'
import { hashTree } from './support/tree-hash.js'

/** The result without the machine-specific absolute paths. */
function stable(r: WalResult): unknown {
  const j = JSON.parse(toJson(presentWalResult(r)))
  j.dir = '<dir>'
  j.walDir = '<walDir>'
  return j
}

const dirs = allDataDirs()

describe('fixtures: wal', () => {
  it('there are fixture data dirs to test', () => {
    expect(dirs.length).toBeGreaterThanOrEqual(3)
  })
  for (const d of dirs) {
    it(`${d.fixture}/${d.key}: matches its sidecar, identity matches the MANIFEST, read-only`, () => {
      const before = hashTree(d.dir)
      const r = runWal(d.dir)
      expect(hashTree(d.dir)).toEqual(before)
      expect(r.memberId).toBe(d.manifest.memberId)
      expect(r.clusterId).toBe(d.manifest.clusterId)
      expect(r.summary.end).toBe('clean')
      expect(r.findings.filter((f) => f.severity !== 'info')).toEqual([])
      expect(r.entries.length).toBeGreaterThan(0)
      // every entry index is unique and the last one is the HardState's neighbourhood
      expect(r.summary.lastIndex! >= r.hardState!.commit).toBe(true)
      expect(stable(r)).toEqual(expectedOutput(d.fixture, 'wal', stable(r), { key: d.key }))
    })
  }
  it('single: every request kind the generator wrote is decoded, passwords never printed', () => {
    const d = dirs.find((x) => x.fixture === 'single')!
    const r = runWal(d.dir)
    const kinds = new Set(presentWalResult(r).entries.map((e) => e.request?.kind ?? e.type))
    for (const k of ['put', 'deleteRange', 'txn', 'leaseGrant', 'leaseRevoke', 'compaction', 'authUserAdd', 'authEnable', 'v2', 'noop', 'confChange']) {
      expect(kinds, k).toContain(k)
    }
    expect(r.snapshots.length).toBeGreaterThanOrEqual(3)
    const json = toJson(presentWalResult(r))
    expect(json).not.toMatch(/"password":\s*"/)
  })
  it('cluster3: learner add, promote, remove and re-add are visible as conf changes', () => {
    const m1 = dirs.find((x) => x.fixture === 'cluster3' && x.key === 'm1')!
    const s = readWalSummary(m1.dir)
    const types = s.confChanges.map((c) => c.type)
    expect(types).toContain('ConfChangeAddLearnerNode')
    expect(types).toContain('ConfChangeRemoveNode')
    expect(s.confChanges.some((c) => c.isPromote)).toBe(true)
    for (const c of s.confChanges) expect(c.nodeIdHex).toBe(c.nodeId.toString(16))
  })
  it('crash: the 0.tmp file is listed', () => {
    const d = dirs.find((x) => x.fixture === 'crash')!
    const r = runWal(d.dir)
    expect(r.files.tmp.map((t) => t.name)).toEqual(['0.tmp'])
  })
  for (const name of ['single', 'cluster3', 'crash']) {
    it(`${name}: the trimmed and the full 64,000,000-byte segment decode to the same entries`, () => {
      const full = materialize(name, { fullSize: true })
      for (const [key, dir] of Object.entries(full.dataDirs)) {
        const committed = dirs.find((x) => x.fixture === name && x.key === key)!
        const a = runWal(committed.dir)
        const b = runWal(dir)
        const last = b.segments.at(-1)!
        expect(last.size).toBe(SEGMENT_SIZE)
        expect(last.zeroTail).toBe(true)
        expect(JSON.parse(toJson(presentWalResult(b).entries))).toEqual(JSON.parse(toJson(presentWalResult(a).entries)))
        expect(b.summary.end).toBe(a.summary.end)
        expect(toJson(b.hardState)).toBe(toJson(a.hardState))
      }
      full.cleanup()
    })
  }
  it('multiseg: >= 3 segments, chain checked at every boundary, clean end, sizes as etcd left them', () => {
    const m = extractMultiseg({ shared: true })
    const s = readWalSummary(m.dataDir)
    expect(s.segments.length).toBeGreaterThanOrEqual(3)
    expect(s.end).toBe('clean')
    expect(s.findings.filter((f) => f.severity !== 'info')).toEqual([])
    for (const g of s.segments.slice(0, -1)) {
      expect(g.size).toBeGreaterThanOrEqual(SEGMENT_SIZE)
      expect(g.zeroTail).toBe(false)
    }
    // consecutive segments: the name index is the next entry after the previous segment
    for (let i = 1; i < s.segments.length; i++) expect(s.segments[i]!.nameIndex).toBe(s.segments[i - 1]!.lastIndex! + 1n)
    expect(s.memberId).toBe((m.manifest as { memberId?: string }).memberId)
  })
})
