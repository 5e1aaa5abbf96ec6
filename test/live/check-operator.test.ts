/**
 * What `check` tells the operator (issue 12), against one real 3-member TLS cluster run from env
 * files: every next-step command printed on the verdicts that print one is run as printed
 * (IN_USE, DATA_LOST, EMPTY_NOT_ADDED, EMPTY_READY_TO_JOIN, CONFIG_DRIFT, UNKNOWN, REMOVED_MEMBER,
 * REMOVED_MEMBER/REPLACED, CORRUPT, LEARNER_PENDING, DIVERGED, ROLLED_BACK, FOREIGN_CLUSTER), and
 * followed to where the message says it leads (the member joins, is promoted, is replaced by the
 * `replace apply` the printed plan names, the re-run check's verdict); nothing an operator must copy is truncated in the table or
 * `-w simple`; a quorum outage is reported as one, naming the members that answered and every
 * endpoint that did not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readSync, renameSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { allocate, etcdctl, startEtcd, type TlsFiles } from '../support/etcd.js'
import { envFileSettings, killPidFile, memberList, putEnvSettings, quotedCommands, runCli, runPrinted, startTlsCluster, until, waitHealthyURL, writeFakeSystemctl, type FakeSystemctl, type ScriptMember, type CliResult } from '../replace/helpers.js'

const T = 300_000
let base: string
let members: ScriptMember[]
let eps: string[]
let conn: string[]
let fake: FakeSystemctl

beforeAll(async () => {
  ;({ base, members, eps, conn } = await startTlsCluster('check-operator-'))
  for (let i = 0; i < 5; i++) await etcdctl(eps, ['put', `k/${i}`, `v-${i}`], members[0]!.tls)
  // m3 under a (stand-in) systemd unit, so a printed `replace plan --systemd-unit` can run.
  fake = writeFakeSystemctl(join(base, 'sd'), 'etcd-m3.service', members[2]!.scripts.start, members[2]!.scripts.stop)
}, T)

afterAll(() => {
  for (const m of members ?? []) killPidFile(m.scripts.pidFile)
})

const state = (): string => join(base, 'state')

function check(dir: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runCli(['check', dir, ...conn, '--dial-timeout', '1s', '--command-timeout', '3s', '--state-dir', state(), ...extra], env)
}

async function checkJson(dir: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ verdict: string; subReason: string | null; exitCode: number; reason: string; next: string; commands: string[]; evidence: { memberById: { id: string } | null; local: { memberId: string | null } } }> {
  const r = await check(dir, [...extra, '-w', 'json'], env)
  expect(r.stderr).toBe('')
  return JSON.parse(r.stdout)
}

/** Each printed command runs as printed: never a usage error (etcd-inspect exit 2, etcdctl's "unknown flag"/usage text). */
async function pasteAll(cmds: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult[]> {
  const out: CliResult[] = []
  for (const c of cmds) {
    let r = await runPrinted(c, env)
    // etcd refuses a member add for 5 s after any peer link flapped ("unhealthy cluster", etcd 3.4
    // HealthInterval); on a loaded CI host that happens right after a removal. An operator reruns
    // it: here once a second while etcd says so, and no longer.
    const refused = (x: CliResult): boolean => c.startsWith('etcdctl ') && x.code !== 0 && /unhealthy cluster|not enough started members/.test(x.stderr)
    if (refused(r)) {
      await until(async () => !refused(r = await runPrinted(c, env)), `etcd to accept \`${c}\` (last: ${r.stderr.trim()})`, 20000, 1000)
    }
    if (c.startsWith('etcd-inspect ')) expect(r.code, `${c}\n${r.stderr}`).not.toBe(2)
    expect(r.stderr, c).not.toMatch(/unknown (flag|command|shorthand)|Usage:|error: (unknown option|missing required)/i)
    out.push(r)
  }
  return out
}

describe('check: next steps run as printed, nothing cut off', () => {
  it('IN_USE: the member by ID is shown, endpoints in full, the command below the table runs', async () => {
    const m1 = members[0]!
    const j = await checkJson(m1.dataDir)
    expect(j.verdict).toBe('IN_USE')
    const id = (await memberList(eps, m1.tls)).find((x) => x.name === 'm1')!.id
    expect(j.evidence.memberById?.id).toBe(id)
    const t = await check(m1.dataDir)
    expect(t.code).toBe(10)
    expect(t.stdout).toMatch(new RegExp(`│ member by ID +│ ${id} m1 ${m1.peerURL.replace(/[.]/g, '\\.')} +│`))
    for (const ep of eps) expect(t.stdout).toContain(`${ep}: member `)
    expect(t.stdout).not.toContain('…')
    const printed = t.stdout.split('commands (run as printed):\n')[1]!.trimEnd().split('\n').map((l) => l.trim())
    expect(printed).toEqual(j.commands)
    const [r] = await pasteAll(printed)
    expect(r!.code, r!.stderr).toBe(0)
    expect(r!.stdout).toContain(m1.clientURL)
  }, T)

  it('DATA_LOST: the printed replace plan carries --config and --systemd-unit and runs (exit 0)', async () => {
    const m3 = members[2]!
    const dir = join(base, 'lost')
    mkdirSync(dir)
    const args = ['--name', 'm3', '--initial-advertise-peer-urls', m3.peerURL]
    const j = await checkJson(dir, [...args, '--config', m3.envFile, '--systemd-unit', 'etcd-m3.service'])
    expect(j.verdict).toBe('DATA_LOST')
    const plan = j.commands.find((c) => c.startsWith('etcd-inspect replace plan '))!
    expect(plan).toContain(`--config ${m3.envFile} --systemd-unit etcd-m3.service --state-dir ${state()} --data-dir ${dir} --member `)
    const [r] = await pasteAll(j.commands, fake.env)
    expect(r!.code, r!.stderr).toBe(0)
    expect(r!.stdout).toMatch(/^replace plan r\S+ \(version 1, mode in-place, reason MEMBER\)/)
    expect(r!.stdout).toContain(`; data dir ${dir} (no WAL)`)
    // Without them, the classic unit's paths stand in: the command still parses (here the
    // Debian /etc/default/etcd sets nothing, so the plan names the file and what is missing).
    const d = await checkJson(dir, args)
    const dp = d.commands.find((c) => c.startsWith('etcd-inspect replace plan '))!
    expect(dp).toContain('--config /etc/default/etcd --systemd-unit etcd.service')
    const [r2] = await pasteAll([dp])
    expect([0, 3, 6, 7]).toContain(r2!.code)
  }, T)

  let slot: Awaited<ReturnType<typeof allocate>>
  it('EMPTY_NOT_ADDED: the printed member add runs and adds the learner', async () => {
    slot = await allocate('m4', '127.0.0.4', true)
    const dir = join(base, 'm4.etcd')
    const j = await checkJson(dir, ['--name', 'm4', '--initial-advertise-peer-urls', slot.peerURL])
    expect(j.verdict).toBe('EMPTY_NOT_ADDED')
    const rs = await pasteAll(j.commands)
    expect(rs.map((r) => r.code)).toEqual(j.commands.map(() => 0))
    expect((await memberList(eps, members[0]!.tls)).find((x) => x.learner)?.peerURLs).toEqual([slot.peerURL])
  }, T)

  it('EMPTY_READY_TO_JOIN: ETCD_INITIAL_CLUSTER printed in full (table and simple); its commands run', async () => {
    const dir = join(base, 'm4.etcd')
    const args = ['--name', 'm4', '--initial-advertise-peer-urls', slot.peerURL]
    const j = await checkJson(dir, args)
    expect(j.verdict).toBe('EMPTY_READY_TO_JOIN')
    const full = `ETCD_INITIAL_CLUSTER=${[...members.map((m) => `${m.name}=${m.peerURL}`), `m4=${slot.peerURL}`].sort().join(',')}`
    const ic = j.commands.find((c) => c.startsWith('ETCD_INITIAL_CLUSTER='))!
    expect(`ETCD_INITIAL_CLUSTER=${ic.slice('ETCD_INITIAL_CLUSTER='.length).split(',').sort().join(',')}`).toBe(full)
    const t = await check(dir, args)
    expect(t.code).toBe(0)
    expect(t.stdout).toContain(`\n  ${ic}\n`)
    expect(t.stdout).not.toContain('…')
    const s = await check(dir, [...args, '-w', 'simple'])
    expect(s.stdout).toContain(`--initial-cluster=${ic.slice('ETCD_INITIAL_CLUSTER='.length)}`)
    const rs = await pasteAll(j.commands)
    expect(rs.map((r) => r.code)).toEqual(j.commands.map(() => 0))
    // The promote command in `next` parses too (etcd refuses it until the learner has started).
    const promote = /(etcdctl .* member promote [0-9a-f]+)$/.exec(j.next)![1]!
    const [p] = await pasteAll([promote])
    expect(p!.code).not.toBe(0)
    expect(p!.stderr).toContain('can only promote a learner member which is in sync with leader')
    const learner = (await memberList(eps, members[0]!.tls)).find((x) => x.learner)!
    await etcdctl(eps, ['member', 'remove', learner.id], members[0]!.tls)
  }, T)

  it('CONFIG_DRIFT (name, peer URLs): the printed setting and member update run as printed', async () => {
    const m2 = members[1]!
    execFileSync('sh', [m2.scripts.stop])
    const n = await checkJson(m2.dataDir, ['--name', 'm2-renamed'])
    expect(n.verdict).toBe('CONFIG_DRIFT')
    expect(n.commands).toEqual(['ETCD_NAME=m2'])
    await pasteAll(n.commands)
    const moved = `https://127.0.0.2:${(await allocate('m2b', '127.0.0.2', true)).peerPort}`
    const u = await checkJson(m2.dataDir, ['--name', 'm2', '--initial-advertise-peer-urls', moved])
    expect(u.verdict).toBe('CONFIG_DRIFT')
    expect(u.subReason).toBe('PEER_URLS')
    const rs = await pasteAll(u.commands)
    expect(rs.map((r) => r.code)).toEqual(u.commands.map(() => 0))
    const row = (await memberList([members[0]!.clientURL], m2.tls)).find((x) => x.name === 'm2')!
    expect(row.peerURLs).toEqual([moved])
    // Back as it was, and running.
    await etcdctl([members[0]!.clientURL], ['member', 'update', row.id, `--peer-urls=${m2.peerURL}`], m2.tls)
    execFileSync('sh', [m2.scripts.start])
    await waitHealthyURL(m2.clientURL, m2.tls)
  }, T)

  it('UNKNOWN with most of the cluster down: a quorum is not available, who answered, every silent endpoint, the majority advice', async () => {
    const [m1, m2, m3] = members as [ScriptMember, ScriptMember, ScriptMember]
    // Both at once: each etcd takes seconds to shut down.
    await Promise.all([m2, m3].map((m) => runPrinted(`sh ${m.scripts.stop}`)))
    const id1 = (await memberList([m1.clientURL], m1.tls)).find((x) => x.name === 'm1')!.id
    // etcd takes a moment to notice the lost quorum (its leader steps down after an election timeout).
    let j = await checkJson(m2.dataDir, ['--name', 'm2'])
    if (j.subReason !== 'NO_QUORUM') await until(async () => (j = await checkJson(m2.dataDir, ['--name', 'm2'])).subReason === 'NO_QUORUM', 'check to see the lost quorum', 30000, 500)
    expect(j.verdict).toBe('UNKNOWN')
    expect(j.subReason).toBe('NO_QUORUM')
    expect(j.reason).toMatch(new RegExp(`^cannot decide safely: a quorum is not available: 1 of 3 voting members answered \\(m1 ${id1}; quorum 2(, no leader|, leader [0-9a-f]+)\\); no answer from `))
    for (const m of [m2, m3]) expect(j.reason).toContain(`${m.clientURL} (`)
    expect(j.reason).not.toContain(`${m1.clientURL} (`)
    expect(j.next).toContain('start a majority of the members together with this check bypassed (docs/check.md, "A cluster that is down")')
    const [r] = await pasteAll(j.commands)
    expect(r!.stdout).toContain(m1.clientURL)

    // Everything down: every endpoint is named.
    execFileSync('sh', [m1.scripts.stop])
    const all = await checkJson(m2.dataDir, ['--name', 'm2'])
    expect(all.subReason).toBe('UNREACHABLE')
    for (const m of members) expect(all.reason).toContain(`${m.clientURL} (`)
    const t = await check(m2.dataDir, ['--name', 'm2', '-w', 'simple'])
    for (const m of members) expect(t.stdout).toContain(m.clientURL)
    await pasteAll(all.commands)

    for (const m of members) execFileSync('sh', [m.scripts.start])
    for (const m of members) await waitHealthyURL(m.clientURL, m.tls)
  }, T)

  it('REMOVED_MEMBER: archive and member add run as printed; the dir is then ready to join', async () => {
    const m3 = members[2]!
    const id = (await memberList(eps, m3.tls)).find((x) => x.name === 'm3')!.id
    execFileSync('sh', [m3.scripts.stop])
    await etcdctl(eps.slice(0, 2), ['member', 'remove', id], m3.tls)
    const args = ['--name', 'm3', '--initial-advertise-peer-urls', m3.peerURL]
    const j = await checkJson(m3.dataDir, args)
    expect(j.verdict).toBe('REMOVED_MEMBER')
    const rs = await pasteAll(j.commands)
    expect(rs.map((r) => r.code), rs.map((r) => r.stderr).join('\n')).toEqual(j.commands.map(() => 0))
    expect(existsSync(m3.dataDir)).toBe(false)
    expect(readdirSync(base).filter((n) => n.startsWith(`m3.etcd.removed-${id}-`))).toHaveLength(1)
    const again = await checkJson(m3.dataDir, args)
    expect(again.verdict).toBe('EMPTY_READY_TO_JOIN')
  }, T)

  it('REMOVED_MEMBER/REPLACED and CORRUPT on the archived dir: their commands run as printed', async () => {
    const m3 = members[2]!
    const archived = join(base, readdirSync(base).find((n) => n.startsWith('m3.etcd.removed-'))!)
    const args = ['--name', 'm3', '--initial-advertise-peer-urls', m3.peerURL]
    // CORRUPT first, on a copy with a flipped byte inside a WAL record.
    const bad = join(base, 'm3-corrupt')
    cpSync(archived, bad, { recursive: true })
    const walDir = join(bad, 'member', 'wal')
    const seg = join(walDir, readdirSync(walDir).filter((f) => f.endsWith('.wal')).sort()[0]!)
    const fd = openSync(seg, 'r+')
    const b = Buffer.alloc(1)
    readSync(fd, b, 0, 1, 200)
    b[0] = b[0]! ^ 0xff
    writeSync(fd, b, 0, 1, 200)
    closeSync(fd)
    const c = await checkJson(bad, [...args, '--config', m3.envFile, '--systemd-unit', 'etcd-m3.service'])
    expect(c.verdict).toBe('CORRUPT')
    const [cp] = await pasteAll(c.commands, fake.env)
    // The plan refuses that dir (it belongs to a removed member, and the peer URL to a learner): not a usage error.
    expect(cp!.code, cp!.stderr).toBe(7)
    expect(cp!.stderr).toMatch(/^Error: .*; nothing was changed/)

    const j = await checkJson(archived, args)
    expect(j.verdict).toBe('REMOVED_MEMBER')
    expect(j.subReason).toBe('REPLACED')
    const rs = await pasteAll(j.commands)
    expect(rs.map((r) => r.code)).toEqual(j.commands.map(() => 0))
    expect(existsSync(archived)).toBe(false)
  }, T)
})

describe('check: the printed next steps lead where the message says', () => {
  const tls = (): TlsFiles => members[0]!.tls
  const idOf = async (name: string): Promise<string> => (await memberList(eps, tls())).find((x) => x.name === name)!.id
  /** check as `ExecStartPre=` runs it: the member's env file is the environment; --config/--systemd-unit for the printed plan. */
  const checkAsUnit = (m: ScriptMember, extra: string[] = []): ReturnType<typeof checkJson> =>
    checkJson(m.dataDir, ['--config', m.envFile, '--systemd-unit', `etcd-${m.name}.service`, ...extra], envFileSettings(m.envFile))
  const raftIndex = async (url: string, t: TlsFiles | null = tls()): Promise<number> => (JSON.parse(await etcdctl(url, ['endpoint', 'status', '-w', 'json'], t ?? undefined)) as { Status: { raftIndex: number } }[])[0]!.Status.raftIndex
  const appliedIndex = async (url: string): Promise<number> => (JSON.parse(await etcdctl(url, ['endpoint', 'status', '-w', 'json'], tls())) as { Status: { raftAppliedIndex: number } }[])[0]!.Status.raftAppliedIndex
  async function healthy3(): Promise<void> {
    await until(async () => {
      const l = await memberList(eps, tls())
      return l.length === 3 && l.every((x) => !x.learner && x.name !== '')
    }, '3 started voters')
    for (const m of members) await waitHealthyURL(m.clientURL, m.tls)
  }
  /** A copy of m3's data dir, taken while it is stopped; m3 runs again afterwards. */
  async function copyOfM3(name: string): Promise<string> {
    const m3 = members[2]!
    execFileSync('sh', [m3.scripts.stop])
    const copy = join(base, name)
    cpSync(m3.dataDir, copy, { recursive: true })
    execFileSync('sh', [m3.scripts.start])
    await waitHealthyURL(m3.clientURL, m3.tls)
    return copy
  }
  /** Runs the printed `replace plan` and then the `replace apply` its output names: m3 is replaced. */
  async function planThenApply(j: { commands: string[] }, oldId: string): Promise<string> {
    const m3 = members[2]!
    expect(j.commands).toHaveLength(1)
    expect(j.commands[0]).toContain(` --data-dir ${m3.dataDir} --member ${oldId} `)
    const [plan] = await pasteAll(j.commands, fake.env)
    expect(plan!.code, plan!.stderr).toBe(0)
    expect(plan!.stdout).toMatch(new RegExp(`^replace plan r\\S+ \\(version 1, mode in-place, reason MEMBER\\)`))
    expect(plan!.stdout).toContain(`target m3 ${oldId} ${m3.peerURL}; data dir ${m3.dataDir} (WAL: member ${oldId})`)
    const next = plan!.stdout.split('\n').find((l) => l.startsWith('next: '))!
    const [apply] = quotedCommands(next)
    const t = tls()
    expect(apply).toBe(`etcd-inspect replace apply --config ${m3.envFile} --member ${oldId} --data-dir ${m3.dataDir} --state-dir ${state()} --systemd-unit etcd-m3.service --endpoints=${eps.join(',')} --cacert=${t.ca} --cert=${t.clientCert} --key=${t.clientKey} --dial-timeout=1s --command-timeout=3s --yes`)
    const [r] = await pasteAll([apply!], fake.env)
    expect(r!.code, r!.stderr).toBe(0)
    expect(r!.stdout).toMatch(/^replace r\S+: complete in /)
    await healthy3()
    const newId = await idOf('m3')
    expect(newId).not.toBe(oldId)
    // The old data is archived, never deleted; m3 runs on a fresh dir.
    expect(readdirSync(base).filter((n) => n.startsWith(`m3.etcd.removed-${oldId}-`))).toHaveLength(1)
    expect((await checkAsUnit(m3)).verdict).toBe('IN_USE')
    return newId
  }

  it('CONFIG_DRIFT (state new), EMPTY_READY_TO_JOIN, LEARNER_PENDING: with the printed settings m3 joins; the printed promote makes it a voter', async () => {
    const m3 = members[2]!
    // Where the REMOVED_MEMBER steps left it: added as a learner, never started, no data dir; its
    // env file still says `new` (as it was bootstrapped).
    const drift = await checkAsUnit(m3)
    expect([drift.verdict, drift.subReason]).toEqual(['CONFIG_DRIFT', 'INITIAL_CLUSTER_STATE_NEW'])
    putEnvSettings(m3.envFile, drift.commands)
    const ready = await checkAsUnit(m3)
    expect(ready.verdict).toBe('EMPTY_READY_TO_JOIN')
    expect(ready.commands).toEqual(drift.commands)
    const learnerId = ready.evidence.memberById!.id
    execFileSync('sh', [m3.scripts.start])
    await until(async () => (await memberList(eps, tls())).some((x) => x.id === learnerId && x.name === 'm3' && x.learner), 'm3 to join as a learner')
    execFileSync('sh', [m3.scripts.stop])
    const pending = await checkAsUnit(m3)
    expect(pending.verdict).toBe('LEARNER_PENDING')
    expect(pending.next).toBe('start it, wait until it caught up, then promote it')
    expect(pending.commands).toEqual([expect.stringMatching(new RegExp(`^etcdctl .* member promote ${learnerId}$`))])
    execFileSync('sh', [m3.scripts.start])
    // "wait until it caught up": etcd refuses the promote until then, the operator runs it again.
    let last: CliResult | undefined
    await until(async () => {
      ;[last] = await pasteAll(pending.commands)
      return last!.code === 0 || !last!.stderr.includes('can only promote a learner member which is in sync with leader')
    }, 'the printed promote to succeed', 60000, 500)
    expect(last!.code, last!.stderr).toBe(0)
    // etcdctl formats the ID with %16x: an ID with a leading zero nibble is padded with a space.
    expect(last!.stdout).toMatch(new RegExp(`^Member +${learnerId} promoted in cluster +[0-9a-f]+$`, 'm'))
    await healthy3()
    expect((await checkAsUnit(m3)).verdict).toBe('IN_USE')
  }, T)

  it('DIVERGED: a fork of m3 (--force-new-cluster, written to) in its place; the printed plan and the apply it names replace m3', async () => {
    const m3 = members[2]!
    const oldId = await idOf('m3')
    const fork = await copyOfM3('m3-fork.etcd')
    // Without peer certificates: until it applies its own removal of m1 and m2, the fork still
    // dials them as m3 with a higher term, and the live members must never hear it.
    const slot = await allocate('m3', m3.host)
    const f = await startEtcd({ name: 'm3', host: m3.host, clientPort: slot.clientPort, peerPort: slot.peerPort, dataDir: fork, extraArgs: ['--force-new-cluster'] })
    try {
      // Ahead of the live cluster: the histories now differ.
      const target = (await raftIndex(members[0]!.clientURL)) + 3
      for (let i = 0; (await raftIndex(f.clientURL, null)) <= target; i++) await etcdctl(f.clientURL, ['put', `fork/${i}`, 'x'])
    } finally {
      await f.stop()
    }
    execFileSync('sh', [m3.scripts.stop])
    renameSync(m3.dataDir, join(base, 'm3-before-fork.etcd'))
    renameSync(fork, m3.dataDir)
    const j = await checkAsUnit(m3)
    expect(j.verdict, j.reason).toBe('DIVERGED')
    expect(j.evidence.memberById?.id).toBe(oldId)
    await planThenApply(j, oldId)
  }, T)

  it('ROLLED_BACK: an older copy of m3 in its place; the printed plan and the apply it names replace m3', async () => {
    const m3 = members[2]!
    const oldId = await idOf('m3')
    const copy = await copyOfM3('m3-old.etcd')
    for (let i = 0; i < 3; i++) await etcdctl(eps, ['put', `after-copy/${i}`, 'x'], tls())
    // m3 acknowledged entries the copy lacks.
    const committed = await raftIndex(members[0]!.clientURL)
    await until(async () => (await appliedIndex(m3.clientURL)) >= committed, 'm3 to catch up')
    execFileSync('sh', [m3.scripts.stop])
    renameSync(m3.dataDir, join(base, 'm3-newer.etcd'))
    renameSync(copy, m3.dataDir)
    const j = await checkAsUnit(m3)
    expect([j.verdict, j.subReason], j.reason).toEqual(['ROLLED_BACK', 'LEADER_PROGRESS'])
    await planThenApply(j, oldId)
  }, T)

  describe('FOREIGN_CLUSTER: the dir of another cluster', () => {
    let foreign: string
    beforeAll(async () => {
      // One single-member cluster of its own (another token), stopped: its dir is the foreign one.
      foreign = join(base, 'other-cluster.etcd')
      const o = await startEtcd({ name: 'x1', host: '127.0.0.4', dataDir: foreign, token: 'another-cluster' })
      await etcdctl(o.clientURL, ['put', 'other', 'x'])
      await o.stop()
    }, T)

    it('on a new host: archive and member add run as printed; the dir is then ready to join', async () => {
      const slot = await allocate('m4', '127.0.0.4', true)
      const dir = join(base, 'm4-new-host.etcd')
      cpSync(foreign, dir, { recursive: true })
      const args = ['--name', 'm4', '--initial-advertise-peer-urls', slot.peerURL]
      const j = await checkJson(dir, args)
      expect([j.verdict, j.subReason]).toEqual(['FOREIGN_CLUSTER', 'OLD_CLUSTER'])
      expect(j.commands).toHaveLength(2)
      const rs = await pasteAll(j.commands)
      expect(rs.map((r) => r.code), rs.map((r) => r.stderr).join('\n')).toEqual([0, 0])
      expect(existsSync(dir)).toBe(false)
      expect(readdirSync(base).filter((n) => n.startsWith('m4-new-host.etcd.removed-'))).toHaveLength(1)
      const again = await checkJson(dir, args)
      expect(again.verdict).toBe('EMPTY_READY_TO_JOIN')
      // Not started here: the learner slot is needed below.
      await etcdctl(eps, ['member', 'remove', again.evidence.memberById!.id], tls())
    }, T)

    it('in place of m3, whose peer URL is registered: the printed remove + add run as printed; the dir is then ready to join', async () => {
      const m3 = members[2]!
      const oldId = await idOf('m3')
      execFileSync('sh', [m3.scripts.stop])
      renameSync(m3.dataDir, join(base, 'm3-real.etcd'))
      cpSync(foreign, m3.dataDir, { recursive: true })
      const j = await checkAsUnit(m3)
      expect(j.verdict).toBe('FOREIGN_CLUSTER')
      expect(j.reason).toContain(`member ${oldId} (m3), not answering, holds this peer URL`)
      expect(j.commands.slice(1)).toEqual([expect.stringMatching(new RegExp(`^etcdctl .* member remove ${oldId}$`)), expect.stringMatching(new RegExp(`^etcdctl .* member add m3 --peer-urls=${m3.peerURL} --learner$`))])
      const rs = await pasteAll(j.commands)
      expect(rs.map((r) => r.code), rs.map((r) => r.stderr).join('\n')).toEqual([0, 0, 0])
      expect(readdirSync(base).filter((n) => n.startsWith(`m3.etcd.removed-${j.evidence.local.memberId}-`))).toHaveLength(1)
      const again = await checkAsUnit(m3)
      expect(again.verdict).toBe('EMPTY_READY_TO_JOIN')
      expect(again.evidence.memberById?.id).not.toBe(oldId)
    }, T)
  })
})
