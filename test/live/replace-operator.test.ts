/**
 * What `replace` tells the operator (issue 12), against one real 3-member TLS cluster:
 * status after a SIGKILL (interrupted, the step, the exact resume command), Ctrl-C and SIGTERM
 * during apply/resume (one line, journaled), abort refused once the member is removed, plan
 * naming an unfinished op and apply refusing beside it, resume naming the dir it looked in,
 * read-only status creating no files, the snapshot's revision from the snapshot itself, a stale plan refused, and every
 * next-step command these messages print run as printed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { etcdctl } from '../support/etcd.js'
import { killPidFile, memberList, quotedCommands, runCli, runPrinted, spawnCli, startTlsCluster, waitStopped, type ScriptMember } from '../replace/helpers.js'

const T = 600_000
let base: string
let members: ScriptMember[]
let eps: string[]
let conn: string[]

beforeAll(async () => {
  ;({ base, members, eps, conn } = await startTlsCluster('replace-operator-'))
  for (let i = 0; i < 8; i++) await etcdctl(eps, ['put', `k/${i}`, `v-${i}`], members[0]!.tls)
}, T)

afterAll(() => {
  for (const m of members ?? []) killPidFile(m.scripts.pidFile)
})

const planArgs = (m: ScriptMember, state: string): string[] => [...conn, '--config', m.envFile, '--state-dir', state, '--stop-cmd', m.scripts.stop, '--start-cmd', m.scripts.start]

const sh = (cmd: string): ReturnType<typeof runPrinted> => runPrinted(cmd)
const quoted = quotedCommands

async function healthy3(): Promise<void> {
  const l = await memberList(eps, members[0]!.tls)
  expect(l).toHaveLength(3)
  expect(l.every((m) => !m.learner && m.name !== '')).toBe(true)
  await etcdctl(eps, ['endpoint', 'health'], members[0]!.tls)
}

describe('replace: read-only queries and an empty state dir', () => {
  it('status creates no files; resume and abort name the dir they looked in', async () => {
    const state = join(base, 'never-used-state')
    const st = await runCli(['replace', 'status', '--state-dir', state])
    expect(st.code, st.stderr).toBe(0)
    expect(st.stdout).toBe(`state dir ${state}\nno operations (no journal in ${state})\n`)
    expect(existsSync(state)).toBe(false)
    const js = JSON.parse((await runCli(['replace', 'status', '--state-dir', state, '-w', 'json'])).stdout)
    expect(js).toEqual({ stateDir: state, journal: null, ops: [] })
    expect(existsSync(state)).toBe(false)
    // The default state dir: a plain `replace status` must not create the journal there either.
    const dflt = '/var/lib/etcd-inspect/journal.lmdb'
    const had = existsSync(dflt)
    const d = await runCli(['replace', 'status'])
    expect(d.code, d.stderr).toBe(0)
    expect(existsSync(dflt)).toBe(had)

    const r = await runCli(['replace', 'resume', '--state-dir', state, '--yes'])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(`Error: no unfinished operation in ${state} (no journal there) (pass --state-dir DIR if the run used another state dir; \`etcd-inspect replace status --state-dir ${state}\` lists the operations there)\n`)
    // The status command it names runs as printed, and creates nothing either.
    const [listCmd] = quoted(r.stderr)
    const listed = await sh(listCmd!)
    expect(listed.code, listed.stderr).toBe(0)
    expect(listed.stdout).toBe(st.stdout)
    const a = await runCli(['replace', 'abort', '--state-dir', state, '--yes'])
    expect(a.code).toBe(2)
    expect(a.stderr).toContain(`no unfinished operation in ${state} (no journal there)`)
    expect(existsSync(state)).toBe(false)
  }, T)
})

describe('replace: killed after the removal', () => {
  const state = (): string => join(base, 'state-kill')
  let opId = ''
  let pid = 0
  let oldId = ''
  let abortLine = ''
  let abortCmd = ''
  let refusedResume = ''
  const plan2File = (): string => join(base, 'plan-kill-2.json')

  it('status shows the killed run as interrupted, the step it stopped at and the exact resume command', async () => {
    const m = members[0]!
    oldId = (await memberList(eps, m.tls)).find((x) => x.name === m.name)!.id
    const planFile = join(base, 'plan-kill.json')
    const p = await runCli(['replace', 'plan', ...planArgs(m, state()), '-o', planFile])
    expect(p.code, p.stderr).toBe(0)
    opId = JSON.parse(readFileSync(planFile, 'utf8')).opId
    // The plan names the command that runs exactly it; run that (killed after the archive step).
    const [applyCmd] = quoted(p.stdout.split('\n').find((l) => l.startsWith('next: '))!)
    expect(applyCmd).toBe(`etcd-inspect replace apply --plan ${planFile} --yes`)
    const run = spawnCli(applyCmd!.split(' ').slice(1), { ETCD_INSPECT_REPLACE_CRASH: 'archive-data-dir:done' })
    pid = run.pid
    const crashed = await run.done
    expect(crashed.signal).toBe('SIGKILL')

    const t = await runCli(['replace', 'status', '--state-dir', state()])
    expect(t.code, t.stderr).toBe(0)
    const resume = `etcd-inspect replace resume --state-dir ${state()} --op ${opId} --yes`
    const lines = t.stdout.split('\n')
    expect(lines[0]).toBe(`state dir ${state()}; stale lock file of pid ${pid} (op ${opId}): that process is not running`)
    expect(lines[1]).toMatch(new RegExp(`^${opId}: interrupted \\(journal says running; its run \\(pid ${pid}\\) is not running: killed or crashed\\) \\(target m1 ${oldId}, updated \\S+\\)$`))
    expect(lines[2]).toMatch(/^ {2}stopped at step \d+ \(add-learner: add m1 back as a learner\): not started$/)
    expect(lines[3]).toBe(`  next: \`${resume}\``)
    expect(t.stdout).not.toContain('locked by pid')
    const j = JSON.parse((await runCli(['replace', 'status', '--state-dir', state(), '-w', 'json'])).stdout)
    expect(j.lock).toMatchObject({ pid, opId, alive: false })
    expect(j.ops[0]).toMatchObject({ opId, status: 'interrupted', journalStatus: 'running', stoppedAt: { kind: 'add-learner', state: 'pending' }, next: `\`${resume}\`` })
  }, T)

  it('records the snapshot revision from the snapshot itself (what etcdctl snapshot status says)', async () => {
    const j = JSON.parse((await runCli(['replace', 'status', '--state-dir', state(), '--op', opId, '-w', 'json'])).stdout)
    const snap = j.ops[0].steps.find((s: { kind: string }) => s.kind === 'snapshot')
    const file = j.ops[0].facts.snapshotPath as string
    const ctl = JSON.parse(execFileSync('etcdctl', ['snapshot', 'status', file, '-w', 'json'], { env: { ...process.env, ETCDCTL_API: '3' } }).toString()) as { revision: number }
    expect(ctl.revision).toBeGreaterThan(4)
    expect(snap.evidence.revision).toBe(String(ctl.revision))
    expect(j.ops[0].facts.snapshotRevision).toBe(String(ctl.revision))
  }, T)

  it('plan names the unfinished operation of its state dir and how to finish it', async () => {
    // Two voters are left: planning needs --force.
    const p = await runCli(['replace', 'plan', ...planArgs(members[1]!, state()), '--force', '-o', plan2File()])
    expect(p.code, p.stderr).toBe(0)
    const w = p.stdout.split('\n').filter((l) => l.includes(`operation ${opId}`))
    expect(w).toEqual([`warning: operation ${opId} (target m1 ${oldId}) is unfinished (running) in ${state()}: apply refuses a new plan there until it is finished (\`etcd-inspect replace resume --state-dir ${state()} --op ${opId} --yes\`) or aborted (\`etcd-inspect replace abort --state-dir ${state()} --op ${opId} --yes\`)`])
    abortCmd = quoted(w[0]!)[1]!
  }, T)

  it('abort refuses once the member is removed, saying the cluster state and the commands that finish the job', async () => {
    // As the plan's warning printed it.
    const a = await sh(abortCmd)
    abortLine = a.stderr
    expect(a.code).toBe(7)
    const ids = (await memberList(eps, members[1]!.tls)).map((x) => x.id)
    expect(ids).not.toContain(oldId)
    expect(ids).toHaveLength(2)
    expect(a.stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(a.stderr).toMatch(new RegExp(`^Error: not aborting ${opId}: member m1 ${oldId} was removed from cluster [0-9a-f]+ by operation ${opId} and no replacement votes yet: the cluster has 2 voters \\(m2, m3\\) and tolerates 0 failures; aborting would leave it so; nothing was changed \\(finish the job with \`etcd-inspect replace resume --state-dir ${state()} --op ${opId} --yes\`, or join it by hand: \`etcdctl --endpoints=\\S+ --cacert=\\S+ --cert=\\S+ --key=\\S+ member add m1 --peer-urls=${members[0]!.peerURL} --learner\`, start m1 from an empty data dir with ETCD_INITIAL_CLUSTER_STATE=existing, then promote it \\(etcdctl member promote with the ID member add printed\\); to abort anyway \\(it stays removed\\), add --leave-removed\\)\n$`))
    const st = JSON.parse((await runCli(['replace', 'status', '--state-dir', state(), '--op', opId, '-w', 'json'])).stdout)
    expect(st.ops[0].journalStatus).toBe('running')
    expect(existsSync(join(state(), 'replace.lock'))).toBe(true)
  }, T)

  it('apply of another plan in that state dir is refused (exit 7, one line, nothing changed); the abort it prints runs as printed', async () => {
    const before = await memberList(eps, members[1]!.tls)
    const lockBefore = readFileSync(join(state(), 'replace.lock'), 'utf8')
    const opId2 = JSON.parse(readFileSync(plan2File(), 'utf8')).opId as string
    expect(opId2).not.toBe(opId)
    const r = await runCli(['replace', 'apply', '--plan', plan2File(), '--yes'])
    expect(r.code).toBe(7)
    expect(r.stdout).toBe('')
    const resume = `etcd-inspect replace resume --state-dir ${state()} --op ${opId} --yes`
    const abort = `etcd-inspect replace abort --state-dir ${state()} --op ${opId} --yes`
    expect(r.stderr).toBe(`Error: operation ${opId} is unfinished (running); nothing was changed (finish it with \`${resume}\` or abort it with \`${abort}\`, then apply this plan (if that changed the membership, apply refuses this plan as stale and names what changed: make a new one))\n`)
    // Nothing changed: membership, the dead run's lock file (status still names its pid), the journal.
    expect(await memberList(eps, members[1]!.tls)).toEqual(before)
    expect(readFileSync(join(state(), 'replace.lock'), 'utf8')).toBe(lockBefore)
    const st = JSON.parse((await runCli(['replace', 'status', '--state-dir', state(), '-w', 'json'])).stdout)
    expect(st.ops.map((o: { opId: string }) => o.opId)).toEqual([opId])
    expect(st.ops[0]).toMatchObject({ status: 'interrupted', journalStatus: 'running', next: `\`${resume}\`` })
    expect(st.lock).toMatchObject({ pid, opId, alive: false })
    // The abort it prints, as printed: refused here (the member is removed), with the same line
    // as the plan's abort gave, which points at the resume this refusal names too.
    const [resumeCmd, abortPrinted] = quoted(r.stderr)
    refusedResume = resumeCmd!
    const a = await sh(abortPrinted!)
    expect(a.code).toBe(7)
    expect(a.stderr).toBe(abortLine)
    expect(quoted(a.stderr)[0]).toBe(resumeCmd)
  }, T)

  it('the commands abort and status printed run as printed: join by hand (member add), then resume finishes the job', async () => {
    const [resumeCmd, add] = quoted(abortLine)
    expect(add).toMatch(/^etcdctl .* member add m1 --peer-urls=\S+ --learner$/)
    const added = await sh(add!)
    expect(added.code, added.stderr).toBe(0)
    const learner = (await memberList(eps, members[1]!.tls)).find((x) => x.learner)!
    expect(learner.peerURLs).toEqual([members[0]!.peerURL])
    const st = JSON.parse((await runCli(['replace', 'status', '--state-dir', state(), '-w', 'json'])).stdout)
    const [cmd] = quoted(st.ops[0].next)
    expect(cmd).toBe(resumeCmd)
    expect(cmd).toBe(refusedResume)
    const r = await sh(`${cmd!} -w json`)
    expect(r.code, r.stderr).toBe(0)
    const res = JSON.parse(r.stdout)
    expect(res).toMatchObject({ opId, status: 'complete', resumed: true })
    // The learner added by hand was adopted, not added twice.
    expect(res.steps.find((s: { kind: string }) => s.kind === 'add-learner').outcome).toBe('skipped')
    expect((await memberList(eps, members[1]!.tls)).find((x) => x.name === 'm1')!.id).toBe(learner.id)
    await healthy3()
  }, T)

  it('with the op finished, apply of the other plan goes past that refusal and is refused as stale, as the refusal said', async () => {
    const now = (await memberList(eps, members[1]!.tls)).find((x) => x.name === 'm1')!.id
    expect(now).not.toBe(oldId)
    const r = await sh(`etcd-inspect replace apply --plan ${plan2File()} --yes`)
    expect(r.code).toBe(7)
    expect(r.stderr).not.toContain('is unfinished')
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(r.stderr).toContain(`is stale: since then member m1 ${now} (${members[0]!.peerURL}) was added; nothing was changed (make a new plan`)
    await healthy3()
  }, T)
})

describe('replace: Ctrl-C and SIGTERM', () => {
  const state = (): string => join(base, 'state-signal')
  let opId = ''

  async function interrupted(args: string[], pause: string, sig: NodeJS.Signals): Promise<{ code: number | null; stderr: string; stdout: string }> {
    const run = spawnCli(args, { ETCD_INSPECT_REPLACE_PAUSE: pause })
    await waitStopped(run.pid)
    process.kill(run.pid, sig)
    process.kill(run.pid, 'SIGCONT')
    return run.done
  }

  it('SIGINT during apply: one line naming the step, nothing lost, how to continue; journaled; exit 130', async () => {
    const m = members[1]!
    const planFile = join(base, 'plan-signal.json')
    const p = await runCli(['replace', 'plan', ...planArgs(m, state()), '-w', 'json', '-o', planFile])
    expect(p.code, p.stderr).toBe(0)
    const plan = JSON.parse(p.stdout) as { opId: string; steps: { n: number; kind: string; title: string }[] }
    opId = plan.opId
    const wait = plan.steps.find((s) => s.kind === 'wait-caught-up')!
    const r = await interrupted(['replace', 'apply', '--plan', planFile, '--yes'], 'wait-caught-up:intent', 'SIGINT')
    expect(r.code).toBe(130)
    expect(r.stdout).toBe('')
    const resume = `etcd-inspect replace resume --state-dir ${state()} --op ${opId} --yes`
    expect(r.stderr).toBe(`replace ${opId}: interrupted by SIGINT during step ${wait.n} (wait-caught-up: ${wait.title}); nothing is lost: the journal ${join(state(), 'journal.lmdb')} records it and each step re-checks the live cluster before it acts; other hosts wait for the cluster lock's lease (at most 10s); continue with: ${resume}\n`)
    const st = JSON.parse((await runCli(['replace', 'status', '--state-dir', state(), '-w', 'json'])).stdout)
    expect(st.lock).toBeUndefined()
    expect(st.ops[0]).toMatchObject({ opId, status: 'interrupted', journalStatus: 'interrupted', lastError: `interrupted by SIGINT during step ${wait.n} (wait-caught-up: ${wait.title})`, stoppedAt: { n: wait.n, state: 'intent' }, next: `\`${resume}\`` })
  }, T)

  it('SIGTERM during resume: the same, exit 143; the printed command then finishes', async () => {
    const r = await interrupted(['replace', 'resume', '--state-dir', state(), '--yes'], 'promote-learner:intent', 'SIGTERM')
    expect(r.code).toBe(143)
    expect(r.stderr).toMatch(new RegExp(`^replace ${opId}: interrupted by SIGTERM during step \\d+ \\(promote-learner: promote m2\\); nothing is lost: .*; continue with: (etcd-inspect replace resume --state-dir \\S+ --op ${opId} --yes)\n$`))
    const cmd = /continue with: (.*)\n$/.exec(r.stderr)![1]!
    const st = JSON.parse((await runCli(['replace', 'status', '--state-dir', state(), '-w', 'json'])).stdout)
    expect(st.ops[0]).toMatchObject({ status: 'interrupted', journalStatus: 'interrupted', stoppedAt: { kind: 'promote-learner' } })
    const ok = await sh(`${cmd} -w json`)
    expect(ok.code, ok.stderr).toBe(0)
    expect(JSON.parse(ok.stdout)).toMatchObject({ opId, status: 'complete' })
    await healthy3()
  }, T)
})

describe('replace: a stale plan', () => {
  it('a REMOVED_MEMBER plan applied after another op replaced that member is refused (exit 7), naming what changed', async () => {
    const m = members[2]!
    const tls = m.tls
    const old = (await memberList(eps, tls)).find((x) => x.name === m.name)!.id
    execFileSync('sh', [m.scripts.stop])
    await etcdctl(eps.filter((e) => e !== m.clientURL), ['member', 'remove', old], tls)
    const staleState = join(base, 'state-stale')
    const planFile = join(base, 'plan-stale.json')
    const p = await runCli(['replace', 'plan', ...planArgs(m, staleState), '-w', 'json', '-o', planFile])
    expect(p.code, p.stderr).toBe(0)
    expect(JSON.parse(p.stdout).reason).toBe('REMOVED_MEMBER')

    // Another operator, another state dir, replaces it first.
    const other = await runCli(['replace', 'apply', ...planArgs(m, join(base, 'state-other')), '--yes', '-w', 'json'])
    expect(other.code, other.stderr).toBe(0)
    const now = (await memberList(eps, tls)).find((x) => x.name === m.name)!.id
    expect(now).not.toBe(old)

    const r = await runCli(['replace', 'apply', '--plan', planFile, '--yes'])
    expect(r.code).toBe(7)
    expect(r.stdout).toBe('')
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1)
    const opId = JSON.parse(p.stdout).opId as string
    expect(r.stderr).toContain(`Error: plan ${opId} (made ${JSON.parse(p.stdout).createdAt}) is stale: since then member m3 ${now} (${m.peerURL}) was added; ${m.dataDir} holds member ${now}'s WAL, the plan saw member ${old}'s; nothing was changed (make a new plan`)
    // Refused before anything was journaled.
    const st = JSON.parse((await runCli(['replace', 'status', '--state-dir', staleState, '-w', 'json'])).stdout)
    expect(st.ops).toEqual([])
    // The check command in the hint runs as printed: IN_USE (exit 10), the new m3 runs on that dir.
    const [check] = quoted(r.stderr)
    const c = await sh(`${check!} --no-witness -w json`)
    expect(c.code, c.stdout + c.stderr).toBe(10)
    expect(JSON.parse(c.stdout).verdict).toBe('IN_USE')
    expect(readdirSync(base).some((n) => n.startsWith(`${m.name}.etcd.removed-${old}-`))).toBe(true)
    await healthy3()
  }, T)
})
