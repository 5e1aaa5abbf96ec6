/**
 * Crash-safety of `replace apply`: the apply process is SIGKILLed at every step boundary (after
 * the intent record, after the action but before its journal record, after the done record, and
 * inside the catch-up wait), then `replace resume` must finish with the same end state: three
 * healthy voters, the target under a new ID, every key readable on every member, the archive
 * consistent with its manifest. One cluster for the whole file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { etcdctl } from '../support/etcd.js'
import { killPidFile, memberList, newHostMember, runCli, runPrinted, startTlsCluster, type ScriptMember, type TestPki } from '../replace/helpers.js'
import { readManifest, verifyArchive } from '../../src/io/archive.js'
import { existsSync, readdirSync } from 'node:fs'

const T = 600_000
let base: string
let members: ScriptMember[]
let pki: TestPki
const extra: ScriptMember[] = []
let eps: string[]
let conn: string[]
const stateDir = (): string => join(base, 'state')

async function leaderName(): Promise<string> {
  const out = await etcdctl(eps, ['endpoint', 'status', '-w', 'json'], members[0]!.tls)
  const st = JSON.parse(out.replace(/"(cluster_id|member_id|leader)":(\d+)/g, '"$1":"$2"')) as { Endpoint: string; Status: { header: { member_id: string }; leader: string } }[]
  const l = st.find((s) => s.Status.header.member_id === s.Status.leader)!
  return members.find((m) => m.clientURL === l.Endpoint)!.name
}

async function keysOk(ep: string): Promise<number> {
  const out = await etcdctl(ep, ['get', 'k/', '--prefix', '--consistency=s'], members[0]!.tls)
  const lines = out.split('\n').filter((l) => l !== '')
  let ok = 0
  for (let i = 0; i + 1 < lines.length; i += 2) if (lines[i + 1] === `v-${lines[i]!.split('/').pop()}`) ok++
  return ok
}

beforeAll(async () => {
  ;({ base, pki, members, eps, conn } = await startTlsCluster('replace-resume-'))
  extra.push(...members)
  const t = members[0]!.tls
  for (let i = 0; i < 50; i++) await etcdctl(eps, ['put', `k/${i}`, `v-${i}`], t)
}, T)

afterAll(() => {
  for (const m of extra) killPidFile(m.scripts.pidFile)
})

const points = [
  'snapshot:intent', 'snapshot:done',
  'move-leader:done',
  'stop-member:intent', 'stop-member:done',
  'remove-member:acted', 'remove-member:done',
  // renamed: after the data dir's rename, before ARCHIVE.json is written.
  'archive-data-dir:renamed', 'archive-data-dir:acted', 'archive-data-dir:done',
  'add-learner:acted', 'add-learner:done',
  'write-config:done',
  'start-member:acted', 'start-member:done',
  'wait-caught-up:inside', 'wait-caught-up:done',
  'promote-learner:acted', 'promote-learner:done',
]

describe('replace apply killed at every step boundary; resume finishes', () => {
  let round = 0
  for (const point of points) {
    it(`crash at ${point}`, async () => {
      const kind = point.split(':')[0]!
      // move-leader only exists when the target leads: pick the leader then, else rotate.
      const name = kind === 'move-leader' ? await leaderName() : members[round++ % 3]!.name
      const m = members.find((x) => x.name === name)!
      const before = (await memberList(eps, m.tls)).find((x) => x.name === name)!.id
      // A config that differs from the rendered one (an operator's file still saying "new"), so write-config acts in every round.
      writeFileSync(m.envFile, readFileSync(m.envFile, 'utf8').replace(/^ETCD_INITIAL_CLUSTER_STATE=.*$/m, 'ETCD_INITIAL_CLUSTER_STATE=new'))
      const planFile = join(base, `plan-${point.replace(':', '-')}.json`)
      const plan = await runCli(['replace', 'plan', ...conn, '--config', m.envFile, '--state-dir', stateDir(), '--stop-cmd', m.scripts.stop, '--start-cmd', m.scripts.start, '-w', 'json', '-o', planFile])
      expect(plan.stderr).toBe('')
      const kinds = (JSON.parse(plan.stdout) as { steps: { kind: string }[] }).steps.map((s) => s.kind)
      expect(kinds).toContain(kind)

      const crashed = await runCli(['replace', 'apply', '--plan', planFile, '--yes'], { ETCD_INSPECT_REPLACE_CRASH: point })
      expect(crashed.signal, crashed.stderr).toBe('SIGKILL')
      const opId = JSON.parse(plan.stdout).opId as string
      if (point === 'archive-data-dir:renamed') {
        // Killed exactly between the rename and the manifest: the archive exists without ARCHIVE.json.
        const parent = join(m.dataDir, '..')
        const archives = readdirSync(parent).filter((n) => n.startsWith(`${m.name}.etcd.removed-${before}-`))
        expect(archives).toHaveLength(1)
        expect(existsSync(join(parent, archives[0]!, 'ARCHIVE.json'))).toBe(false)
        expect(existsSync(join(parent, archives[0]!, 'member', 'wal'))).toBe(true)
        expect(existsSync(m.dataDir)).toBe(false)
      }

      const r = await runCli(['replace', 'resume', '--state-dir', stateDir(), '--yes', '-w', 'json'])
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
      const res = JSON.parse(r.stdout) as { status: string; resumed: boolean; facts: Record<string, string> }
      expect(res.status).toBe('complete')
      expect(res.resumed).toBe(true)

      const list = await memberList(eps, m.tls)
      expect(list).toHaveLength(3)
      expect(list.every((x) => !x.learner && x.name !== '')).toBe(true)
      expect(list.find((x) => x.name === name)!.id).not.toBe(before)
      await etcdctl(eps, ['endpoint', 'health'], m.tls)
      for (const ep of eps) expect(await keysOk(ep)).toBe(50)
      expect(res.facts.archivePath).toBeTruthy()
      expect(verifyArchive(res.facts.archivePath!)).toEqual([])
      if (point === 'archive-data-dir:renamed') {
        // resume wrote the manifest from the archive's contents, and the journal says so.
        const man = readManifest(res.facts.archivePath!)!
        expect(man).toMatchObject({ version: 1, opId, memberIdHex: before, originalPath: m.dataDir, archivePath: res.facts.archivePath, reason: 'MEMBER' })
        expect(man.recoveredAt).toBeTruthy()
        expect(man.files.map((f) => f.path)).toContain('member/snap/db')
        expect(man.files.some((f) => /^member\/wal\/[0-9a-f]{16}-[0-9a-f]{16}\.wal$/.test(f.path))).toBe(true)
        expect(man.files.some((f) => f.path.includes('ARCHIVE.json'))).toBe(false)
        const st = JSON.parse((await runCli(['replace', 'status', '--state-dir', stateDir(), '--op', opId, '-w', 'json'])).stdout)
        const arch = st.ops[0].steps.find((x: { kind: string }) => x.kind === 'archive-data-dir')
        expect(arch.state).toBe('done')
        expect(arch.evidence.manifest).toMatch(/^written on resume/)
        expect(arch.evidence.archive).toBe(res.facts.archivePath)
      }
    }, T)
  }

  it('resume with nothing unfinished is a usage error', async () => {
    const r = await runCli(['replace', 'resume', '--state-dir', stateDir(), '--yes'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^Error: no unfinished operation in the journal/)
  })

  // (In surge mode the removed old member exits by itself, so stop-member is usually already done and skipped.)
  const surgePoints = ['add-learner:done', 'start-member:acted', 'promote-learner:acted', 'remove-member:done', 'archive-data-dir:acted']
  for (const [i, point] of surgePoints.entries()) {
    it(`surge: crash at ${point}`, async () => {
      const old = members[i % 3]!
      const nm = await newHostMember(base, pki, `s${i + 1}`, `127.0.0.${4 + i}`)
      extra.push(nm)
      const planFile = join(base, `plan-surge-${i}.json`)
      const plan = await runCli(['replace', 'plan', ...conn, '--config', old.envFile, '--state-dir', stateDir(), '--stop-cmd', old.scripts.stop, '--start-cmd', old.scripts.start,
        '--new-config', nm.envFile, '--new-start-cmd', nm.scripts.start, '--new-stop-cmd', nm.scripts.stop, '-w', 'json', '-o', planFile])
      expect(plan.stderr).toBe('')
      expect(JSON.parse(plan.stdout).mode).toBe('surge')
      const crashed = await runCli(['replace', 'apply', '--plan', planFile, '--yes'], { ETCD_INSPECT_REPLACE_CRASH: point })
      expect(crashed.signal, crashed.stderr).toBe('SIGKILL')
      const r = await runCli(['replace', 'resume', '--state-dir', stateDir(), '--yes', '-w', 'json'])
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
      members[i % 3] = nm
      eps = members.map((m) => m.clientURL)
      conn[1] = eps.join(',')
      const list = await memberList(eps, nm.tls)
      expect(list.map((m) => m.name).sort()).toEqual(members.map((m) => m.name).sort())
      expect(list.every((m) => !m.learner)).toBe(true)
      await etcdctl(eps, ['endpoint', 'health'], nm.tls)
      for (const ep of eps) expect(await keysOk(ep)).toBe(50)
      const res = JSON.parse(r.stdout) as { facts: Record<string, string> }
      expect(verifyArchive(res.facts.archivePath!)).toEqual([])
    }, T)
  }

  it('a replacement that hangs after its start fails the bounded start wait (exit 6, the process exits); resume finishes once it runs again', async () => {
    const m = members[1]!
    writeFileSync(m.envFile, readFileSync(m.envFile, 'utf8').replace(/^ETCD_INITIAL_CLUSTER_STATE=.*$/m, 'ETCD_INITIAL_CLUSTER_STATE=new'))
    const planFile = join(base, 'plan-hang.json')
    const plan = await runCli(['replace', 'plan', ...conn, '--config', m.envFile, '--state-dir', stateDir(), '--stop-cmd', m.scripts.stop, '--start-cmd', m.scripts.start, '--start-timeout', '5s', '--stall-timeout', '5s', '-w', 'json', '-o', planFile])
    expect(plan.code, plan.stderr).toBe(0)
    const crashed = await runCli(['replace', 'apply', '--plan', planFile, '--yes'], { ETCD_INSPECT_REPLACE_CRASH: 'start-member:done' })
    expect(crashed.signal).toBe('SIGKILL')
    const pid = Number(readFileSync(m.scripts.pidFile, 'utf8').trim())
    process.kill(pid, 'SIGSTOP')
    let resumeCmd = ''
    try {
      const t0 = Date.now()
      const r = await runCli(['replace', 'resume', '--state-dir', stateDir(), '--yes'], {}, 120000)
      expect(r.code, r.stderr).toBe(6)
      const m2 = /^Error: the new member did not answer on https:\/\/127\.0\.0\.\d+:\d+ within 5s; check its log \(the journal records the failure: fix the cause, then `(etcd-inspect replace resume --state-dir \S+ --op \S+ --yes)`\)\n$/.exec(r.stderr)
      expect(m2, r.stderr).not.toBeNull()
      resumeCmd = m2![1]!
      expect(Date.now() - t0).toBeLessThan(60000)
      const st = JSON.parse((await runCli(['replace', 'status', '--state-dir', stateDir(), '-w', 'json'])).stdout)
      const op = st.ops.at(-1)
      expect(op.status).toBe('failed')
      expect(op.steps.find((x: { kind: string }) => x.kind === 'start-member').state).toBe('fail')
      // The hung replacement was not stopped: the old member is removed and the new one owns the URL.
      expect(op.steps.find((x: { kind: string }) => x.kind === 'stop-member').state).toBe('skip')
    } finally {
      try { process.kill(pid, 'SIGCONT') } catch {}
    }
    // The command the failure printed, as printed.
    const r2 = await runPrinted(`${resumeCmd} -w json`)
    expect(r2.code, r2.stderr).toBe(0)
    const list = await memberList(eps, m.tls)
    expect(list.every((x) => !x.learner && x.name !== '')).toBe(true)
    for (const ep of eps) expect(await keysOk(ep)).toBe(50)
  }, T)

  it('abort after the learner was added: refused (the member is removed) unless --leave-removed; then removes the unstarted learner; resume refuses the op', async () => {
    const m = members[0]!
    appendFileSync(m.envFile, '# abort round\n')
    const planFile = join(base, 'plan-abort.json')
    const plan = await runCli(['replace', 'plan', ...conn, '--config', m.envFile, '--state-dir', stateDir(), '--stop-cmd', m.scripts.stop, '--start-cmd', m.scripts.start, '-w', 'json', '-o', planFile])
    expect(plan.code, plan.stderr).toBe(0)
    const opId = JSON.parse(plan.stdout).opId as string
    const crashed = await runCli(['replace', 'apply', '--plan', planFile, '--yes'], { ETCD_INSPECT_REPLACE_CRASH: 'add-learner:done' })
    expect(crashed.signal).toBe('SIGKILL')
    const learner = (await memberList([eps[1]!, eps[2]!], m.tls)).find((x) => x.learner)!
    expect(learner.name).toBe('')
    const refused = await runCli(['replace', 'abort', '--state-dir', stateDir(), '--remove-learner', '--yes', '-w', 'json'])
    expect(refused.code).toBe(7)
    expect(refused.stderr).toMatch(new RegExp(`^Error: not aborting ${opId}: member ${m.name} [0-9a-f]+ was removed from cluster [0-9a-f]+ by operation ${opId} and no replacement votes yet: the cluster has 2 voters \\([a-z0-9]+, [a-z0-9]+\\) and tolerates 0 failures; .*learner ${learner.id} is added for .*add --leave-removed\\)\n$`))
    expect((await memberList([eps[1]!, eps[2]!], m.tls)).find((x) => x.learner)?.id).toBe(learner.id)
    const a = await runCli(['replace', 'abort', '--state-dir', stateDir(), '--remove-learner', '--leave-removed', '--yes', '-w', 'json'])
    expect(a.code, a.stderr).toBe(0)
    const ab = JSON.parse(a.stdout)
    expect(ab).toMatchObject({ opId, previousStatus: 'running', removedLearner: learner.id })
    expect(ab.archivePath).toMatch(/\.removed-/)
    expect((await memberList([eps[1]!, eps[2]!], m.tls)).some((x) => x.learner)).toBe(false)
    const st = await runCli(['replace', 'status', '--state-dir', stateDir(), '--op', opId, '-w', 'json'])
    expect(JSON.parse(st.stdout).ops[0].status).toBe('aborted')
    const r = await runCli(['replace', 'resume', '--state-dir', stateDir(), '--op', opId, '--yes'])
    expect(r.code).toBe(7)
    expect(r.stderr).toBe(`Error: operation ${opId} was aborted; make a new plan\n`)
  }, T)
})
