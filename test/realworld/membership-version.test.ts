/**
 * Issue 11, points 2 and 5 on hand-built sources: the version from every source and the one that
 * decided; membership from the WAL's conf changes, the newest .snap's v2 store and the db, side by
 * side, with each disagreement named. The WAL and db readers are injected (their facts are what
 * the real readers return); the .snap file is real bytes (raftpb.Snapshot + v2 store JSON).
 */
import { describe, expect, it } from 'vitest'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { collectStatus } from '../../src/app/status.js'
import type { DbFacts, WalFacts } from '../../src/app/sources.js'
import { statusExitCode } from '../../src/cli/commands/status.js'
import { tempDir } from '../support/etcd.js'
import { raftSnapshot, snapFile, v2StoreJson } from '../format/snap-bytes.js'

const A = 0x8e9e05c52164694dn
const B = 0x1234567890abcdefn
const C = 0xafedcba987654321n
const hex16 = (v: bigint): string => v.toString(16).padStart(16, '0')

function dataDir(snap?: { index: bigint; members: { id: bigint; learner?: boolean }[]; removed?: bigint[]; version?: string }): string {
  const d = join(tempDir(), 'm.etcd')
  mkdirSync(join(d, 'member/snap'), { recursive: true })
  mkdirSync(join(d, 'member/wal'))
  writeFileSync(join(d, 'member/wal', `${hex16(0n)}-${hex16(0n)}.wal`), Buffer.alloc(64))
  writeFileSync(join(d, 'member/snap/db'), Buffer.alloc(4096))
  if (snap) {
    const data = v2StoreJson({
      version: snap.version,
      members: snap.members.map((m) => ({ id: hex16(m.id), name: `n${m.id % 10n}`, peer: 'http://127.0.0.1:2380', ...(m.learner ? { learner: true } : {}) })),
      removed: (snap.removed ?? []).map(hex16),
    })
    writeFileSync(join(d, 'member/snap', `${hex16(2n)}-${hex16(snap.index)}.snap`), snapFile(raftSnapshot({ term: 2n, index: snap.index, voters: [A], data })))
  }
  return d
}

function walFacts(over: Partial<WalFacts> = {}): WalFacts {
  return {
    walDir: '', segments: [{ name: `${hex16(0n)}-${hex16(0n)}.wal`, seq: 0n, index: 0n, size: 64 }],
    metadata: { nodeId: A, clusterId: 7n }, hardState: { term: 3n, vote: A, commit: 300n },
    firstIndex: 1n, lastIndex: 300n, snapshots: [{ index: 0n, term: 0n }, { index: 100n, term: 2n }],
    confChanges: [{ index: 1n, term: 1n, type: 'add', nodeId: A }], end: { status: 'ok' }, ...over,
  }
}
function dbFacts(over: Partial<DbFacts> = {}): DbFacts {
  return {
    file: '', size: 4096, consistentIndex: 250n, term: null, revision: 55n, compactRevision: 0n,
    members: [{ id: A, name: 'a', peerURLs: [], clientURLs: [], isLearner: false }],
    removedMembers: [], storageVersion: null, clusterVersion: null, check: null, meta: null, ...over,
  }
}
const run = (d: string, w: Partial<WalFacts> = {}, db: Partial<DbFacts> | null = {}) =>
  collectStatus(d, { readWal: async () => walFacts(w), readDb: async () => (db ? dbFacts(db) : Promise.reject(new Error('no db'))), procLocks: '' })

describe('version from every source', () => {
  it('the db storage version decides over the cluster versions, every source is listed', async () => {
    const r = await run(dataDir({ index: 100n, members: [{ id: A }], version: '3.5.0' }), {}, { storageVersion: '3.6.0', clusterVersion: '3.6.0', term: 3n })
    expect(r.version.etcdGuess).toBe('3.6')
    expect(r.version.decidedBy).toBe('db meta/storageVersion')
    expect(r.version.sources.map((x) => [x.source, x.value])).toEqual([
      ['db meta/storageVersion', '3.6'], ['db cluster/clusterVersion', '3.6'], ['.snap v2 store /0/version', '3.5'], ['db meta/term', '3.5+'],
    ])
    expect(r.version.basis.join('\n')).toMatch(/sources disagree/)
  })
  it('a db with meta/term and nothing else: 3.5 from meta/term; an empty bbolt: no guess at all', async () => {
    const t = await run(dataDir(), {}, { term: 2n })
    expect([t.version.etcdGuess, t.version.decidedBy]).toEqual(['3.5', 'db meta/term'])
    const old = await run(dataDir(), {}, {})
    expect([old.version.etcdGuess, old.version.decidedBy]).toEqual(['<=3.4', 'db without meta/term'])
    const none = await run(dataDir(), {}, { consistentIndex: null, revision: null, members: [] })
    expect(none.version.etcdGuess).toBeNull()
    expect(none.version.decidedBy).toBeNull()
  })
})

describe('membership from every source', () => {
  it('all three agree: one row per member, no disagreement', async () => {
    const r = await run(dataDir({ index: 100n, members: [{ id: A }] }))
    expect(r.members.bySource).toEqual([{ id: hex16(A), wal: 'add@1', snap: 'voter', db: 'voter' }])
    expect(r.members.snapSource).toEqual({ file: `${hex16(2n)}-${hex16(100n)}.snap`, index: 100n })
    expect(r.members.disagreements).toEqual([])
  })
  it('a member removed in the WAL that the db still lists, a member the db has as a learner and the .snap as a voter', async () => {
    const r = await run(
      dataDir({ index: 100n, members: [{ id: A }, { id: B }, { id: C }] }),
      { confChanges: [{ index: 1n, term: 1n, type: 'add', nodeId: A }, { index: 50n, term: 2n, type: 'add', nodeId: B }, { index: 200n, term: 3n, type: 'remove', nodeId: B }] },
      { members: [{ id: A, name: 'a', peerURLs: [], clientURLs: [], isLearner: false }, { id: B, name: 'b', peerURLs: [], clientURLs: [], isLearner: false }, { id: C, name: 'c', peerURLs: [], clientURLs: [], isLearner: true }] },
    )
    // One row per ID, in ID order.
    expect(r.members.bySource).toEqual([
      { id: hex16(B), wal: 'remove@200', snap: 'voter', db: 'voter' },
      { id: hex16(A), wal: 'add@1', snap: 'voter', db: 'voter' },
      { id: hex16(C), wal: null, snap: 'voter', db: 'learner' },
    ])
    expect(r.members.disagreements).toEqual([
      `member ${hex16(B)}: the db says voter, but the WAL's committed remove at index 200 (<= its index 250) makes it removed`,
      `member ${hex16(C)}: the db says learner, ${hex16(2n)}-${hex16(100n)}.snap (index 100) says voter, and no conf change between them explains it`,
    ])
    expect(r.findings.filter((f) => f.code === 'membership-disagrees')).toHaveLength(2)
    // A disagreement is evidence for an upgrade, not corruption.
    expect(statusExitCode(r)).toBe(0)
  })
  it('a conf change between the snapshot and the db explains a difference', async () => {
    const r = await run(dataDir({ index: 100n, members: [{ id: A }] }),
      { confChanges: [{ index: 1n, term: 1n, type: 'add', nodeId: A }, { index: 150n, term: 2n, type: 'add-learner', nodeId: B }] },
      { members: [{ id: A, name: 'a', peerURLs: [], clientURLs: [], isLearner: false }, { id: B, name: '', peerURLs: [], clientURLs: [], isLearner: true }] })
    expect(r.members.bySource.find((x) => x.id === hex16(B))).toEqual({ id: hex16(B), wal: 'add-learner@150', snap: 'absent', db: 'learner' })
    expect(r.members.disagreements).toEqual([])
  })
  it('a member the .snap lists as removed but the db as a voter (resurrected)', async () => {
    const r = await run(dataDir({ index: 100n, members: [{ id: A }], removed: [B] }), {},
      { members: [{ id: A, name: 'a', peerURLs: [], clientURLs: [], isLearner: false }, { id: B, name: 'b', peerURLs: [], clientURLs: [], isLearner: false }] })
    expect(r.members.disagreements).toEqual([`member ${hex16(B)}: the db says voter, ${hex16(2n)}-${hex16(100n)}.snap (index 100) says removed, and no conf change between them explains it`])
  })
})
