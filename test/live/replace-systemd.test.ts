/**
 * `replace apply --systemd-unit` end to end on a real 3-member TLS cluster (Debian etcd 3.4).
 * systemd cannot run in the test container, so a test-written `systemctl` first on PATH stands
 * in for it (test/replace/helpers.ts, writeFakeSystemctl): it stops and starts the real etcd
 * member by PID through its pid file, keeps a runtime mask, refuses to start a masked unit, and
 * logs every call. etcd itself is real. Also: the plan shows the systemctl calls (in place and
 * with surge's --new-systemd-unit) and checks, read-only, that each unit is known on this host
 * (refused when not, or without systemctl; a warning when masked); apply re-checks before the stop
 * step; a failing systemctl stops apply at the stop step with nothing moved; and a mask that
 * failed after the stop is set again by resume before the removal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { etcdctl, tempDir } from '../support/etcd.js'
import { killPidFile, memberList, newHostMember, runCli, spawnCli, startTlsCluster, waitStopped, writeFakeSystemctl, type CliResult, type ScriptMember, type TestPki } from '../replace/helpers.js'

const T = 300_000
const LOCK_KEY = '/etcd-inspect/replace-lock'
let base: string
let pki: TestPki
let members: ScriptMember[]
const all: ScriptMember[] = []
let eps: string[]
let conn: string[]
const tls = (): ScriptMember['tls'] => members[0]!.tls

/** Where a data dir is (its inodes: a rename keeps them, so a moved dir cannot pass) and which member's WAL files it holds. */
const place = (dir: string): { dir: number; member: number; wal: string[] } => ({ dir: statSync(dir).ino, member: statSync(join(dir, 'member')).ino, wal: readdirSync(join(dir, 'member', 'wal')).filter((n) => n.endsWith('.wal')) })
const archivesOf = (dataDir: string): string[] => readdirSync(dirname(dataDir)).filter((n) => n.startsWith(`${basename(dataDir)}.removed-`))

async function keysOk(ep: string): Promise<number> {
  const out = await etcdctl(ep, ['get', 'k/', '--prefix', '--consistency=s'], tls())
  const lines = out.split('\n').filter((l) => l !== '')
  let ok = 0
  for (let i = 0; i + 1 < lines.length; i += 2) if (lines[i + 1] === `v-${lines[i]!.split('/').pop()}`) ok++
  return ok
}

async function lockKey(): Promise<{ holder: { opId: string; pid: number; ttlSec?: number }; leaseHex: string } | undefined> {
  const out = await etcdctl(eps, ['get', LOCK_KEY, '-w', 'json'], tls())
  const kv = (JSON.parse(out.replace(/"lease":(\d+)/g, '"lease":"$1"')) as { kvs?: { value: string; lease?: string }[] }).kvs?.[0]
  return kv ? { holder: JSON.parse(Buffer.from(kv.value, 'base64').toString()), leaseHex: BigInt(kv.lease ?? '0').toString(16) } : undefined
}

beforeAll(async () => {
  ;({ base, pki, members, eps, conn } = await startTlsCluster('replace-systemd-'))
  all.push(...members)
  const t = tls()
  for (let i = 0; i < 30; i++) await etcdctl(eps, ['put', `k/${i}`, `v-${i}`], t)
}, T)

afterAll(() => {
  for (const m of all) killPidFile(m.scripts.pidFile)
})

describe('replace with --systemd-unit (systemctl stand-in, real etcd)', () => {
  it('the plan shows the systemctl calls in JSON and table, also for surge\'s --new-systemd-unit, and runs none but the read-only unit check', async () => {
    const m3 = members[2]!
    const m1 = members[0]!
    const fake = writeFakeSystemctl(join(base, 'sd-plan'), 'etcd-m3.service', m3.scripts.start, m3.scripts.stop, { alsoLoaded: ['etcd-m1.service', 'etcd-m4.service'] })
    const args = [...conn, '--config', m3.envFile, '--state-dir', join(base, 'state-plan'), '--systemd-unit', 'etcd-m3.service']
    const pj = await runCli(['replace', 'plan', ...args, '-w', 'json'], fake.env)
    expect(pj.code, pj.stderr).toBe(0)
    const p = JSON.parse(pj.stdout) as { lockTtlSec: number; warnings: string[]; steps: { kind: string; actions: string[]; preconditions: string[]; control?: unknown }[] }
    const stop = p.steps.find((s) => s.kind === 'stop-member')!
    const start = p.steps.find((s) => s.kind === 'start-member')!
    expect(stop.control).toEqual({ kind: 'systemd', unit: 'etcd-m3.service' })
    expect(stop.actions).toEqual(['systemctl stop etcd-m3.service', 'systemctl mask --runtime etcd-m3.service'])
    expect(stop.preconditions).toContain('systemd knows etcd-m3.service on this host (systemctl show -p LoadState, re-checked right before the stop)')
    expect(start.actions.slice(0, 2)).toEqual(['systemctl unmask --runtime etcd-m3.service', 'systemctl start etcd-m3.service'])
    expect(p.lockTtlSec).toBe(10)
    const pt = await runCli(['replace', 'plan', ...args, '-w', 'table'], fake.env)
    expect(pt.code, pt.stderr).toBe(0)
    for (const a of [...stop.actions, ...start.actions.slice(0, 2)]) expect(pt.stdout).toContain(a)

    // Surge: the new member's unit is started (after an unmask, a no-op on a unit never masked),
    // the old one stopped and masked after its removal.
    const m4 = await newHostMember(base, pki, 'm4', '127.0.0.4')
    const sj = await runCli(['replace', 'plan', ...conn, '--config', m1.envFile, '--state-dir', join(base, 'state-plan'), '--systemd-unit', 'etcd-m1.service',
      '--new-config', m4.envFile, '--new-systemd-unit', 'etcd-m4.service', '-w', 'json'], fake.env)
    expect(sj.code, sj.stderr).toBe(0)
    const s = JSON.parse(sj.stdout) as { mode: string; steps: { kind: string; actions: string[]; control?: unknown }[] }
    expect(s.mode).toBe('surge')
    const sStart = s.steps.find((x) => x.kind === 'start-member')!
    expect(sStart.control).toEqual({ kind: 'systemd', unit: 'etcd-m4.service' })
    expect(sStart.actions.slice(0, 2)).toEqual(['systemctl unmask --runtime etcd-m4.service', 'systemctl start etcd-m4.service'])
    expect(s.steps.find((x) => x.kind === 'stop-member')!.actions).toEqual(['systemctl stop etcd-m1.service', 'systemctl mask --runtime etcd-m1.service'])
    expect(s.steps.map((x) => x.kind).indexOf('stop-member')).toBeGreaterThan(s.steps.map((x) => x.kind).indexOf('remove-member'))

    // Only `show -p LoadState` ran: once per plan for the in-place unit, and for both surge units
    // (asked at the same time, so in either order).
    const calls = fake.calls()
    expect(calls.slice(0, 2)).toEqual(['show -p LoadState --value etcd-m3.service', 'show -p LoadState --value etcd-m3.service'])
    expect(calls.slice(2).sort()).toEqual(['show -p LoadState --value etcd-m1.service', 'show -p LoadState --value etcd-m4.service'])
    // A loaded unit adds no warning (the quorum warning of a 3-member cluster stays).
    expect(p.warnings.filter((w) => w.includes('etcd-m3.service'))).toEqual([])
    expect(existsSync(join(base, 'state-plan'))).toBe(false)
  }, T)

  it('plan checks each unit read-only: unknown (also surge\'s new unit) or no systemctl is refused, exit 7, nothing written; masked is a warning', async () => {
    const m3 = members[2]!
    const m1 = members[0]!
    const fake = writeFakeSystemctl(join(base, 'sd-check'), 'etcd-m3.service', m3.scripts.start, m3.scripts.stop, { alsoLoaded: ['etcd-m1.service'] })
    const state = join(base, 'state-check')
    const plan = (unit: string, env: NodeJS.ProcessEnv, extra: string[] = []): Promise<CliResult> =>
      runCli(['replace', 'plan', ...conn, '--config', m3.envFile, '--state-dir', state, '--systemd-unit', unit, ...extra, '-w', 'json'], env)
    const hint = (flag: string): string => ` (check ${flag}, or use the stop/start command options instead)\n`

    const typo = await plan('etcd-typo.service', fake.env)
    expect(typo.code, typo.stderr).toBe(7)
    expect(typo.stdout).toBe('')
    expect(typo.stderr).toBe(`Error: --systemd-unit etcd-typo.service: systemd does not know this unit on this host (LoadState not-found); nothing was changed${hint('--systemd-unit')}`)

    const m4 = await newHostMember(base, pki, 'm4b', '127.0.0.4')
    const surge = await runCli(['replace', 'plan', ...conn, '--config', m1.envFile, '--state-dir', state, '--systemd-unit', 'etcd-m1.service',
      '--new-config', m4.envFile, '--new-systemd-unit', 'etcd-m4-typo.service', '-w', 'json'], fake.env)
    expect(surge.code, surge.stderr).toBe(7)
    expect(surge.stderr).toBe(`Error: --new-systemd-unit etcd-m4-typo.service: systemd does not know this unit on this host (LoadState not-found); nothing was changed${hint('--new-systemd-unit')}`)

    // A PATH without systemctl (node itself is run by its absolute path).
    const none = await plan('etcd-m3.service', { PATH: tempDir('no-systemctl-') })
    expect(none.code, none.stderr).toBe(7)
    expect(none.stderr).toBe(`Error: --systemd-unit etcd-m3.service: systemctl not found on PATH, so this host cannot stop or start the unit; nothing was changed${hint('--systemd-unit')}`)

    // Masked: planned, with a warning in the JSON and the table.
    writeFileSync(fake.maskFile, '')
    const masked = await plan('etcd-m3.service', fake.env)
    expect(masked.code, masked.stderr).toBe(0)
    const warning = '--systemd-unit etcd-m3.service is masked: a previous replacement probably stopped before its start step (see replace status; `systemctl unmask --runtime etcd-m3.service` once nothing else needs it down)'
    expect((JSON.parse(masked.stdout) as { warnings: string[] }).warnings.filter((w) => w.includes('etcd-m3.service'))).toEqual([warning])
    const table = await runCli(['replace', 'plan', ...conn, '--config', m3.envFile, '--state-dir', state, '--systemd-unit', 'etcd-m3.service', '-w', 'table'], fake.env)
    expect(table.stdout).toContain(`warning: ${warning}`)
    rmSync(fake.maskFile)

    // Read-only throughout: one LoadState query per unit and plan (none without systemctl).
    expect(fake.calls().sort()).toEqual(['etcd-m1.service', 'etcd-m3.service', 'etcd-m3.service', 'etcd-m4-typo.service', 'etcd-typo.service'].map((u) => `show -p LoadState --value ${u}`))
    expect(existsSync(state)).toBe(false)
    await etcdctl(m3.clientURL, ['endpoint', 'health'], tls())
  }, T)

  it('apply re-checks the unit before the stop step (gone since the plan: refused, exit 7); a failing systemctl stop: exit 6; both journaled, data dir not moved', async () => {
    const m3 = members[2]!
    const fake = writeFakeSystemctl(join(base, 'sd-fail'), 'etcd-m3.service', m3.scripts.start, m3.scripts.stop)
    const state = join(base, 'state-fail')
    const planFile = join(base, 'sd-fail', 'plan.json')
    const pl = await runCli(['replace', 'plan', ...conn, '--config', m3.envFile, '--state-dir', state, '--systemd-unit', 'etcd-m3.service', '-o', planFile, '-w', 'json'], fake.env)
    expect(pl.code, pl.stderr).toBe(0)
    // The member keeps running (its WAL grows), so the dir is compared by place, not by content.
    const dirBefore = place(m3.dataDir)
    const idsBefore = (await memberList(eps, tls())).map((x) => x.id).sort()
    const unchanged = async (): Promise<void> => {
      expect(place(m3.dataDir)).toEqual(dirBefore)
      expect(archivesOf(m3.dataDir)).toEqual([])
      expect((await memberList(eps, tls())).map((x) => x.id).sort()).toEqual(idsBefore)
      await etcdctl(m3.clientURL, ['endpoint', 'health'], tls())
      expect(await lockKey()).toBeUndefined()
      expect(existsSync(fake.maskFile)).toBe(false)
    }
    type Status = { ops: { opId: string; status: string; lastError: string; steps: { kind: string; state: string; message?: string }[] }[] }
    const status = async (): Promise<Status['ops'][number]> => {
      const st = JSON.parse((await runCli(['replace', 'status', '--state-dir', state, '-w', 'json'])).stdout) as Status
      expect(st.ops).toHaveLength(1)
      return st.ops[0]!
    }

    // The unit file was removed (or renamed) after the plan: systemd no longer knows the unit.
    fake.setGone(true)
    const r = await runCli(['replace', 'apply', '--plan', planFile, '--yes'], fake.env)
    const gone = '--systemd-unit etcd-m3.service: systemd does not know this unit on this host (LoadState not-found); nothing was changed'
    expect(r.code, r.stderr).toBe(7)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(new RegExp(`^Error: ${gone.replace(/[.()]/g, '\\$&')} \\(check --systemd-unit, or use the stop/start command options instead; the journal records the failure: fix the cause, then \`etcd-inspect replace resume --state-dir ${state} --op \\S+ --yes\`\\)\n$`))
    // No stop was attempted: the plan's check and the stop step's re-check, nothing else.
    expect(fake.calls()).toEqual(['show -p LoadState --value etcd-m3.service', 'show -p LoadState --value etcd-m3.service'])
    await unchanged()
    let op = await status()
    expect(op.status).toBe('failed')
    expect(op.steps.find((x) => x.kind === 'stop-member')).toMatchObject({ state: 'fail', message: gone })
    expect(op.steps.filter((x) => x.state !== 'pending' && x.kind !== 'snapshot' && x.kind !== 'move-leader').map((x) => x.kind)).toEqual(['stop-member'])

    // Back, but `systemctl stop` fails: one line naming the command and its exit status, exit 6.
    fake.setGone(false)
    fake.failOnce('stop', 'Failed to stop etcd-m3.service: Access denied')
    const r2 = await runCli(['replace', 'resume', '--state-dir', state, '--yes'], fake.env)
    const line = 'systemctl stop etcd-m3.service failed (exit 1): Failed to stop etcd-m3.service: Access denied'
    expect(r2.code, r2.stderr).toBe(6)
    expect(r2.stdout).toBe('')
    expect(r2.stderr).toMatch(new RegExp(`^Error: ${line.replace(/[.()]/g, '\\$&')} \\(fix the cause, then \`etcd-inspect replace resume --state-dir ${state} --op \\S+ --yes\` runs the step again\\)\n$`))
    // Nothing after the failed stop ran: no mask, no removal, no archive.
    expect(fake.calls().slice(2)).toEqual(['show -p LoadState --value etcd-m3.service', 'stop etcd-m3.service'])
    await unchanged()
    op = await status()
    expect(op.status).toBe('failed')
    expect(op.steps.find((x) => x.kind === 'stop-member')).toMatchObject({ state: 'fail', message: line })
    expect(op.lastError).toMatch(new RegExp(`^step \\d+ stop-member: ${line.replace(/[.()]/g, '\\$&')}$`))

    // Abort with the cluster reachable and the lock free: marked aborted, nothing else.
    const ab = await runCli(['replace', 'abort', '--state-dir', state, '--yes', '-w', 'json'])
    expect(ab.code, ab.stderr).toBe(0)
    expect(JSON.parse(ab.stdout)).toMatchObject({ opId: op.opId, previousStatus: 'failed', clusterLock: { state: 'free' } })
    expect(place(m3.dataDir)).toEqual(dirBefore)
  }, T)

  it('a mask that fails after the stop: apply stops (exit 6) with the member down; resume masks again before the removal and completes', async () => {
    const m2 = members[1]!
    const unit = 'etcd-m2.service'
    const fake = writeFakeSystemctl(join(base, 'sd-mask'), unit, m2.scripts.start, m2.scripts.stop)
    const state = join(base, 'state-mask')
    const oldId = (await memberList(eps, tls())).find((x) => x.name === 'm2')!.id
    fake.failOnce('mask', 'Failed to mask unit: Read-only file system')
    const a = await runCli(['replace', 'apply', ...conn, '--config', m2.envFile, '--state-dir', state, '--systemd-unit', unit, '--yes'], fake.env)
    const line = `systemctl mask --runtime ${unit} failed (exit 1): Failed to mask unit: Read-only file system`
    expect(a.code, a.stderr).toBe(6)
    expect(a.stderr).toMatch(new RegExp(`^Error: ${line.replace(/[.()]/g, '\\$&')} \\(fix the cause, then \`etcd-inspect replace resume --state-dir ${state} --op \\S+ --yes\` runs the step again\\)\n$`))
    const show = `show -p LoadState --value ${unit}`
    expect(fake.calls()).toEqual([show, show, `stop ${unit}`, `mask --runtime ${unit}`])
    // Stopped but not masked: the gap resume has to close. Still a member, its dir in place.
    expect(existsSync(m2.scripts.pidFile)).toBe(false)
    expect(existsSync(fake.maskFile)).toBe(false)
    expect((await memberList(eps, tls())).some((x) => x.id === oldId)).toBe(true)
    const dirStopped = place(m2.dataDir)

    // Paused at the next step's intent: the mask must be back before anything else acts.
    const run = spawnCli(['replace', 'resume', '--state-dir', state, '--yes', '--lock-ttl', '30', '-w', 'json'], { ...fake.env, ETCD_INSPECT_REPLACE_PAUSE: 'remove-member:intent' })
    let r: CliResult
    try {
      await waitStopped(run.pid)
      expect(fake.calls().slice(4)).toEqual([`mask --runtime ${unit}`])
      expect(existsSync(fake.maskFile)).toBe(true)
      expect((await memberList(eps, tls())).some((x) => x.id === oldId)).toBe(true)
      expect(place(m2.dataDir)).toEqual(dirStopped)
      // Journaled as the stop step's evidence, before the removal's intent.
      const st = JSON.parse((await runCli(['replace', 'status', '--state-dir', state, '-w', 'json'])).stdout) as { ops: { steps: { kind: string; state: string; evidence?: { mask?: unknown } }[] }[] }
      const steps = st.ops[0]!.steps
      expect(steps.find((x) => x.kind === 'stop-member')).toMatchObject({ state: 'skip', evidence: { oldMemberRunning: false, mask: { unit, masked: 're-established', command: `systemctl mask --runtime ${unit}` } } })
      expect(steps.find((x) => x.kind === 'remove-member')!.state).toBe('intent')
    } finally {
      process.kill(run.pid, 'SIGCONT')
      r = await run.done
    }
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(fake.calls().slice(4)).toEqual([`mask --runtime ${unit}`, `unmask --runtime ${unit}`, `start ${unit}`])
    expect(existsSync(fake.maskFile)).toBe(false)
    const res = JSON.parse(r.stdout) as { status: string; resumed: boolean; steps: { kind: string; outcome: string; evidence: { mask?: { masked: string } } }[] }
    expect(res).toMatchObject({ status: 'complete', resumed: true })
    expect(res.steps.find((x) => x.kind === 'stop-member')).toMatchObject({ outcome: 'skipped', evidence: { mask: { masked: 're-established' } } })
    const list = await memberList(eps, tls())
    expect(list).toHaveLength(3)
    expect(list.every((x) => !x.learner && x.name !== '')).toBe(true)
    expect(list.find((x) => x.name === 'm2')!.id).not.toBe(oldId)
    for (const ep of eps) expect(await keysOk(ep)).toBe(30)
    expect(await lockKey()).toBeUndefined()
  }, T)

  it('apply --yes --systemd-unit replaces a healthy member: stop, mask --runtime, … unmask --runtime, start; lease granted with --lock-ttl', async () => {
    const m3 = members[2]!
    const fake = writeFakeSystemctl(join(base, 'sd-ok'), 'etcd-m3.service', m3.scripts.start, m3.scripts.stop)
    const state = join(base, 'state-ok')
    const oldId = (await memberList(eps, tls())).find((x) => x.name === 'm3')!.id
    const oldPid = Number(readFileSync(m3.scripts.pidFile, 'utf8'))
    // Paused right before the add: the old member is stopped, removed and archived by then.
    const run = spawnCli(['replace', 'apply', ...conn, '--config', m3.envFile, '--state-dir', state, '--systemd-unit', 'etcd-m3.service', '--lock-ttl', '30', '--yes', '-w', 'json'],
      { ...fake.env, ETCD_INSPECT_REPLACE_PAUSE: 'add-learner:intent' })
    let r: CliResult
    try {
      await waitStopped(run.pid)
      expect(fake.calls()).toEqual(['show -p LoadState --value etcd-m3.service', 'show -p LoadState --value etcd-m3.service', 'stop etcd-m3.service', 'mask --runtime etcd-m3.service'])
      expect(existsSync(fake.maskFile)).toBe(true)
      expect(() => process.kill(oldPid, 0)).toThrow()
      // The stand-in enforces the mask: a start now (a Restart= policy, an operator) is refused.
      const probe = await new Promise<{ code: number | null; stderr: string }>((resolve) => execFile('systemctl', ['start', 'etcd-m3.service'],
        { env: { ...process.env, ...fake.env, FAKE_SYSTEMCTL_LOG: join(base, 'probe.log') } }, (e, _o, stderr) => resolve({ code: e ? (e as { code?: number }).code ?? null : 0, stderr })))
      expect(probe).toEqual({ code: 1, stderr: 'Failed to start etcd-m3.service: Unit etcd-m3.service is masked.\n' })
      expect(existsSync(m3.scripts.pidFile)).toBe(false)
      // The cluster lock's lease was granted with --lock-ttl, as etcd itself reports it.
      const k = await lockKey()
      expect(k?.holder).toMatchObject({ pid: run.pid, ttlSec: 30 })
      const ttl = JSON.parse(await etcdctl(eps, ['lease', 'timetolive', k!.leaseHex, '-w', 'json'], tls())) as { 'granted-ttl': number; ttl: number }
      expect(ttl['granted-ttl']).toBe(30)
      expect(ttl.ttl).toBeGreaterThan(10)
    } finally {
      process.kill(run.pid, 'SIGCONT')
      r = await run.done
    }
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(fake.calls()).toEqual(['show -p LoadState --value etcd-m3.service', 'show -p LoadState --value etcd-m3.service', 'stop etcd-m3.service', 'mask --runtime etcd-m3.service', 'unmask --runtime etcd-m3.service', 'start etcd-m3.service'])
    expect(existsSync(fake.maskFile)).toBe(false)
    const res = JSON.parse(r.stdout) as { status: string; facts: Record<string, string>; steps: { kind: string; outcome: string; evidence: { output?: string } }[] }
    expect(res.status).toBe('complete')
    expect(res.facts.lockTtlSec).toBe('30')
    // systemctl's output is the step's evidence.
    expect(res.steps.find((s) => s.kind === 'stop-member')!.evidence.output).toContain('Created symlink /run/systemd/system/etcd-m3.service')

    // End state: the archive, three healthy voters of one cluster, m3 under a new ID, every key on every member.
    const archive = res.facts.archivePath!
    expect(archivesOf(m3.dataDir)).toEqual([basename(archive)])
    expect(JSON.parse(readFileSync(join(archive, 'ARCHIVE.json'), 'utf8')).memberIdHex).toBe(oldId)
    const list = await memberList(eps, tls())
    expect(list).toHaveLength(3)
    expect(list.every((x) => !x.learner && x.name !== '')).toBe(true)
    expect(list.find((x) => x.name === 'm3')!.id).not.toBe(oldId)
    const st = JSON.parse((await etcdctl(eps, ['endpoint', 'status', '-w', 'json'], tls())).replace(/"(cluster_id|member_id|leader)":(\d+)/g, '"$1":"$2"')) as { Status: { header: { cluster_id: string }; leader: string } }[]
    expect(st).toHaveLength(3)
    expect(new Set(st.map((x) => x.Status.header.cluster_id)).size).toBe(1)
    expect(new Set(st.map((x) => x.Status.leader)).size).toBe(1)
    await etcdctl(eps, ['endpoint', 'health'], tls())
    for (const ep of eps) expect(await keysOk(ep)).toBe(30)
    expect(await lockKey()).toBeUndefined()
  }, T)
})
