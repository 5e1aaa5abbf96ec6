/**
 * The replace runbook against a real 3-member TLS cluster on loopback (Debian etcd 3.4):
 * a stale member (REMOVED_MEMBER) and a healthy one are replaced in place through the CLI; plan
 * changes nothing; afterwards every member is healthy, keys written before are readable, and
 * the archive holds the old data dir byte-for-byte.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { etcdctl } from '../support/etcd.js'
import { hashTree, type TreeEntry } from '../support/tree-hash.js'
import { envFileText, killPidFile, memberList, runCli, startTlsCluster, tlsFilesFor, waitHealthyURL, writeScripts, type ScriptMember, type TestPki } from '../replace/helpers.js'
import { allocate } from '../support/etcd.js'

const T = 240_000
let base: string
let members: ScriptMember[]
let pki: TestPki
let eps: string[]
let conn: string[]
const stateDir = (): string => join(base, 'state')

/** The file hashes of a dir, without mtimes and without our manifest. */
function content(root: string): Omit<TreeEntry, 'mtimeMs' | 'mode'>[] {
  return hashTree(root).filter((e) => e.path !== 'ARCHIVE.json').map(({ path, size, sha256 }) => ({ path, size, sha256 }))
}

async function putKeys(prefix: string, n: number): Promise<void> {
  const lines = Array.from({ length: n }, (_, i) => `put ${prefix}/${i} value-${i}`).join('\n')
  await etcdctl(eps, ['txn'], members[0]!.tls, '\n' + lines + '\n\n').catch(async () => {
    for (let i = 0; i < n; i++) await etcdctl(eps, ['put', `${prefix}/${i}`, `value-${i}`], members[0]!.tls)
  })
}

async function countKeys(prefix: string, ep: string): Promise<number> {
  // Every key with its exact value, read through this member alone (serializable: its own copy).
  const out = await etcdctl(ep, ['get', `${prefix}/`, '--prefix', '--consistency=s'], members[0]!.tls)
  const lines = out.split('\n').filter((l) => l !== '')
  let ok = 0
  for (let i = 0; i + 1 < lines.length; i += 2) if (lines[i + 1] === `value-${lines[i]!.split('/').pop()}`) ok++
  return ok
}

async function expectHealthy(): Promise<void> {
  const out = await etcdctl(eps, ['endpoint', 'status', '-w', 'json'], members[0]!.tls)
  const st = JSON.parse(out.replace(/"(cluster_id|member_id|leader)":(\d+)/g, '"$1":"$2"')) as { Status: { header: { cluster_id: string }; leader: string; isLearner?: boolean } }[]
  expect(st).toHaveLength(3)
  expect(new Set(st.map((s) => s.Status.header.cluster_id)).size).toBe(1)
  expect(new Set(st.map((s) => s.Status.leader)).size).toBe(1)
  const ml = await memberList(eps, members[0]!.tls)
  expect(ml).toHaveLength(3)
  expect(ml.every((m) => !m.learner && m.name !== '')).toBe(true)
  await etcdctl(eps, ['endpoint', 'health'], members[0]!.tls)
}

function planArgs(m: ScriptMember, extra: string[] = []): string[] {
  return [...conn, '--config', m.envFile, '--state-dir', stateDir(), '--stop-cmd', m.scripts.stop, '--start-cmd', m.scripts.start, '--stall-timeout', '60s', ...extra]
}

beforeAll(async () => {
  ;({ base, pki, members, eps, conn } = await startTlsCluster('replace-live-'))
  await putKeys('before', 300)
}, T)

afterAll(() => {
  for (const m of members ?? []) killPidFile(m.scripts.pidFile)
})

describe('replace on a live 3-member TLS cluster', () => {
  it('replaces a stale member (REMOVED_MEMBER): plan changes nothing, apply archives and re-adds it', async () => {
    const m2 = members[1]!
    const before = await memberList(eps, m2.tls)
    const oldId = before.find((m) => m.name === 'm2')!.id
    execFileSync('sh', [m2.scripts.stop])
    await etcdctl([eps[0]!, eps[2]!], ['member', 'remove', oldId], m2.tls)
    await putKeys('after-removal', 100)
    const dirBefore = content(m2.dataDir)
    const cfgBefore = readFileSync(m2.envFile, 'utf8')
    const listBefore = await memberList(eps, m2.tls)

    const plan = await runCli(['replace', 'plan', ...planArgs(m2), '-w', 'json', '-o', join(base, 'plan-m2.json')])
    expect(plan.stderr).toBe('')
    expect(plan.code).toBe(0)
    const p = JSON.parse(plan.stdout)
    expect(p.version).toBe(1)
    expect(p.reason).toBe('REMOVED_MEMBER')
    expect(p.target.idHex).toBe(oldId)
    expect(p.steps.map((s: { kind: string }) => s.kind)).toEqual(['snapshot', 'stop-member', 'archive-data-dir', 'add-learner', 'write-config', 'start-member', 'wait-caught-up', 'promote-learner', 'verify'])
    // plan is read-only: same membership, same files, no state dir.
    expect(await memberList(eps, m2.tls)).toEqual(listBefore)
    expect(content(m2.dataDir)).toEqual(dirBefore)
    expect(readFileSync(m2.envFile, 'utf8')).toBe(cfgBefore)
    expect(existsSync(stateDir())).toBe(false)

    const r = await runCli(['replace', 'apply', '--plan', join(base, 'plan-m2.json'), '--yes', '-w', 'json'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const res = JSON.parse(r.stdout)
    expect(res.status).toBe('complete')
    const archive = res.facts.archivePath as string
    expect(archive).toMatch(new RegExp(`${m2.dataDir}\\.removed-${oldId}-\\d{8}T\\d{6}Z$`))
    expect(content(archive)).toEqual(dirBefore)
    const manifest = JSON.parse(readFileSync(join(archive, 'ARCHIVE.json'), 'utf8'))
    expect(manifest.memberIdHex).toBe(oldId)
    expect(manifest.files.length).toBe(dirBefore.filter((e) => !e.path.endsWith('/')).length)
    await expectHealthy()
    const after = await memberList(eps, m2.tls)
    const nm = after.find((m) => m.name === 'm2')!
    expect(nm.id).not.toBe(oldId)
    expect(readFileSync(m2.envFile, 'utf8')).toMatch(/ETCD_INITIAL_CLUSTER_STATE=existing/)
    for (const ep of eps) {
      expect(await countKeys('before', ep)).toBe(300)
      expect(await countKeys('after-removal', ep)).toBe(100)
    }
    const st = await runCli(['replace', 'status', '--state-dir', stateDir(), '-w', 'json'])
    expect(st.code).toBe(0)
    expect(JSON.parse(st.stdout).ops[0].status).toBe('complete')
  }, T)

  it('replaces a healthy member in place (after a crash right after the stop; archive byte-for-byte)', async () => {
    const m3 = members[2]!
    const oldId = (await memberList(eps, m3.tls)).find((m) => m.name === 'm3')!.id
    const plan = await runCli(['replace', 'plan', ...planArgs(m3), '-w', 'json', '-o', join(base, 'plan-m3.json')])
    expect(plan.stderr).toBe('')
    expect(plan.code).toBe(0)
    const p = JSON.parse(plan.stdout)
    expect(p.reason).toBe('MEMBER')
    expect(p.steps.map((s: { kind: string }) => s.kind)).toContain('remove-member')
    const crashed = await runCli(['replace', 'apply', '--plan', join(base, 'plan-m3.json'), '--yes'], { ETCD_INSPECT_REPLACE_CRASH: 'stop-member:done' })
    expect(crashed.signal).toBe('SIGKILL')
    const stopped = content(m3.dataDir)
    const status = await runCli(['replace', 'status', '--state-dir', stateDir(), '--op', p.opId, '-w', 'json'])
    // The journal says running, but no process holds the lock: status shows it interrupted.
    expect(JSON.parse(status.stdout).ops[0]).toMatchObject({ status: 'interrupted', journalStatus: 'running' })
    const r = await runCli(['replace', 'resume', '--state-dir', stateDir(), '--yes', '-w', 'json'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const res = JSON.parse(r.stdout)
    expect(res.steps.filter((s: { outcome: string }) => s.outcome === 'skipped').map((s: { kind: string }) => s.kind)).toEqual(expect.arrayContaining(['snapshot', 'stop-member']))
    expect(content(res.facts.archivePath)).toEqual(stopped)
    await expectHealthy()
    expect((await memberList(eps, m3.tls)).find((m) => m.name === 'm3')!.id).not.toBe(oldId)
    for (const ep of eps) expect(await countKeys('before', ep)).toBe(300)
  }, T)

  it('surge mode: replaces healthy m1 by m4 on a new host; fault tolerance never drops', async () => {
    const m1 = members[0]!
    const id1 = (await memberList(eps, m1.tls)).find((m) => m.name === 'm1')!.id
    const slot = await allocate('m4', '127.0.0.4', true)
    const tls = tlsFilesFor(pki, pki.member('m4', '127.0.0.4'))
    const spec = { name: 'm4', dataDir: join(base, 'm4.etcd'), clientURL: slot.clientURL, peerURL: slot.peerURL, initialCluster: `m4=${slot.peerURL}`, state: 'new' as const, tls }
    const envFile = join(base, 'm4.env')
    writeFileSync(envFile, envFileText(spec))
    const m4: ScriptMember = { ...spec, host: '127.0.0.4', envFile, tls, scripts: writeScripts(base, 'm4', envFile) }
    const plan = await runCli(['replace', 'plan', ...planArgs(m1), '--new-config', envFile, '--new-start-cmd', m4.scripts.start, '--new-stop-cmd', m4.scripts.stop, '-w', 'json', '-o', join(base, 'plan-surge.json')])
    expect(plan.stderr).toBe('')
    expect(plan.code).toBe(0)
    const p = JSON.parse(plan.stdout)
    expect(p.mode).toBe('surge')
    expect(p.steps.map((x: { kind: string }) => x.kind)).toEqual(['snapshot', 'add-learner', 'write-config', 'start-member', 'wait-caught-up', 'promote-learner', 'move-leader', 'remove-member', 'stop-member', 'archive-data-dir', 'verify'])
    expect(p.quorum).toMatchObject({ voters: 3, toleranceBefore: 1, toleranceDuring: 1, toleranceAfter: 1 })
    members.push(m4) // afterAll stops it by PID
    const r = await runCli(['replace', 'apply', '--plan', join(base, 'plan-surge.json'), '--yes', '-w', 'json'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const res = JSON.parse(r.stdout)
    expect(res.facts.archivePath).toMatch(new RegExp(`m1\\.etcd\\.removed-${id1}-`))
    members.splice(0, 1)
    members.splice(2, 1)
    members.unshift(m4)
    killPidFile(m1.scripts.pidFile)
    eps = members.map((m) => m.clientURL)
    conn[1] = eps.join(',')
    const list = await memberList(eps, m4.tls)
    expect(list.map((m) => m.name).sort()).toEqual(['m2', 'm3', 'm4'])
    expect(list.every((m) => !m.learner)).toBe(true)
    await expectHealthy()
    for (const ep of eps) expect(await countKeys('before', ep)).toBe(300)
    expect(readFileSync(envFile, 'utf8')).toMatch(/ETCD_INITIAL_CLUSTER_STATE=existing/)
  }, T)

  it('afterwards `etcd-inspect check` says OK for every member (each checked while stopped, as ExecStartPre would)', async (ctx) => {
    for (const m of members) {
      execFileSync('sh', [m.scripts.stop])
      try {
        const r = await runCli(['check', m.dataDir, ...conn, '--name', m.name, '--initial-advertise-peer-urls', m.peerURL, '--state-dir', join(base, 'check-state'), '-w', 'json'])
        const v = JSON.parse(r.stdout) as { verdict: string; subReason?: string; reason: string }
        // Until the shared WAL reader lands (branch wal), check cannot read the dir: skip, do not pass.
        if (v.verdict === 'UNKNOWN' && v.subReason === 'OFFLINE_UNREADABLE' && /WAL reader is not available/.test(v.reason)) ctx.skip()
        expect(r.code, r.stdout.slice(0, 1500) + r.stderr).toBe(0)
        expect(v.verdict).toBe('OK')
      } finally {
        execFileSync('sh', [m.scripts.start])
        await waitHealthyURL(m.clientURL, m.tls)
      }
    }
    await expectHealthy()
  }, T)
})
