/**
 * Every `check` verdict produced for real: a TLS 3-member etcd 3.4 cluster on 127.0.0.1-3 (private
 * CA, client-cert auth), a second independent cluster on 127.0.0.4, and data dirs made by what an
 * operator does (remove, re-add, copy, stop, write past the snapshot count). No mocks of etcd.
 * Every checked dir is hashed before and after: check never changes a byte or a timestamp.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cpSync, existsSync, mkdirSync, openSync, readdirSync, readSync, writeSync, closeSync, fstatSync } from 'node:fs'
import { join } from 'node:path'
import { runCheck, type CheckOptions, type CheckResult } from '../../src/app/check.js'
import { resolveConnectionOptions, withClients, type ConnectionOptions } from '../../src/cluster/connection.js'
import { memberList, type Member } from '../../src/cluster/members.js'
import { endpointStatus } from '../../src/cluster/status.js'
import { allocate, etcdctl, freePort, startCluster, startEtcd, tempDir, type EtcdMember } from '../support/etcd.js'
import { hashTree } from '../support/tree-hash.js'
import { makePki, type TestPki } from '../cluster/certs.js'

const SNAPSHOT_COUNT = 100

let pki: TestPki
let ms: EtcdMember[] = []
let other: EtcdMember | undefined
let learner: EtcdMember | undefined
const extra: EtcdMember[] = []
let ids: Map<string, Member>
const base = tempDir('etcd-inspect-check-')

const conn = (endpoints: string[], over: Partial<Parameters<typeof resolveConnectionOptions>[0]> = {}): ConnectionOptions =>
  resolveConnectionOptions({ endpoints, cacert: pki.ca, cert: pki.clientCert, key: pki.clientKey, dialTimeout: '1s', commandTimeout: '3s', ...over }, {})

const running = (): EtcdMember[] => ms.filter((m) => m.proc.exitCode === null && m.proc.signalCode === null)
const endpointsOf = (xs: EtcdMember[]): string[] => xs.map((m) => m.clientURL)

/** Runs check and asserts the data dir did not change. */
async function check(dataDir: string, over: Partial<CheckOptions> = {}): Promise<CheckResult> {
  const before = existsSync(dataDir) ? hashTree(dataDir) : null
  const r = await runCheck({ dataDir, connection: conn(endpointsOf(running())), stateDir: join(base, 'state-default'), snapshotCount: BigInt(SNAPSHOT_COUNT), ...over })
  const after = existsSync(dataDir) ? hashTree(dataDir) : null
  expect(after).toEqual(before)
  return r
}

async function listMembers(): Promise<Member[]> {
  return withClients(conn(endpointsOf(running())), async (f) => (await memberList(f.forEndpoint(running()[0]!.clientURL))).members)
}

async function put(n: number, prefix: string): Promise<void> {
  await withClients(conn(endpointsOf(running())), async (f) => {
    const c = f.forEndpoint(running()[0]!.clientURL)
    for (let i = 0; i < n; i += 100) {
      await Promise.all(Array.from({ length: Math.min(100, n - i) }, (_, j) => c.call('put', (o) => c.etcd.put(`${prefix}/${i + j}`).value('v'.repeat(64)).options(o).exec())))
    }
  })
}

/** Restarts a stopped member on its old address and ports. */
async function restart(m: EtcdMember, initialCluster: string): Promise<EtcdMember> {
  return startEtcd({ name: m.name, host: m.host, clientPort: m.clientPort, peerPort: m.peerPort, dataDir: m.dataDir, tls: pki, initialCluster, initialClusterState: 'existing', snapshotCount: SNAPSHOT_COUNT })
}

/** Waits until `m` applied what the cluster committed. */
async function waitCaughtUp(m: EtcdMember): Promise<void> {
  await withClients(conn([m.clientURL, ...endpointsOf(running())]), async (f) => {
    for (let i = 0; i < 100; i++) {
      const leaderIdx = (await endpointStatus(f.forEndpoint(running().find((x) => x !== m)!.clientURL))).raftIndex
      const st = await endpointStatus(f.forEndpoint(m.clientURL)).catch(() => null)
      if (st && st.raftAppliedIndex >= leaderIdx) return
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error(`${m.name} did not catch up`)
  })
}

/** `member add` needs every voter connected for 5 s; retry on "unhealthy cluster". */
async function memberAdd(name: string, peerURL: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await etcdctl(endpointsOf(running()), ['member', 'add', name, `--peer-urls=${peerURL}`, '--learner'], pki)
      return
    } catch (err) {
      // Right after a removal 3.4 may answer "member not found" until every member applied it.
      if (i > 40 || !/unhealthy cluster|member not found/.test((err as Error).message)) throw err
      await new Promise((r) => setTimeout(r, 500))
    }
  }
}

let initialCluster = ''

beforeAll(async () => {
  pki = await makePki()
  ms = await startCluster(3, { tls: pki, snapshotCount: SNAPSHOT_COUNT, baseDir: base })
  initialCluster = ms.map((m) => `${m.name}=${m.peerURL}`).join(',')
  other = await startEtcd({ name: 'b1', host: '127.0.0.4', tls: pki, token: 'another-cluster', dataDir: join(base, 'b1.etcd') })
  ids = new Map((await listMembers()).map((m) => [m.name, m]))
}, 120_000)

afterAll(async () => {
  await Promise.all([...ms, other, learner, ...extra].map((m) => m?.stop()))
})

describe('check against a real TLS cluster', () => {
  it('IN_USE: the running member\'s own data dir', async () => {
    const r = await runCheck({ dataDir: ms[0]!.dataDir, connection: conn(endpointsOf(ms)), stateDir: join(base, 'state-inuse') })
    expect(r.verdict).toBe('IN_USE')
    expect(r.exitCode).toBe(10)
    expect(r.evidence.local.inUse).toBe(true)
  })

  it('EMPTY_NOT_ADDED: an empty dir whose peer URL no member has', async () => {
    const dir = join(base, 'never-added')
    mkdirSync(dir)
    const peer = `https://127.0.0.5:${await freePort('127.0.0.5')}`
    const r = await check(dir, { name: 'm9', peerURLs: [peer] })
    expect(r.verdict).toBe('EMPTY_NOT_ADDED')
    expect(r.exitCode).toBe(11)
    expect(r.evidence.memberByPeerUrl).toEqual([])
    expect(r.commands[0]).toContain(`member add m9 --peer-urls=${peer} --learner`)
  })

  it('DATA_LOST: an empty dir for the peer URL of a member that has started', async () => {
    const dir = join(base, 'lost')
    mkdirSync(dir)
    const r = await check(dir, { name: 'm1', peerURLs: [ms[0]!.peerURL] })
    expect(r.verdict).toBe('DATA_LOST')
    expect(r.exitCode).toBe(21)
    expect(r.evidence.memberByPeerUrl[0]?.id).toBe(ids.get('m1')!.idHex)
  })

  describe('a learner: added, started, removed, replaced', () => {
    let slot: Awaited<ReturnType<typeof allocate>>
    let learnerId: Member
    it('EMPTY_READY_TO_JOIN: added as a learner, never started, empty (missing) dir', async () => {
      slot = await allocate('m4', '127.0.0.5', true)
      await memberAdd('m4', slot.peerURL)
      const dir = join(base, 'm4.etcd')
      const r = await check(dir, { name: 'm4', peerURLs: [slot.peerURL] })
      expect(r.verdict).toBe('EMPTY_READY_TO_JOIN')
      expect(r.exitCode).toBe(0)
      learnerId = (await listMembers()).find((m) => m.peerURLs.includes(slot.peerURL))!
      expect(r.evidence.memberByPeerUrl[0]).toMatchObject({ id: learnerId.idHex, started: false, isLearner: true })
      const ic = r.commands.find((x) => x.startsWith('ETCD_INITIAL_CLUSTER='))!.slice('ETCD_INITIAL_CLUSTER='.length).split(',').sort()
      expect(ic).toEqual([...initialCluster.split(','), `m4=${slot.peerURL}`].sort())
      const drift = await check(dir, { name: 'm4', peerURLs: [slot.peerURL], initialClusterState: 'new' })
      expect(drift.verdict).toBe('CONFIG_DRIFT')
      expect(drift.exitCode).toBe(12)
    }, 60_000)

    it('LEARNER_PENDING: the learner started once and is stopped now', async () => {
      learner = await startEtcd({
        name: 'm4', host: slot.host, clientPort: slot.clientPort, peerPort: slot.peerPort, dataDir: join(base, 'm4.etcd'), tls: pki,
        initialCluster: `${initialCluster},m4=${slot.peerURL}`, initialClusterState: 'existing', snapshotCount: SNAPSHOT_COUNT, waitHealthy: false,
      })
      await waitCaughtUp(learner)
      await learner.stop()
      const r = await check(learner.dataDir, { name: 'm4', peerURLs: [slot.peerURL] })
      expect(r.verdict).toBe('LEARNER_PENDING')
      expect(r.exitCode).toBe(0)
      expect(r.evidence.local.memberId).toBe(learnerId.idHex)
      expect(r.evidence.memberById).toMatchObject({ id: learnerId.idHex, isLearner: true, name: 'm4' })
      expect(r.commands[0]).toContain(`member promote ${learnerId.idHex}`)
    }, 60_000)

    it('REMOVED_MEMBER: the member was removed; its old dir is checked', async () => {
      await etcdctl(endpointsOf(running()), ['member', 'remove', learnerId.idHex], pki)
      // The removed member's own (dead, now unlisted) endpoint in --endpoints does not block the verdict.
      const r = await check(learner!.dataDir, { name: 'm4', connection: conn([...endpointsOf(running()), learner!.clientURL]) })
      expect(r.verdict).toBe('REMOVED_MEMBER')
      expect(r.subReason).toBeNull()
      expect(r.exitCode).toBe(23)
      expect(r.evidence.memberById).toBeNull()
      expect(r.evidence.local.clusterId).toBe(r.evidence.cluster!.clusterId)
      expect(r.evidence.cluster!.answeredVoters).toHaveLength(3)
      expect(r.commands.join('\n')).toContain(`m4.etcd.removed-${learnerId.idHex}-`)
      expect(r.evidence.peerProbe).toMatchObject({ status: 410, removed: true })
    })

    it('REMOVED_MEMBER/REPLACED: removed, then a new member added at the same peer URL', async () => {
      await memberAdd('m4', slot.peerURL)
      const fresh = (await listMembers()).find((m) => m.peerURLs.includes(slot.peerURL))!
      expect(fresh.id).not.toBe(learnerId.id)
      try {
        const r = await check(learner!.dataDir, { name: 'm4' })
        expect(r.verdict).toBe('REMOVED_MEMBER')
        expect(r.subReason).toBe('REPLACED')
        expect(r.exitCode).toBe(23)
        expect(r.evidence.memberByPeerUrl.map((m) => m.id)).toContain(fresh.idHex)
        expect(r.next).toContain('already added')
      } finally {
        await etcdctl(endpointsOf(running()), ['member', 'remove', fresh.idHex], pki)
      }
    }, 60_000)
  })

  describe('an older copy of m3\'s dir: rollback, witness, snapshot transfer', () => {
    const copyOld = join(base, 'm3-old-copy')
    const stateDir = join(base, 'state-m3')
    let m3: EtcdMember
    it('OK writes a witness; an older copy is ROLLED_BACK by the leader\'s progress', async () => {
      m3 = ms[2]!
      await m3.stop()
      cpSync(m3.dataDir, copyOld, { recursive: true })
      m3 = ms[2] = await restart(m3, initialCluster)
      await put(50, 'after-copy')
      await waitCaughtUp(m3)
      await m3.stop()
      const ok = await check(m3.dataDir, { stateDir, name: 'm3', peerURLs: [m3.peerURL] })
      expect(ok.verdict).toBe('OK')
      expect(ok.exitCode).toBe(0)
      expect(ok.witnessFile.written).toBe(true)
      expect(ok.witnessFile.path).toBe(join(stateDir, 'witness', `${ok.evidence.local.clusterId}-${ids.get('m3')!.idHex}.json`))
      const old = await check(copyOld, { stateDir: join(base, 'state-empty') })
      expect(old.verdict).toBe('ROLLED_BACK')
      expect(old.subReason).toBe('LEADER_PROGRESS')
      expect(old.exitCode).toBe(25)
      expect(old.evidence.leaderMatch!).toBeGreaterThan(old.evidence.local.lastIndex!)
    }, 90_000)

    it('IDENTITY_MISMATCH: a copy of a running member\'s dir, configured for another peer URL', async () => {
      m3 = ms[2] = await restart(m3, initialCluster)
      try {
        const r = await check(copyOld, { stateDir: join(base, 'state-empty'), name: 'm5', peerURLs: [`https://127.0.0.6:${await freePort('127.0.0.6')}`] })
        expect(r.verdict).toBe('IDENTITY_MISMATCH')
        expect(r.exitCode).toBe(24)
        expect(r.evidence.memberById?.id).toBe(ids.get('m3')!.idHex)
      } finally {
        await waitCaughtUp(m3)
        await m3.stop()
      }
    }, 60_000)

    it('ROLLED_BACK via the witness after a leader change reset the leader\'s progress', async () => {
      const members = await listMembers()
      const st = await withClients(conn(endpointsOf(running())), (f) => endpointStatus(f.forEndpoint(running()[0]!.clientURL)))
      const target = members.find((m) => m.id !== st.leader && m.started && !m.isLearner && m.name !== 'm3')!
      const leaderURL = members.find((m) => m.id === st.leader)!.clientURLs[0]!
      await etcdctl(leaderURL, ['move-leader', target.idHex], pki)
      const r = await check(copyOld, { stateDir })
      expect(r.verdict).toBe('ROLLED_BACK')
      expect(r.subReason).toBe('WITNESS')
      expect(r.exitCode).toBe(25)
      expect(r.evidence.witness!.lastSeenCommit).toBeGreaterThan(r.evidence.local.hardState!.commit)
      expect(r.evidence.leaderMatch ?? 0n).toBeLessThanOrEqual(r.evidence.local.lastIndex!)
    }, 60_000)

    it('BEHIND_NEEDS_SNAPSHOT: the cluster moved past --snapshot-count + 5000 entries', async () => {
      await put(SNAPSHOT_COUNT + 5200, 'far')
      const r = await check(m3.dataDir, { stateDir })
      expect(r.verdict).toBe('BEHIND_NEEDS_SNAPSHOT')
      expect(r.exitCode).toBe(1)
      expect(r.evidence.behind!).toBeGreaterThan(BigInt(SNAPSHOT_COUNT + 5000))
      expect(r.evidence.cluster!.leaderDbSize!).toBeGreaterThan(0n)
      expect(r.reason).toMatch(/snapshot of about [\d.]+ (KiB|MiB)/)
      // Without the witness, the old copy looks merely behind: the witness is what catches it.
      const blind = await check(copyOld, { stateDir: join(base, 'state-empty') })
      expect(blind.verdict).toBe('BEHIND_NEEDS_SNAPSHOT')
      const seen = await check(copyOld, { stateDir })
      expect(seen.verdict).toBe('ROLLED_BACK')
    }, 120_000)

    it('CORRUPT: a copy with a flipped byte inside a WAL record', async () => {
      const dir = join(base, 'm3-corrupt')
      cpSync(m3.dataDir, dir, { recursive: true })
      const walDir = join(dir, 'member', 'wal')
      const seg = readdirSync(walDir).filter((f) => f.endsWith('.wal')).sort()[0]!
      const fd = openSync(join(walDir, seg), 'r+')
      const b = Buffer.alloc(1)
      readSync(fd, b, 0, 1, 200)
      b[0] = b[0]! ^ 0xff
      writeSync(fd, b, 0, 1, 200)
      expect(fstatSync(fd).size).toBeGreaterThan(200)
      closeSync(fd)
      const r = await check(dir, { stateDir })
      expect(r.verdict).toBe('CORRUPT')
      expect(r.exitCode).toBe(20)
      expect(r.evidence.local.integrityOk).toBe(false)
    })
  })

  describe('another cluster', () => {
    it('FOREIGN_CLUSTER: the dir of a second, independent cluster', async () => {
      await other!.stop()
      const r = await check(other!.dataDir)
      expect(r.verdict).toBe('FOREIGN_CLUSTER')
      expect(r.subReason).toBe('OLD_CLUSTER')
      expect(r.exitCode).toBe(22)
      expect(r.evidence.local.clusterId).not.toBe(r.evidence.cluster!.clusterId)
      other = await startEtcd({ name: 'b1', host: other!.host, clientPort: other!.clientPort, peerPort: other!.peerPort, dataDir: other!.dataDir, tls: pki, token: 'another-cluster' })
    }, 60_000)

    it('one stale endpoint of another cluster among healthy ones: no destructive verdict', async () => {
      const eps = [...endpointsOf(running()), other!.clientURL]
      const removed = await check(learner!.dataDir, { connection: conn(eps) })
      expect(removed.verdict).toBe('UNKNOWN')
      expect(removed.subReason).toBe('CONFLICTING_CLUSTERS')
      expect(removed.wouldBe).toBe('REMOVED_MEMBER')
      expect(removed.exitCode).toBe(30)
      expect(removed.evidence.foreignEndpoints).toEqual([other!.clientURL])
      expect(removed.commands).toEqual([])
      // The stale endpoint alone answers for its own cluster, but never for a quorum of ours.
      const alone = await check(join(base, 'lost'), { connection: conn([other!.clientURL]), name: 'm1', peerURLs: [ms[0]!.peerURL] })
      expect(alone.verdict).not.toBe('DATA_LOST')
    }, 60_000)
  })

  it('wrong CA: UNKNOWN/TLS with plain advice', async () => {
    const r = await check(join(base, 'never-added'), { connection: conn(endpointsOf(running()), { cacert: pki.otherCa }), peerURLs: [`https://127.0.0.5:${await freePort('127.0.0.5')}`] })
    expect(r.verdict).toBe('UNKNOWN')
    expect(r.subReason).toBe('TLS')
    expect(r.exitCode).toBe(30)
    expect(r.evidence.endpoints.every((e) => e.code === 'tls-unknown-authority')).toBe(true)
    expect(r.reason).toContain('x509: certificate signed by unknown authority')
    expect(r.reason).toContain("pass --cacert with the cluster's CA")
  })

  it('UNKNOWN within --dial-timeout + 1 s when every endpoint is down', async () => {
    const eps = endpointsOf(running())
    await Promise.all(running().map((m) => m.stop()))
    const t0 = Date.now()
    const r = await check(ms[0]!.dataDir, { connection: conn(eps, { dialTimeout: '1s' }) })
    const ms_ = Date.now() - t0
    expect(r.verdict).toBe('UNKNOWN')
    expect(r.subReason).toBe('UNREACHABLE')
    expect(r.exitCode).toBe(30)
    expect(ms_).toBeLessThan(2000)
    expect(r.evidence.endpoints.every((e) => !e.ok)).toBe(true)
    // The cluster is down and only the other cluster's member answers: never FOREIGN_CLUSTER.
    const stale = await check(join(base, 'm3-old-copy'), { connection: conn([...eps, other!.clientURL], { dialTimeout: '1s' }), stateDir: join(base, 'state-empty') })
    expect(stale.verdict).toBe('UNKNOWN')
    expect(stale.subReason).toBe('UNACCOUNTED_ENDPOINTS')
    expect(stale.wouldBe).toBe('FOREIGN_CLUSTER')
  })
})
