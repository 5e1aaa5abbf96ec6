/** collectStatus with injected WAL/db facts (no etcd): invariants, removals, exit codes, layout. */
import { describe, expect, it } from 'vitest'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { collectStatus } from '../../src/app/status.js'
import type { DbFacts, WalFacts } from '../../src/app/sources.js'
import { statusExitCode } from '../../src/cli/commands/status.js'
import { InputError } from '../../src/errors.js'
import { tempDir } from '../support/etcd.js'
import { hashTree } from '../support/tree-hash.js'
import { raftSnapshot, snapFile, v2StoreJson } from '../format/snap-bytes.js'

const ME = 0x8e9e05c52164694dn
const OTHER = 0xfedcba9876543210n
const CLUSTER = 0xcdf818194e3a8c32n
const hex16 = (v: bigint): string => v.toString(16).padStart(16, '0')

function dataDir(opts: { snaps?: [bigint, bigint][]; db?: boolean; wal?: boolean } = {}): string {
  const d = join(tempDir(), 'm1.etcd')
  mkdirSync(join(d, 'member/snap'), { recursive: true })
  if (opts.wal !== false) {
    mkdirSync(join(d, 'member/wal'))
    writeFileSync(join(d, 'member/wal', `${hex16(0n)}-${hex16(0n)}.wal`), Buffer.alloc(64))
  }
  if (opts.db !== false) writeFileSync(join(d, 'member/snap/db'), Buffer.alloc(4096))
  for (const [term, index] of opts.snaps ?? []) {
    writeFileSync(join(d, 'member/snap', `${hex16(term)}-${hex16(index)}.snap`),
      snapFile(raftSnapshot({ term, index, voters: [ME], data: v2StoreJson({ version: '3.4.0' }) })))
  }
  return d
}

function walFacts(over: Partial<WalFacts> = {}): WalFacts {
  return {
    walDir: '', segments: [{ name: `${hex16(0n)}-${hex16(0n)}.wal`, seq: 0n, index: 0n, size: 64 }],
    metadata: { nodeId: ME, clusterId: CLUSTER }, hardState: { term: 3n, vote: ME, commit: 120n },
    firstIndex: 1n, lastIndex: 125n, snapshots: [{ index: 0n, term: 0n }, { index: 100n, term: 2n }],
    confChanges: [{ index: 1n, term: 1n, type: 'add', nodeId: ME }], end: { status: 'ok' }, ...over,
  }
}

function dbFacts(over: Partial<DbFacts> = {}): DbFacts {
  return {
    file: '', size: 4096, consistentIndex: 118n, term: null, revision: 55n, compactRevision: 10n,
    members: [{ id: ME, name: 'm1', peerURLs: ['http://127.0.0.1:2380'], clientURLs: ['http://127.0.0.1:2379'], isLearner: false }],
    removedMembers: [], storageVersion: null, clusterVersion: null, check: null, meta: null, ...over,
  }
}

const run = (d: string, w: Partial<WalFacts> = {}, db: Partial<DbFacts> = {}) =>
  collectStatus(d, { readWal: async () => walFacts(w), readDb: async () => dbFacts(db), procLocks: '' })

describe('collectStatus', () => {
  it('a healthy dir: identity, HardState, snapshot, db, members, invariants hold, exit 0', async () => {
    const d = dataDir({ snaps: [[2n, 80n], [2n, 100n]] })
    const before = hashTree(d)
    const r = await run(d)
    expect(hashTree(d)).toEqual(before)
    expect(r.state).toBe('initialized')
    expect(r.memberId).toBe('8e9e05c52164694d')
    expect(r.clusterId).toBe('cdf818194e3a8c32')
    expect(r.hardState).toEqual({ term: 3n, vote: '8e9e05c52164694d', commit: 120n })
    expect([r.firstIndex, r.lastIndex, r.snapshotIndex, r.snapshotTerm, r.consistentIndex]).toEqual([1n, 125n, 100n, 2n, 118n])
    expect(r.snapshot.newestUsable).toEqual({ name: `${hex16(2n)}-${hex16(100n)}.snap`, index: 100n, term: 2n })
    expect(r.snapshot.files).toBe(2)
    expect(r.members.selfInDb).toBe(true)
    expect(r.members.selfRemovedInWal).toBeNull()
    expect(r.integrity.invariants.map((i) => [i.name, i.ok])).toEqual([
      ['consistent-index<=commit', true], ['db-term<=hardstate-term', null], ['snapshot-index<=commit', true], ['consistent-index>=snapshot-index', true],
    ])
    expect(r.integrity.ok).toBe(true)
    expect(r.version.etcdGuess).toBe('3.4')
    expect(r.version.clusterVersion).toBe('3.4.0')
    expect(r.inUse).toEqual({ checked: true, held: false, locks: [] })
    expect(statusExitCode(r)).toBe(0)
  })
  it('consistent index beyond commit and db term beyond HardState term: CORRUPT signals, exit 4', async () => {
    const r = await run(dataDir(), {}, { consistentIndex: 121n, term: 4n })
    expect(r.integrity.invariants.filter((i) => i.ok === false).map((i) => i.name)).toEqual(['consistent-index<=commit', 'db-term<=hardstate-term'])
    expect(r.integrity.ok).toBe(false)
    expect(r.findings.filter((f) => f.code === 'invariant-violated')).toHaveLength(2)
    expect(statusExitCode(r)).toBe(4)
  })
  it('db older than the WAL snapshot: consistent-index>=snapshot-index violated', async () => {
    const r = await run(dataDir(), {}, { consistentIndex: 50n })
    const inv = r.integrity.invariants.find((i) => i.name === 'consistent-index>=snapshot-index')!
    expect(inv).toEqual({ name: 'consistent-index>=snapshot-index', ok: false, detail: 'consistent index 50 < last valid WAL snapshot index 100' })
  })
  it('snapshot records beyond commit are not valid; the last one beyond commit breaks snapshot-index<=commit', async () => {
    const r = await run(dataDir(), { snapshots: [{ index: 0n, term: 0n }, { index: 100n, term: 2n }, { index: 130n, term: 3n }] })
    expect(r.snapshotIndex).toBe(100n)
    expect(r.snapshot.wal).toEqual({ index: 130n, term: 3n })
    expect(r.integrity.invariants.find((i) => i.name === 'snapshot-index<=commit')!.ok).toBe(false)
  })
  it('a removal of this very member in the WAL and in members_removed', async () => {
    const r = await run(dataDir(),
      { confChanges: [{ index: 1n, term: 1n, type: 'add', nodeId: ME }, { index: 110n, term: 3n, type: 'remove', nodeId: ME }, { index: 111n, term: 3n, type: 'add', nodeId: OTHER }] },
      { members: [{ id: OTHER, name: '', peerURLs: ['http://127.0.0.1:2380'], clientURLs: [], isLearner: false }], removedMembers: [ME] })
    expect(r.members.selfRemovedInWal).toMatchObject({ index: 110n, type: 'remove', nodeId: '8e9e05c52164694d', committed: true })
    expect(r.members.selfInDb).toBe(false)
    expect(r.members.selfRemovedInDb).toBe(true)
    expect(r.members.walConfChanges.map((c) => `${c.type}:${c.nodeId}`)).toEqual(['add:8e9e05c52164694d', 'remove:8e9e05c52164694d', 'add:fedcba9876543210'])
    expect(r.findings.filter((f) => f.code === 'member-removed')).toHaveLength(2)
  })
  it('torn tail only: integrity ok, exit 5; corruption: exit 4', async () => {
    const torn = await run(dataDir(), { end: { status: 'torn-tail', file: 'x.wal', offset: 4096, detail: 'wal: torn tail' } })
    expect(torn.integrity.wal.status).toBe('torn-tail')
    expect(torn.integrity.ok).toBe(true)
    expect(statusExitCode(torn)).toBe(5)
    const bad = await run(dataDir(), { end: { status: 'corrupt', file: 'x.wal', offset: 16, code: 'crc-mismatch', detail: 'wal: crc mismatch' } })
    expect(bad.integrity.wal).toEqual({ status: 'corrupt', detail: 'x.wal@16: wal: crc mismatch' })
    expect(statusExitCode(bad)).toBe(4)
  })
  it('WAL without db: db-missing error', async () => {
    const r = await run(dataDir({ db: false }))
    expect(r.integrity.db.status).toBe('missing')
    expect(r.findings.map((f) => f.code)).toContain('db-missing')
    expect(statusExitCode(r)).toBe(4)
  })
  it('empty dir and db-only dir: no identity, exit 0', async () => {
    const empty = tempDir()
    const r = await run(empty)
    expect(r.state).toBe('empty')
    expect(r.memberId).toBeNull()
    expect(r.hardState).toBeNull()
    expect(statusExitCode(r)).toBe(0)
    const noWal = await run(dataDir({ wal: false }))
    expect(noWal.state).toBe('no-wal')
  })
  it('a missing path and a directory that is not a data dir: InputError', async () => {
    await expect(run(join(tempDir(), 'nope'))).rejects.toBeInstanceOf(InputError)
    const d = tempDir()
    writeFileSync(join(d, 'README'), 'x')
    await expect(run(d)).rejects.toThrowError(/not an etcd data dir \(no member\/ directory\)/)
  })
  it('a .snap with a bad CRC as the newest file: etcd would load the older one', async () => {
    const d = dataDir({ snaps: [[2n, 80n]] })
    writeFileSync(join(d, 'member/snap', `${hex16(2n)}-${hex16(100n)}.snap`), snapFile(raftSnapshot({ term: 2n, index: 100n, data: '{}' }), 7))
    const r = await run(d, { snapshots: [{ index: 0n, term: 0n }, { index: 80n, term: 2n }, { index: 100n, term: 2n }] }, { consistentIndex: 118n })
    expect(r.snapshot.file).toEqual({ name: `${hex16(2n)}-${hex16(100n)}.snap`, index: null, term: null, status: 'crc-mismatch' })
    expect(r.snapshot.newestUsable?.index).toBe(80n)
  })
})
