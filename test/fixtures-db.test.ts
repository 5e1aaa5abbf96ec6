/**
 * Every fixture db (written by real etcd 3.4.23) against the ground truth etcd's own tools recorded
 * in its MANIFEST.json: `endpoint status` (revision, raft applied index = consistent index, db
 * size), `member list`, the key list with revisions and value hashes, leases, and for
 * `snapshot.db` the `etcdctl snapshot status` figures. Every read leaves the files byte-identical.
 */
import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { allDataDirs, fixture, extractMultiseg } from './support/fixtures.js'
import { hashTree } from './support/tree-hash.js'
import { dbCheck, dbKeys, dbStatus } from '../src/app/db.js'

const single = fixture('single')
const m = single.manifest as any

describe('fixture single', () => {
  const dir = single.dataDirs.data!
  it('db status equals endpoint status, member list and the recorded keys', () => {
    const before = hashTree(dir)
    const s = dbStatus(dir)
    expect(hashTree(dir)).toEqual(before)
    const ep = m.etcdctl['endpoint status -w json'][0].Status
    expect(s.revision).toBe(BigInt(m.revision))
    expect(s.revision).toBe(BigInt(ep.header.revision))
    expect(s.compactRevision).toBe(BigInt(m.compactRevision))
    expect(s.consistentIndex).toBe(BigInt(ep.raftAppliedIndex))
    expect(s.dataSize).toBe(ep.dbSize)
    expect(s.keys.liveKeys).toBe(m.keyCount)
    expect(s.members.map(({ id, name, peerURLs, clientURLs, isLearner }) => ({ id, name, peerURLs, clientURLs, isLearner }))).toEqual(m.members)
    expect(BigInt('0x' + s.members[0]!.id)).toBe(BigInt(m.etcdctl['member list -w json'].members[0].ID))
    expect(s.leases.map((l) => l.id)).toEqual(m.leases.map((l: any) => l.id))
    expect(s.leases[0]!.ttl).toBe(BigInt(m.leases[0].grantedTTL))
    expect(s.term).toBeNull()
    expect(s.schemaVersion).toBe('3.4 or older')
    expect(s.clusterVersion).toBe('3.4.0')
    // db status hash on the data dir's db equals snapshot status of the saved snapshot (same content).
    expect({ hash: s.hash, totalKey: s.totalKey, totalSize: s.totalSize }).toEqual({ hash: m.snapshotDb.status.hash, totalKey: m.snapshotDb.status.totalKey, totalSize: m.snapshotDb.status.totalSize })
  })
  it('db keys key: the newest revision of every live key matches the recorded kvs', () => {
    const r = dbKeys(dir, 'key', { limit: 0 })
    const newest = new Map<string, (typeof r.entries)[number]>()
    for (const e of r.entries) newest.set(e.kv!.key.text ?? e.kv!.key.hex!, e)
    const live = [...newest.entries()].filter(([, e]) => !e.revision!.tombstone)
    expect(live.map(([k]) => k).sort()).toEqual(m.kvs.map((kv: any) => kv.key).sort())
    for (const kv of m.kvs) {
      const e = newest.get(kv.key)!
      expect({ key: kv.key, c: e.kv!.createRevision, mod: e.kv!.modRevision, v: e.kv!.version, lease: e.kv!.lease, len: e.kv!.value.len, sha: e.kv!.value.sha256 })
        .toEqual({ key: kv.key, c: BigInt(kv.createRevision), mod: BigInt(kv.modRevision), v: BigInt(kv.version), lease: kv.lease, len: kv.valueLength, sha: kv.valueSha256.slice(0, 16) })
      expect(e.kv!.value.redacted).toBe(true)
    }
  })
  it('snapshot.db: trailer verified; hash, revision, totalKey, totalSize equal etcdctl snapshot status', () => {
    const file = join(single.dir, 'snapshot.db')
    const before = hashTree(single.dir)
    const s = dbStatus(file)
    expect(hashTree(single.dir)).toEqual(before)
    expect(s.snapshotTrailer.present).toBe(true)
    expect(s.snapshotTrailer.verified!.ok).toBe(true)
    expect({ hash: s.hash, revision: s.revision, totalKey: s.totalKey, totalSize: s.totalSize }).toEqual({
      hash: m.snapshotDb.status.hash, revision: BigInt(m.snapshotDb.status.revision), totalKey: m.snapshotDb.status.totalKey, totalSize: m.snapshotDb.status.totalSize,
    })
    expect(s.fileSize).toBe(m.snapshotDb.size)
    const c = dbCheck(file)
    expect(c.check.ok).toBe(true)
    expect(c.snapshotTrailer.verified!.ok).toBe(true)
  })
})

describe('fixture cluster3', () => {
  const c3 = fixture('cluster3')
  const man = c3.manifest as any
  for (const [key, dir] of Object.entries(c3.dataDirs)) {
    it(`${key}: members, removed members, revision and applied index equal the cluster's`, () => {
      const before = hashTree(dir)
      const s = dbStatus(dir)
      expect(hashTree(dir)).toEqual(before)
      const ep = man.endpoints.find((e: any) => e.memberId === man.dataDirs[key].memberId)
      if (key === 'm3-removed') {
        // The old m3 applied its own removal and stopped: it knows it is removed.
        expect(ep).toBeUndefined()
        expect(s.removedMembers).toEqual(['3f2cb17853abc596'])
        expect(s.members.map((x) => x.id)).not.toContain('3f2cb17853abc596')
        return
      }
      expect(s.revision).toBe(BigInt(ep.revision))
      expect(s.consistentIndex).toBe(BigInt(ep.raftAppliedIndex))
      expect(s.dataSize).toBe(ep.dbSize)
      expect(s.members.map(({ id, name, peerURLs, clientURLs, isLearner }) => ({ id, name, peerURLs, clientURLs, isLearner }))).toEqual(man.members)
      expect(s.removedMembers).toEqual(man.removedMembers)
      expect(s.keys.liveKeys).toBe(man.keyCount)
    })
  }
})

describe('every fixture db', () => {
  for (const d of allDataDirs()) {
    it(`${d.fixture}/${d.key}: db check is clean and changes nothing`, () => {
      const before = hashTree(d.dir)
      const r = dbCheck(d.dir)
      expect(r.check.findings).toEqual([])
      expect(r.check.ok).toBe(true)
      expect(r.check.freelistPersisted).toBe(false)
      expect(hashTree(d.dir)).toEqual(before)
    })
  }
  it('multiseg (archived): big values on overflow pages', () => {
    const x = extractMultiseg()
    const man = fixture('multiseg').manifest as any
    const dir = join(x.root, man.dataDirs.data.path)
    const s = dbStatus(dir)
    expect(s.revision).toBe(BigInt(man.revision))
    expect(s.keys.liveKeys).toBe(man.keyCount)
    const c = dbCheck(dir)
    expect(c.check.ok).toBe(true)
  })
})
