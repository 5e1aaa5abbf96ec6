/**
 * Issue 11, points 4 and 6 on a WAL built by hand: only etcd 3.4 runs here, so 3.5+ records are
 * written from the upstream .proto field numbers (etcd v3.6 api/etcdserverpb/raft_internal.proto:
 * InternalRaftRequest header 100, cluster_version_set 1300, cluster_member_attr_set 1301,
 * downgrade_info_set 1302, auth_user_add 1100, v2 2; api/membershippb/membership.proto:
 * ClusterVersionSetRequest ver 1, ClusterMemberAttrSetRequest member_ID 1 / member_attributes 2
 * {name 1, client_urls 2}, DowngradeInfoSetRequest enabled 1 / ver 2; rpc.proto
 * AuthUserAddRequest name 1, password 2, hashed_password 4; raftpb ConfChangeV2 changes 2
 * {type 1, node_id 2}, entry type 2; walpb.Snapshot index 1, term 2, conf_state 3 {voters 1}).
 * `wal` decodes each by name (the hashed password redacted); `status` takes the cluster version
 * from ClusterVersionSet and says which etcd can start on the dir.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { DbFacts } from '../../src/app/sources.js'
import { collectStatus } from '../../src/app/status.js'
import { firstSegment, msg, pb, writeWalDir } from '../support/wal-writer.js'
import { runInProcess } from './corpus.js'

const temps: string[] = []
afterAll(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })))

const NODE = 0x2f7fbfd36802ff7an
const irr = (field: number, body: number[], id = 1): number[] => msg(pb.bytes(field, body), pb.bytes(100, pb.varint(1, id)))

/** A 3.5-style member dir: snapshot record with conf_state, the 3.5 membership requests, auth, and (optionally) a v2 PUT. */
function wal35(opts: { v2Put?: boolean } = {}): string {
  const w = firstSegment()
  w.entry(1, 1, msg(pb.varint(1, 0), pb.bytes(2, msg(pb.varint(1, 0), pb.varint(2, NODE)))), 2) // ConfChangeV2 AddNode
  w.entry(2, 2, [])
  w.entry(2, 3, irr(1301, msg(pb.varint(1, NODE), pb.bytes(2, msg(pb.bytes(1, 'm1'), pb.bytes(2, 'http://127.0.0.1:2379')))), 3))
  w.entry(2, 4, irr(1300, msg(pb.bytes(1, '3.5.0')), 4))
  w.entry(2, 5, irr(1302, msg(pb.varint(1, 1), pb.bytes(2, '3.4.0')), 5))
  w.entry(2, 6, irr(1100, msg(pb.bytes(1, 'root'), pb.bytes(4, '$2a$10$hashhashhashhashhash')), 6))
  w.snapshot(6, 2, [NODE])
  if (opts.v2Put) w.entry(2, 7, irr(2, msg(pb.varint(1, 7), pb.bytes(2, 'PUT'), pb.bytes(3, '/1/foo'), pb.bytes(4, 'secret-value')), 7))
  else w.entry(2, 7, irr(1300, msg(pb.bytes(1, '3.5.0')), 7))
  w.state(2, NODE, 7)
  const d = writeWalDir([[0n, 0n, w.cut()]], temps, 'rec35-')
  mkdirSync(join(d, 'member/snap'))
  writeFileSync(join(d, 'member/snap/db'), Buffer.alloc(4096))
  return d
}

/** The db beside it, as the db reader reports a 3.5 backend that applied everything. */
const readDb = async (): Promise<DbFacts> => ({
  file: '', size: 4096, consistentIndex: 7n, term: 2n, revision: 1n, compactRevision: 0n,
  members: [{ id: NODE, name: 'm1', peerURLs: ['http://127.0.0.1:2380'], clientURLs: [], isLearner: false }],
  removedMembers: [], storageVersion: null, clusterVersion: '3.5.0', check: null, meta: null,
})

describe('3.5+ records built from the upstream .proto field numbers', () => {
  it('wal decodes ClusterVersionSet, ClusterMemberAttrSet, DowngradeInfoSet, AuthUserAdd (hash redacted) and the snapshot conf_state by name', async () => {
    const d = wal35()
    const r = await runInProcess(['wal', d, '-w', 'json'])
    expect(r.code).toBe(0)
    const j = JSON.parse(r.stdout)
    const req = (i: number) => j.entries.find((e: { index: string }) => e.index === String(i))
    expect(req(1).confChangeV2.changes).toEqual([{ type: 'ConfChangeAddNode', nodeId: '2f7fbfd36802ff7a' }])
    expect(req(3).request).toMatchObject({ kind: 'clusterMemberAttrSet', memberId: '2f7fbfd36802ff7a', name: 'm1', clientUrls: ['http://127.0.0.1:2379'] })
    expect(req(4).request).toEqual({ kind: 'clusterVersionSet', ver: '3.5.0' })
    expect(req(5).request).toEqual({ kind: 'downgradeInfoSet', enabled: true, ver: '3.4.0' })
    expect(req(6).request).toMatchObject({ kind: 'authUserAdd', name: 'root', hashedPassword: { redacted: true } })
    expect(r.stdout).not.toContain('hashhash')
    // 3.5's WAL snapshot record carries the conf_state (voters as the wal command prints them).
    const snap = j.snapshots.find((s: { index: string }) => s.index === '6')
    expect(snap.confState.voters.map((x: string) => BigInt(/^[0-9]+$/.test(x) ? x : `0x${x}`))).toEqual([NODE])
  }, 120_000)

  it('status: the version from ClusterVersionSet, the WAL needs 3.5, and 3.4 cannot start on it', async () => {
    const r = await collectStatus(wal35(), { scanEntries: true, procLocks: '', readDb })
    expect(r.version.sources.find((x) => x.source === 'WAL ClusterVersionSet')).toMatchObject({ value: '3.5', detail: '3.5.0 at index 7' })
    expect(r.version.sources.find((x) => x.source === 'WAL snapshot conf_state')).toBeDefined()
    expect(r.compatibility!.walMinVersion).toEqual({ version: '3.5', because: 'clusterVersionSet request at index 7' })
    expect(r.compatibility!.entriesAfterSnapshot).toBe(1)
    const v = Object.fromEntries(r.compatibility!.verdicts.map((x) => [x.version, x.verdict]))
    expect(v['3.4']).toMatch(/^cannot start: the WAL entries after the snapshot need etcd 3\.5 \(clusterVersionSet request at index 7\)/)
    expect(v['3.5']).toBe('can start')
  })

  it('a v2 PUT of a user key after the snapshot: 3.6 refuses it ("detected disallowed v2 WAL"), 3.7 cannot decode it', async () => {
    const r = await collectStatus(wal35({ v2Put: true }), { scanEntries: true, procLocks: '', readDb })
    const c = r.compatibility!
    expect([c.v2EntriesAfterSnapshot, c.v2DisallowedAfterSnapshot]).toEqual([1, 1])
    expect(c.firstDisallowed).toEqual({ index: 7n, method: 'PUT', path: '/1/foo' })
    const v = Object.fromEntries(c.verdicts.map((x) => [x.version, x.verdict]))
    expect(v['3.6']).toMatch(/"detected disallowed v2 WAL": 1 v2 entry after the snapshot .*first at index 7: PUT \/1\/foo/)
    expect(v['3.7']).toMatch(/3\.7 cannot decode v2 entries/)
    // Entries before the snapshot are not replayed: 3.5 reads these (3.0-level) entries fine.
    expect(c.walMinVersion?.version).toBe('3.0')
    expect(v['3.5']).toBe('can start')
  })
})
