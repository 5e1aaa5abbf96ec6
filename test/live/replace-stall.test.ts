/**
 * The learner-stall timeout against real etcd: the replacement starts and answers, then its etcd
 * is frozen (SIGSTOP) while the cluster moves on, so the catch-up wait sees no progress. apply
 * must stop with a report naming the stall (applied vs leader index, how long), exit 8, journal
 * it, and lose nothing; after SIGCONT, resume finishes and `check` says OK for every member.
 *
 * The apply process is paused by ETCD_INSPECT_REPLACE_PAUSE right after the catch-up step's
 * intent record (the new member has started and answered Status by then), so the freeze lands
 * at that exact point instead of racing a learner that catches up in milliseconds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Etcd3 } from 'etcd3'
import { etcdctl } from '../support/etcd.js'
import { killPidFile, spawnCli, waitStopped, memberList, runCli, runPrinted, startTlsCluster, waitHealthyURL, type CliResult, type ScriptMember } from '../replace/helpers.js'
import { verifyArchive } from '../../src/io/archive.js'

const T = 600_000
let base: string
let members: ScriptMember[]
let eps: string[]
let conn: string[]
const stateDir = (): string => join(base, 'state')

async function countKeys(prefix: string, ep: string): Promise<number> {
  const out = await etcdctl(ep, ['get', prefix, '--prefix', '--keys-only', '--consistency=s'], members[0]!.tls)
  return out.split('\n').filter((l) => l.startsWith(prefix)).length
}

beforeAll(async () => {
  ;({ base, members, eps, conn } = await startTlsCluster('replace-stall-'))
  const t = members[0]!.tls
  for (let i = 0; i < 30; i++) await etcdctl(eps, ['put', `before/${i}`, `v${i}`], t)
}, T)

afterAll(() => {
  for (const m of members) killPidFile(m.scripts.pidFile)
})

describe('replace: a learner that stops making progress', () => {
  it('stops after the stall timeout with a report (exit 8), journals it, loses nothing; resume after SIGCONT finishes and check is OK', async () => {
    let resumeCmd = ''
    const m = members[2]!
    const others = members.filter((x) => x !== m)
    const t = m.tls
    const before = (await memberList(eps, t)).find((x) => x.name === m.name)!.id
    writeFileSync(m.envFile, readFileSync(m.envFile, 'utf8').replace(/^ETCD_INITIAL_CLUSTER_STATE=.*$/m, 'ETCD_INITIAL_CLUSTER_STATE=new'))
    const planFile = join(base, 'plan.json')
    const plan = await runCli(['replace', 'plan', ...conn, '--config', m.envFile, '--state-dir', stateDir(), '--stop-cmd', m.scripts.stop, '--start-cmd', m.scripts.start, '--stall-timeout', '6s', '-w', 'json', '-o', planFile])
    expect(plan.code, plan.stderr).toBe(0)
    const opId = JSON.parse(plan.stdout).opId as string

    const run = spawnCli(['replace', 'apply', '--plan', planFile, '--yes'], { ETCD_INSPECT_REPLACE_PAUSE: 'wait-caught-up:intent' })
    await waitStopped(run.pid)
    // The new member runs under the same pid file (its start script); it has answered Status by now.
    const learnerPid = Number(readFileSync(m.scripts.pidFile, 'utf8').trim())
    const learner = (await memberList([others[0]!.clientURL], t)).find((x) => x.peerURLs.includes(m.peerURL))!
    expect(learner.learner).toBe(true)
    expect(learner.name).toBe(m.name)
    process.kill(learnerPid, 'SIGSTOP')
    let r: CliResult
    try {
      // The cluster moves on while the learner is frozen: 200 more raft entries it does not have.
      const cli = new Etcd3({ hosts: others.map((x) => x.clientURL), credentials: { rootCertificate: readFileSync(t.ca), certChain: readFileSync(t.clientCert), privateKey: readFileSync(t.clientKey) } })
      try {
        for (let i = 0; i < 200; i += 20) await Promise.all(Array.from({ length: 20 }, (_, j) => cli.put(`during/${i + j}`).value(`v${i + j}`)))
      } finally {
        cli.close()
      }
      const t0 = Date.now()
      process.kill(run.pid, 'SIGCONT')
      r = await run.done
      // 6 s without progress, plus at most a few 3 s Status deadlines.
      expect(Date.now() - t0).toBeGreaterThanOrEqual(6000)
      expect(Date.now() - t0).toBeLessThan(60000)

      expect(r.code, r.stderr).toBe(8)
      expect(r.stdout).toBe('')
      const line = /^Error: learner stalled: m3 ([0-9a-f]+) made no progress for (\d+)s \(stall timeout 6s\): applied index (\d+) \(the leader's match for it\) vs leader index (\d+), (\d+) entries behind; it does not answer Status \(.*DEADLINE_EXCEEDED.*; no answer during this wait\); nothing was lost: the old data dir stays archived and a learner does not count toward quorum \(fix the learner \(process, disk, network\), then `(etcd-inspect replace resume --state-dir \S+ --op \S+ --yes)` keeps waiting\)\n$/.exec(r.stderr)
      expect(line, r.stderr).not.toBeNull()
      const [, idHex, secs, applied, leaderIdx, behind] = line!
      resumeCmd = line![6]!
      expect(idHex).toBe(learner.id)
      expect(Number(secs)).toBeGreaterThanOrEqual(6)
      expect(BigInt(leaderIdx!) - BigInt(applied!)).toBe(BigInt(behind!))
      expect(Number(behind)).toBeGreaterThanOrEqual(200)

      // The journal has the failure with its evidence.
      const st = JSON.parse((await runCli(['replace', 'status', '--state-dir', stateDir(), '--op', opId, '-w', 'json'])).stdout)
      const op = st.ops[0]
      expect(op.status).toBe('failed')
      expect(op.lastError).toMatch(/^step \d+ wait-caught-up: learner stalled: m3 /)
      const w = op.steps.find((x: { kind: string }) => x.kind === 'wait-caught-up')
      expect(w.state).toBe('fail')
      expect(w.evidence).toMatchObject({ learnerIdHex: learner.id, appliedIndex: applied, leaderIndex: leaderIdx, appliedSource: 'leader-match', learnerAnswers: false, stallTimeoutMs: 6000 })
      expect(w.evidence.stalledForMs).toBeGreaterThan(6000)
      expect(op.steps.find((x: { kind: string }) => x.kind === 'promote-learner').state).toBe('pending')

      // Nothing lost: the archive matches its manifest, the two voters are healthy and hold every key.
      expect(op.facts.archivePath).toContain(`.removed-${before}-`)
      expect(verifyArchive(op.facts.archivePath)).toEqual([])
      await etcdctl(others.map((x) => x.clientURL), ['endpoint', 'health'], t)
      for (const o of others) {
        expect(await countKeys('before/', o.clientURL)).toBe(30)
        expect(await countKeys('during/', o.clientURL)).toBe(200)
      }
      // The learner is still a learner: nothing was promoted behind our back.
      expect((await memberList([others[0]!.clientURL], t)).find((x) => x.id === learner.id)!.learner).toBe(true)
    } finally {
      try { process.kill(learnerPid, 'SIGCONT') } catch {}
    }

    // The command the stall line printed, as printed.
    const r2 = await runPrinted(`${resumeCmd} -w json`)
    expect(r2.code, r2.stderr).toBe(0)
    const res = JSON.parse(r2.stdout)
    expect(res).toMatchObject({ opId, status: 'complete', resumed: true })
    const list = await memberList(eps, t)
    expect(list).toHaveLength(3)
    expect(list.every((x) => !x.learner && x.name !== '')).toBe(true)
    expect(list.find((x) => x.name === m.name)!.id).toBe(learner.id)
    await etcdctl(eps, ['endpoint', 'health'], t)
    for (const ep of eps) {
      expect(await countKeys('before/', ep)).toBe(30)
      expect(await countKeys('during/', ep)).toBe(200)
    }
    // check, as ExecStartPre would run it: each member stopped in turn.
    for (const x of members) {
      execFileSync('sh', [x.scripts.stop])
      try {
        const c = await runCli(['check', x.dataDir, ...conn, '--name', x.name, '--initial-advertise-peer-urls', x.peerURL, '--state-dir', join(base, 'check-state'), '-w', 'json'])
        expect(c.code, c.stdout.slice(0, 1500) + c.stderr).toBe(0)
        expect(JSON.parse(c.stdout).verdict).toBe('OK')
      } finally {
        execFileSync('sh', [x.scripts.start])
        await waitHealthyURL(x.clientURL, x.tls)
      }
    }
  }, T)

  it('a promotion refused as "not in sync" without progress stops the same way (exit 8); resume after SIGCONT promotes', async () => {
    let resumeCmd = ''
    const m = members[0]!
    const others = members.filter((x) => x !== m)
    const t = m.tls
    writeFileSync(m.envFile, readFileSync(m.envFile, 'utf8').replace(/^ETCD_INITIAL_CLUSTER_STATE=.*$/m, 'ETCD_INITIAL_CLUSTER_STATE=new'))
    const planFile = join(base, 'plan-promote.json')
    const plan = await runCli(['replace', 'plan', ...conn, '--config', m.envFile, '--state-dir', stateDir(), '--stop-cmd', m.scripts.stop, '--start-cmd', m.scripts.start, '--stall-timeout', '5s', '-w', 'json', '-o', planFile])
    expect(plan.code, plan.stderr).toBe(0)
    const opId = JSON.parse(plan.stdout).opId as string
    // Paused after the catch-up wait succeeded, right before MemberPromote.
    const run = spawnCli(['replace', 'apply', '--plan', planFile, '--yes'], { ETCD_INSPECT_REPLACE_PAUSE: 'promote-learner:intent' })
    await waitStopped(run.pid)
    const learnerPid = Number(readFileSync(m.scripts.pidFile, 'utf8').trim())
    const learner = (await memberList([others[0]!.clientURL], t)).find((x) => x.peerURLs.includes(m.peerURL))!
    expect(learner.learner).toBe(true)
    process.kill(learnerPid, 'SIGSTOP')
    try {
      // etcd promotes only at >= 90 % of the leader's match: 200 entries the frozen learner lacks.
      const cli = new Etcd3({ hosts: others.map((x) => x.clientURL), credentials: { rootCertificate: readFileSync(t.ca), certChain: readFileSync(t.clientCert), privateKey: readFileSync(t.clientKey) } })
      try {
        for (let i = 0; i < 200; i += 20) await Promise.all(Array.from({ length: 20 }, (_, j) => cli.put(`promote/${i + j}`).value(`v${i + j}`)))
      } finally {
        cli.close()
      }
      process.kill(run.pid, 'SIGCONT')
      const r = await run.done
      expect(r.code, r.stderr).toBe(8)
      const line = /^Error: learner stalled: promotion of m1 ([0-9a-f]+) refused for (\d+)s without progress \(stall timeout 5s, (\d+) attempts\): applied index (\d+) \(the leader's match for it\) vs leader index (\d+), (\d+) entries behind; etcd says: can only promote a learner member which is in sync with leader; nothing was lost: a learner does not count toward quorum \(fix the learner \(process, disk, network\), then `(etcd-inspect replace resume --state-dir \S+ --op \S+ --yes)` retries the promotion\)\n$/.exec(r.stderr)
      expect(line, r.stderr).not.toBeNull()
      expect(line![1]).toBe(learner.id)
      resumeCmd = line![7]!
      expect(Number(line![2])).toBeGreaterThanOrEqual(5)
      expect(Number(line![3])).toBeGreaterThan(1)
      expect(Number(line![6])).toBeGreaterThanOrEqual(200)
      const op = JSON.parse((await runCli(['replace', 'status', '--state-dir', stateDir(), '--op', opId, '-w', 'json'])).stdout).ops[0]
      expect(op.status).toBe('failed')
      expect(op.steps.find((x: { kind: string }) => x.kind === 'wait-caught-up').state).toBe('done')
      const p = op.steps.find((x: { kind: string }) => x.kind === 'promote-learner')
      expect(p.state).toBe('fail')
      expect(p.evidence).toMatchObject({ learnerIdHex: learner.id, appliedIndex: line![4], leaderIndex: line![5], stallTimeoutMs: 5000 })
      expect(verifyArchive(op.facts.archivePath)).toEqual([])
      expect((await memberList([others[0]!.clientURL], t)).find((x) => x.id === learner.id)!.learner).toBe(true)
      for (const o of others) expect(await countKeys('promote/', o.clientURL)).toBe(200)
    } finally {
      try { process.kill(learnerPid, 'SIGCONT') } catch {}
    }
    // The command the stall line printed, as printed.
    const r2 = await runPrinted(`${resumeCmd} -w json`)
    expect(r2.code, r2.stderr).toBe(0)
    expect(JSON.parse(r2.stdout)).toMatchObject({ opId, status: 'complete' })
    const list = await memberList(eps, t)
    expect(list.every((x) => !x.learner && x.name !== '')).toBe(true)
    expect(list.find((x) => x.name === m.name)!.id).toBe(learner.id)
    await etcdctl(eps, ['endpoint', 'health'], t)
    for (const ep of eps) {
      expect(await countKeys('before/', ep)).toBe(30)
      expect(await countKeys('promote/', ep)).toBe(200)
    }
  }, T)
})
