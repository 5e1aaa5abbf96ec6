/**
 * Real etcd 3.4 with a small --snapshot-count: `status` and `snap` on its data dir while it runs
 * (IN_USE from /proc/locks, files byte-identical before and after) and after it stopped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { startCluster, startEtcd, stopAll, etcdctl, tempDir, type EtcdMember } from '../support/etcd.js'
import { hashTree } from '../support/tree-hash.js'
import { parseJsonBig } from '../../src/format/snap/json-big.js'

const CLI = 'dist/cli/main.js'
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Hash the tree until two hashes 300 ms apart agree (etcd has flushed its last batch). */
async function quiescentHash(dir: string): Promise<ReturnType<typeof hashTree>> {
  let prev = hashTree(dir)
  for (let i = 0; i < 30; i++) {
    await sleep(300)
    const next = hashTree(dir)
    if (JSON.stringify(next) === JSON.stringify(prev)) return next
    prev = next
  }
  throw new Error(`${dir} kept changing`)
}

describe('status and snap on a running etcd, then stopped', () => {
  let m: EtcdMember
  let memberHex: string
  let clusterHex: string
  const endpointStatus = async () => {
    // etcdctl prints uint64 IDs as bare JSON numbers: parse them exactly.
    const out = parseJsonBig(await etcdctl(m.clientURL, ['endpoint', 'status', '-w', 'json'])) as
      { Status: { header: { member_id: bigint; cluster_id: bigint; revision: bigint }; raftIndex: bigint; raftTerm: bigint } }[]
    return out[0]!.Status
  }
  beforeAll(async () => {
    m = await startEtcd({ name: 'live', host: '127.0.0.1', snapshotCount: 10 })
    for (let i = 0; i < 40; i++) await etcdctl(m.clientURL, ['put', `k${i}`, `v${i}`])
    const st = await endpointStatus()
    memberHex = st.header.member_id.toString(16)
    clusterHex = st.header.cluster_id.toString(16)
  })
  afterAll(async () => {
    await m?.stop()
  })

  it('while running: IN_USE via /proc/locks, members from the db, .snap cadence; not a byte changed', async () => {
    const before = await quiescentHash(m.dataDir)
    const live = await endpointStatus()
    const s = cli('status', m.dataDir, '-w', 'json')
    expect(s.status).toBe(0)
    expect(s.stderr).not.toMatch(/\n\s+at /)
    const st = JSON.parse(s.stdout)
    expect(st.inUse.checked).toBe(true)
    expect(st.inUse.held).toBe(true)
    const dbLock = st.inUse.locks.find((l: { file: string }) => l.file.endsWith('member/snap/db'))
    expect(dbLock).toMatchObject({ lockClass: 'FLOCK', access: 'WRITE', pid: m.pid, command: 'etcd' })
    // etcd 3.4 takes OFD locks on the WAL segments it writes; the holder is found through /proc/<pid>/fd.
    const walLock = st.inUse.locks.find((l: { file: string }) => l.file.endsWith('.wal'))
    expect(walLock).toMatchObject({ lockClass: 'OFDLCK', pid: m.pid, command: 'etcd' })
    expect(st.findings.map((f: { code: string }) => f.code)).toContain('in-use')
    expect(st.members.db.map((x: { id: string; name: string }) => [x.id, x.name])).toEqual([[memberHex, 'live']])
    expect(BigInt(st.consistentIndex)).toBeGreaterThan(40n)
    // Identity and log position equal what the running member reports about itself.
    expect(st.memberId).toBe(memberHex)
    expect(st.clusterId).toBe(clusterHex)
    expect(BigInt(st.hardState.commit)).toBe(live.raftIndex)
    expect(BigInt(st.hardState.term)).toBe(live.raftTerm)
    expect(st.hardState.vote).toBe(memberHex)
    expect(BigInt(st.lastIndex)).toBe(live.raftIndex)
    expect(BigInt(st.revision)).toBe(live.header.revision)
    expect(BigInt(st.snapshotIndex)).toBeGreaterThan(0n)
    expect(st.snapshot.newestUsable.index).toBe(st.snapshotIndex)
    expect(st.integrity.invariants.map((i: { ok: boolean | null }) => i.ok)).toEqual([true, null, true, true])
    expect(st.members.walConfChanges.map((c: { type: string; nodeId: string }) => `${c.type}:${c.nodeId}`)).toEqual([`add:${memberHex}`])
    // The offline evidence of `check` must stay well under its 1 s budget.
    expect(st.elapsedMs).toBeLessThan(900)

    const sn = cli('snap', m.dataDir, '-w', 'json', '--snapshot-count', '10')
    expect(sn.status).toBe(0)
    const snap = JSON.parse(sn.stdout)
    expect(snap.snapshots.length).toBeGreaterThanOrEqual(3)
    for (const f of snap.snapshots) {
      expect(f).toMatchObject({ status: 'ok', crc: 'ok', term: '2', error: null })
      expect(f.confState.voters).toEqual([memberHex])
      expect(f.v2store.members.map((x: { id: string }) => x.id)).toEqual([memberHex])
      expect(f.v2store.clusterVersion).toBe('3.4.0')
    }
    expect(snap.cadence.consistentWithCount).toBe(true)
    expect(BigInt(snap.cadence.minDistance)).toBeGreaterThanOrEqual(11n)
    expect(snap.db.size).toBeGreaterThan(0)
    expect(snap.snapshots.every((f: { walRecord: string }) => f.walRecord === 'match')).toBe(true)
    expect(snap.wal.newestUsable.file).toBe(snap.snapshots.at(-1).file)
    expect(snap.wal.coverage.covered).toBe(true)
    expect(BigInt(snap.cadence.nextSnapshotAt)).toBe(BigInt(snap.cadence.lastSnapshotIndex) + 11n)
    expect(hashTree(m.dataDir)).toEqual(before)
  })

  it('after stop: no locks, same snapshots, still read-only', async () => {
    const running = JSON.parse(cli('snap', m.dataDir, '-w', 'json').stdout)
    await m.stop()
    const before = hashTree(m.dataDir)
    const res = cli('status', m.dataDir, '-w', 'json')
    expect(res.status).toBe(0)
    const st = JSON.parse(res.stdout)
    expect(st.inUse).toEqual({ checked: true, held: false, locks: [] })
    expect(st.integrity.wal.status).toBe('ok')
    expect(st.memberId).toBe(memberHex)
    expect(st.findings.map((f: { code: string }) => f.code)).not.toContain('in-use')
    const stopped = JSON.parse(cli('snap', m.dataDir, '-w', 'json').stdout)
    expect(stopped.snapshots.map((s: { file: string }) => s.file)).toEqual(running.snapshots.map((s: { file: string }) => s.file))
    expect(hashTree(m.dataDir)).toEqual(before)
  })
})

describe('status on the dir of a member removed from a real 3-member cluster', () => {
  let members: EtcdMember[] = []
  afterAll(async () => {
    await stopAll(members)
  })
  it('finds the RemoveNode of this very member in the WAL and its ID in members_removed', async () => {
    members = await startCluster(3, { snapshotCount: 10 })
    const [m1, , m3] = members as [EtcdMember, EtcdMember, EtcdMember]
    for (let i = 0; i < 15; i++) await etcdctl(m1.clientURL, ['put', `k${i}`, `v${i}`])
    const list = parseJsonBig(await etcdctl(m1.clientURL, ['member', 'list', '-w', 'json'])) as { members: { ID: bigint; name: string }[] }
    const id3 = list.members.find((x) => x.name === m3.name)!.ID
    // etcd refuses reconfiguration until every member has been active for 5 s ("unhealthy cluster").
    for (let i = 0; ; i++) {
      try {
        await etcdctl(m1.clientURL, ['member', 'remove', id3.toString(16)])
        break
      } catch (err) {
        if (i > 30 || !/unhealthy cluster/.test((err as Error).message)) throw err
        await sleep(500)
      }
    }
    // A removed 3.4 member shuts itself down once it applies its own removal.
    const exited = await Promise.race([m3.exited.then(() => true), sleep(15000).then(() => false)])
    if (!exited) await m3.stop()
    const before = hashTree(m3.dataDir)
    const res = cli('status', m3.dataDir, '-w', 'json')
    expect(hashTree(m3.dataDir)).toEqual(before)
    expect(res.stderr).toMatch(/^Error: .*RemoveNode of this member/m)
    const st = JSON.parse(res.stdout)
    expect(st.memberId).toBe(id3.toString(16))
    // The leader replicates the RemoveNode to m3 before committing it, but whether m3 learns the
    // commit (and applies it) before peers cut it off with 410 Gone is a race: both outcomes are real.
    const self = st.members.selfRemovedInWal
    expect(self).toMatchObject({ type: 'remove', nodeId: id3.toString(16) })
    // etcd 3.4 does not advance meta/consistent_index for conf-change entries, so whether the
    // removal was applied is read from the buckets themselves, which change together.
    const applied = st.members.selfRemovedInDb as boolean
    expect(st.members.selfInDb).toBe(!applied)
    expect(self.committed).toBe(BigInt(self.index) <= BigInt(st.hardState.commit))
    expect(st.findings.filter((f: { code: string }) => f.code === 'member-removed')).toHaveLength(applied ? 2 : 1)
    // Removal is a membership fact, not corruption: the files are intact.
    expect(st.integrity.ok).toBe(true)
    expect(res.status).toBe(0)
  })
})

describe('status with a separate --wal-dir on a running etcd', () => {
  let m: EtcdMember | undefined
  afterAll(async () => {
    await m?.stop()
  })
  it('finds the WAL and its locks there, and says the dir is in use', async () => {
    const base = tempDir()
    m = await startEtcd({ name: 'waldir', host: '127.0.0.1', snapshotCount: 5, dataDir: join(base, 'data'), walDir: join(base, 'wal') })
    for (let i = 0; i < 8; i++) await etcdctl(m.clientURL, ['put', `k${i}`, `v${i}`])
    const before = await quiescentHash(base)
    const without = JSON.parse(cli('status', m.dataDir, '-w', 'json').stdout)
    // Without --wal-dir the data dir has no member/wal: no identity on disk, as etcd itself would see it.
    expect(without.memberId).toBeNull()
    const r = cli('status', m.dataDir, '--wal-dir', join(base, 'wal'), '-w', 'json')
    expect(r.status).toBe(0)
    const st = JSON.parse(r.stdout)
    expect(st.walDir).toBe(join(base, 'wal'))
    expect(st.memberId).toMatch(/^[0-9a-f]+$/)
    expect(st.inUse.locks.some((l: { file: string; lockClass: string }) => l.file.startsWith(join(base, 'wal')) && l.lockClass === 'OFDLCK')).toBe(true)
    expect(st.inUse.locks.some((l: { file: string; lockClass: string }) => l.file.endsWith('member/snap/db') && l.lockClass === 'FLOCK')).toBe(true)
    const s = JSON.parse(cli('snap', m.dataDir, '--wal-dir', join(base, 'wal'), '-w', 'json', '--snapshot-count', '5').stdout)
    expect(s.wal.read).toBe(true)
    expect(s.snapshots.length).toBeGreaterThan(0)
    expect(s.snapshots.every((x: { walRecord: string }) => x.walRecord === 'match')).toBe(true)
    expect(hashTree(base)).toEqual(before)
  })
})
