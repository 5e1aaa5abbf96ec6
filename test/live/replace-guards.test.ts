/**
 * Guards around a live replacement, against one real 3-member TLS cluster:
 * - the cluster-wide lock: a lease-backed key naming the running op; a second apply (another
 *   host = another state dir) is refused with the holder's name; released at the end; a killed
 *   holder's key expires with its lease;
 * - the witness written for the new member's data dir, which a later `check` uses;
 * - in surge mode, leadership moved off the old member when it leads at removal time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { etcdctl } from '../support/etcd.js'
import { killPidFile, spawnCli, waitStopped, memberList, newHostMember, runCli, startTlsCluster, waitHealthyURL, type CliResult, type ScriptMember, type TestPki } from '../replace/helpers.js'

const T = 600_000
const LOCK_KEY = '/etcd-inspect/replace-lock'
let base: string
let pki: TestPki
let members: ScriptMember[]
const all: ScriptMember[] = []
let conn: string[]
const eps = (): string[] => members.map((m) => m.clientURL)
const tls = (): ScriptMember['tls'] => members[0]!.tls

/** The lock key as etcdctl sees it: value (parsed) and lease (hex), or undefined. */
async function lockKey(): Promise<{ holder: { opId: string; host: string; pid: number; leaseIdHex: string; ttlSec?: number }; leaseHex: string } | undefined> {
  const out = await etcdctl(eps(), ['get', LOCK_KEY, '-w', 'json'], tls())
  const j = JSON.parse(out.replace(/"lease":(\d+)/g, '"lease":"$1"')) as { kvs?: { value: string; lease?: string }[] }
  const kv = j.kvs?.[0]
  if (!kv) return undefined
  return { holder: JSON.parse(Buffer.from(kv.value, 'base64').toString()), leaseHex: BigInt(kv.lease ?? '0').toString(16) }
}

async function keysOk(ep: string): Promise<number> {
  const out = await etcdctl(ep, ['get', 'k/', '--prefix', '--keys-only', '--consistency=s'], tls())
  return out.split('\n').filter((l) => l.startsWith('k/')).length
}

async function plan(m: ScriptMember, stateDir: string, extra: string[] = []): Promise<{ file: string; opId: string; json: { lockTtlSec?: number; steps: { kind: string; title: string; fromHex?: string }[] }; stdout: string }> {
  // The operator's file still says "new": write-config has something to change every round.
  writeFileSync(m.envFile, readFileSync(m.envFile, 'utf8').replace(/^ETCD_INITIAL_CLUSTER_STATE=.*$/m, 'ETCD_INITIAL_CLUSTER_STATE=new'))
  const file = join(base, `plan-${m.name}-${Date.now()}.json`)
  const r = await runCli(['replace', 'plan', ...conn, '--config', m.envFile, '--state-dir', stateDir, '--stop-cmd', m.scripts.stop, '--start-cmd', m.scripts.start, ...extra, '-w', 'table', '-o', file])
  expect(r.code, r.stderr).toBe(0)
  const json = JSON.parse(readFileSync(file, 'utf8'))
  return { file, opId: json.opId, json, stdout: r.stdout }
}

async function expectHealthy(): Promise<void> {
  const list = await memberList(eps(), tls())
  expect(list).toHaveLength(3)
  expect(list.every((x) => !x.learner && x.name !== '')).toBe(true)
  await etcdctl(eps(), ['endpoint', 'health'], tls())
  for (const ep of eps()) expect(await keysOk(ep)).toBe(40)
}

beforeAll(async () => {
  ;({ base, pki, members, conn } = await startTlsCluster('replace-guards-'))
  all.push(...members)
  const t = tls()
  for (let i = 0; i < 40; i++) await etcdctl(eps(), ['put', `k/${i}`, `v${i}`], t)
}, T)

afterAll(() => {
  for (const m of all) killPidFile(m.scripts.pidFile)
})

describe('replace: cluster-wide lock', () => {
  it('a second apply from another state dir is refused naming the holder; the key is lease-backed and released at the end', async () => {
    const stA = join(base, 'state-a')
    const stB = join(base, 'state-b')
    const a = await plan(members[0]!, stA, ['--lock-ttl', '15'])
    expect(a.json.lockTtlSec).toBe(15)
    const b = await plan(members[1]!, stB)
    const idsBefore = (await memberList(eps(), tls())).map((x) => x.id).sort()
    const runA = spawnCli(['replace', 'apply', '--plan', a.file, '--yes', '-w', 'json'], { ETCD_INSPECT_REPLACE_PAUSE: 'snapshot:intent' })
    let rA: CliResult
    try {
      await waitStopped(runA.pid)
      const k = await lockKey()
      expect(k).toBeDefined()
      expect(k!.holder).toMatchObject({ opId: a.opId, host: hostname(), pid: runA.pid })
      expect(k!.leaseHex).not.toBe('0')
      expect(k!.leaseHex).toBe(k!.holder.leaseIdHex)
      // The plan's --lock-ttl is the TTL etcd granted the lease with.
      expect(k!.holder.ttlSec).toBe(15)
      const lease = JSON.parse(await etcdctl(eps(), ['lease', 'timetolive', k!.leaseHex, '-w', 'json'], tls())) as { 'granted-ttl': number }
      expect(lease['granted-ttl']).toBe(15)

      const rB = await runCli(['replace', 'apply', '--plan', b.file, '--yes'])
      expect(rB.code).toBe(7)
      const re = new RegExp(`^Error: another replacement holds the cluster lock ${LOCK_KEY}: op ${a.opId} on host ${hostname().replace(/[.]/g, '\\.')} \\(pid ${runA.pid}, since \\S+, lease ${k!.leaseHex}\\); nothing was changed \\(wait for it to finish; if that process is gone its lease expires within 15s\\)\\n$`)
      expect(rB.stderr).toMatch(re)
      // The refusal left nothing behind: no op in B's journal, the membership as it was.
      const stBView = JSON.parse((await runCli(['replace', 'status', '--state-dir', stB, '-w', 'json'])).stdout)
      expect(stBView.ops).toEqual([])
      expect((await memberList(eps(), tls())).map((x) => x.id).sort()).toEqual(idsBefore)

      // abort must not race the live run: refused (exit 7), naming the run and the cluster lock it holds; nothing changed.
      const lockFile = readFileSync(join(stA, 'replace.lock'), 'utf8')
      const ab = await runCli(['replace', 'abort', '--state-dir', stA, '--yes'])
      expect(ab.code, ab.stderr).toBe(7)
      expect(ab.stdout).toBe('')
      const host = hostname().replace(/[.]/g, '\\.')
      expect(ab.stderr).toMatch(new RegExp(`^Error: replace run ${a.opId} is still running \\(pid ${runA.pid}, since \\S+\\); the cluster lock ${LOCK_KEY} is held by op ${a.opId} on host ${host} \\(pid ${runA.pid}, since \\S+, lease ${k!.leaseHex}, \\d+s left\\); nothing was changed \\(let it finish, or stop pid ${runA.pid} first and then abort\\)\\n$`))
      expect(readFileSync(join(stA, 'replace.lock'), 'utf8')).toBe(lockFile)
      expect(JSON.parse((await runCli(['replace', 'status', '--state-dir', stA, '--op', a.opId, '-w', 'json'])).stdout).ops[0].status).toBe('running')
      expect((await lockKey())?.leaseHex).toBe(k!.leaseHex)
    } finally {
      process.kill(runA.pid, 'SIGCONT')
      rA = await runA.done
    }
    expect(rA.code, rA.stderr).toBe(0)
    expect(await lockKey()).toBeUndefined()
    const st = JSON.parse((await runCli(['replace', 'status', '--state-dir', stA, '--op', a.opId, '-w', 'json'])).stdout)
    expect(st.ops[0].status).toBe('complete')
    await expectHealthy()

    // The witness of the new member's data dir (point 3), in A's state dir.
    const res = JSON.parse(rA.stdout) as { facts: Record<string, string>; steps: { kind: string; evidence: { witness?: Record<string, unknown> } }[] }
    const m = members[0]!
    const newId = (await memberList(eps(), tls())).find((x) => x.name === m.name)!.id
    const clusterHex = JSON.parse(readFileSync(a.file, 'utf8')).cluster.idHex as string
    const wpath = join(stA, 'witness', `${clusterHex}-${newId}.json`)
    expect(res.facts.witnessPath).toBe(wpath)
    expect(res.steps.find((s) => s.kind === 'verify')!.evidence.witness).toMatchObject({ written: true, path: wpath, memberIdHex: newId })
    const w = JSON.parse(readFileSync(wpath, 'utf8'))
    expect(w).toMatchObject({ version: 1, clusterId: clusterHex, memberId: newId, name: m.name, peerURLs: [m.peerURL], dataDir: m.dataDir, host: hostname() })
    expect(BigInt(w.lastSeenCommit)).toBeGreaterThan(0n)

    // A later check (as ExecStartPre, member stopped) reads that witness: OK with it as evidence,
    // and a host configured under another name is caught by the witness's name.
    execFileSync('sh', [m.scripts.stop])
    try {
      const ok = await runCli(['check', m.dataDir, ...conn, '--name', m.name, '--initial-advertise-peer-urls', m.peerURL, '--state-dir', stA, '--no-witness', '-w', 'json'])
      expect(ok.code, ok.stdout.slice(0, 1500) + ok.stderr).toBe(0)
      const okj = JSON.parse(ok.stdout)
      expect(okj.verdict).toBe('OK')
      expect(okj.evidence.witness).toMatchObject({ memberId: newId, name: m.name, ts: w.ts })
      const bad = await runCli(['check', m.dataDir, ...conn, '--name', 'not-m1', '--initial-advertise-peer-urls', m.peerURL, '--state-dir', stA, '--no-witness', '-w', 'json'])
      const badj = JSON.parse(bad.stdout)
      expect(badj.verdict).toBe('IDENTITY_MISMATCH')
      expect(bad.code).toBe(24)
      expect(badj.reason).toBe(`the witness for member ${newId} names ${m.name}, but this member is configured as --name not-m1`)
    } finally {
      execFileSync('sh', [m.scripts.start])
      await waitHealthyURL(m.clientURL, m.tls)
    }
  }, T)

  it('a killed holder\'s key blocks other hosts until its lease expires; then they proceed, and the killed op resumes', async () => {
    const stC = join(base, 'state-c')
    const stD = join(base, 'state-d')
    const c = await plan(members[1]!, stC)
    const crashed = await runCli(['replace', 'apply', '--plan', c.file, '--yes'], { ETCD_INSPECT_REPLACE_CRASH: 'cluster-lock:taken' })
    expect(crashed.signal).toBe('SIGKILL')
    const t0 = Date.now()
    const k = await lockKey()
    expect(k?.holder.opId).toBe(c.opId)

    const d = await plan(members[2]!, stD)
    const refused = await runCli(['replace', 'apply', '--plan', d.file, '--yes'])
    expect(refused.code).toBe(7)
    expect(refused.stderr).toMatch(new RegExp(`^Error: another replacement holds the cluster lock ${LOCK_KEY}: op ${c.opId} on host `))

    // Nobody keeps the dead holder's lease alive: the key goes with it (TTL 10 s).
    while (await lockKey()) {
      expect(Date.now() - t0).toBeLessThan(20000)
      await new Promise((r) => setTimeout(r, 500))
    }
    expect(Date.now() - t0).toBeGreaterThan(3000)
    const rD = await runCli(['replace', 'apply', '--plan', d.file, '--yes', '-w', 'json'])
    expect(rD.code, rD.stderr).toBe(0)
    expect(await lockKey()).toBeUndefined()

    // C's plan predates D's replacement; resume re-derives everything from the live cluster.
    const rC = await runCli(['replace', 'resume', '--state-dir', stC, '--yes', '-w', 'json'])
    expect(rC.code, rC.stderr).toBe(0)
    expect(JSON.parse(rC.stdout)).toMatchObject({ opId: c.opId, status: 'complete', resumed: true })
    expect(await lockKey()).toBeUndefined()
    await expectHealthy()
  }, T)
})

describe('replace: leadership before a surge removal', () => {
  it('moves leadership off the old member when it leads at removal time, journals it, and shows the step in the plan', async () => {
    const old = members[0]!
    const nm = await newHostMember(base, pki, 's1', '127.0.0.4')
    all.push(nm)
    const st = join(base, 'state-surge')
    const p = await plan(old, st, ['--new-config', nm.envFile, '--new-start-cmd', nm.scripts.start, '--new-stop-cmd', nm.scripts.stop])
    const kinds = p.json.steps.map((s) => s.kind)
    expect(kinds.indexOf('move-leader')).toBe(kinds.indexOf('remove-member') - 1)
    const oldId = (await memberList(eps(), tls())).find((x) => x.name === old.name)!.id
    expect(p.json.steps.find((s) => s.kind === 'move-leader')!.fromHex).toBe(oldId)
    expect(p.stdout).toContain(`move leadership away from ${old.name} if it leads at removal time`)

    // Make the old member the leader (etcdctl finds the current leader among the endpoints).
    await etcdctl(eps(), ['move-leader', oldId], tls())
    const leaderOf = async (ep: string): Promise<string> => {
      const out = await etcdctl(ep, ['endpoint', 'status', '-w', 'json'], tls())
      return BigInt(/"leader":(\d+)/.exec(out)![1]!).toString(16)
    }
    expect(await leaderOf(old.clientURL)).toBe(oldId)

    const r = await runCli(['replace', 'apply', '--plan', p.file, '--yes', '-w', 'json'])
    expect(r.code, r.stderr).toBe(0)
    const res = JSON.parse(r.stdout) as { steps: { kind: string; outcome: string; evidence: { from?: string; to?: string; leader?: string } }[] }
    const ml = res.steps.find((s) => s.kind === 'move-leader')!
    expect(ml.outcome).toBe('done')
    expect(ml.evidence.from).toBe(oldId)
    expect(ml.evidence.leader).not.toBe(oldId)
    expect(ml.evidence.leader).toBe(ml.evidence.to)
    const view = JSON.parse((await runCli(['replace', 'status', '--state-dir', st, '--op', p.opId, '-w', 'json'])).stdout)
    const js = view.ops[0].steps.find((s: { kind: string }) => s.kind === 'move-leader')
    expect(js.state).toBe('done')
    expect(js.evidence).toMatchObject({ from: oldId, to: ml.evidence.to })

    members[0] = nm
    conn[1] = eps().join(',')
    const list = await memberList(eps(), tls())
    expect(list.map((x) => x.name).sort()).toEqual(members.map((x) => x.name).sort())
    expect(list.some((x) => x.id === oldId)).toBe(false)
    await expectHealthy()
    expect(existsSync(old.dataDir)).toBe(false)
  }, T)

  it('skips the transfer (journaled as skip) when the old member does not lead', async () => {
    const old = members[1]!
    const nm = await newHostMember(base, pki, 's2', '127.0.0.5')
    all.push(nm)
    const st = join(base, 'state-surge2')
    const p = await plan(old, st, ['--new-config', nm.envFile, '--new-start-cmd', nm.scripts.start, '--new-stop-cmd', nm.scripts.stop])
    const list0 = await memberList(eps(), tls())
    const oldId = list0.find((x) => x.name === old.name)!.id
    const other = list0.find((x) => x.name === members[2]!.name)!.id
    await etcdctl(eps(), ['move-leader', other], tls())
    const r = await runCli(['replace', 'apply', '--plan', p.file, '--yes', '-w', 'json'])
    expect(r.code, r.stderr).toBe(0)
    const ml = (JSON.parse(r.stdout) as { steps: { kind: string; outcome: string; evidence: { leader?: string } }[] }).steps.find((s) => s.kind === 'move-leader')!
    expect(ml.outcome).toBe('skipped')
    expect(ml.evidence.leader).not.toBe(oldId)
    members[1] = nm
    conn[1] = eps().join(',')
    await expectHealthy()
  }, T)
})
