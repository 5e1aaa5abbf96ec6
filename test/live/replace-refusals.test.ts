/**
 * Refusals of `replace plan` / `apply` against real etcd: each is one line on stderr, exit 7
 * (refused) or 6 (cluster unreachable), and changes nothing (same membership, same config, same
 * data dir files, no journal written). Also plan's warning when another op holds the cluster
 * lock, which it only reads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { etcdctl, freePort, startEtcd, type EtcdMember } from '../support/etcd.js'
import { hashTree } from '../support/tree-hash.js'
import { killPidFile, memberList, runCli, startTlsCluster, waitHealthyURL, type ScriptMember, type TestPki, type MemberRow } from '../replace/helpers.js'

const T = 300_000
let base: string
let pki: TestPki
let members: ScriptMember[]
let eps: string[]
let conn: string[]
let single: EtcdMember | undefined

const snapshotState = async (m: ScriptMember): Promise<{ list: MemberRow[]; cfg: string; dir: string }> => ({
  list: await memberList(eps.filter((e) => e !== members[0]!.clientURL || true), m.tls).catch(() => memberList([eps[1]!, eps[2]!], m.tls)),
  cfg: readFileSync(m.envFile, 'utf8'),
  dir: JSON.stringify(hashTree(m.dataDir).filter((e) => !e.path.endsWith('/')).map((e) => [e.path, e.sha256])),
})

function args(m: ScriptMember, state: string, extra: string[] = [], config = m.envFile): string[] {
  return ['replace', 'plan', ...conn, '--config', config, '--state-dir', state, '--stop-cmd', m.scripts.stop, '--start-cmd', m.scripts.start, ...extra]
}

/** Runs a refused command and checks: exit code, one line on stderr matching `re`, nothing changed. */
async function expectRefused(argv: string[], code: number, re: RegExp, m: ScriptMember, state: string): Promise<void> {
  const before = await snapshotState(m)
  const r = await runCli(argv)
  expect(r.code, r.stderr).toBe(code)
  expect(r.stdout).toBe('')
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1)
  expect(r.stderr).toMatch(re)
  const after = await snapshotState(m)
  expect(after.list).toEqual(before.list)
  expect(after.cfg).toBe(before.cfg)
  expect(existsSync(join(state, 'journal.lmdb'))).toBe(false)
}

function envWith(m: ScriptMember, name: string, patch: Record<string, string>): string {
  let s = readFileSync(m.envFile, 'utf8')
  for (const [k, v] of Object.entries(patch)) s = s.replace(new RegExp(`^${k}=.*$`, 'm'), `${k}=${v}`)
  const p = join(base, name)
  writeFileSync(p, s)
  return p
}

beforeAll(async () => {
  ;({ base, pki, members, eps, conn } = await startTlsCluster('replace-refuse-'))
}, T)

afterAll(async () => {
  for (const m of members ?? []) killPidFile(m.scripts.pidFile)
  await single?.stop()
})

describe('replace plan while another op holds the cluster lock', () => {
  it('warns in JSON and table, naming the holder; reads only (same key, same revision, no lease granted)', async () => {
    const m3 = members[2]!
    const key = '/etcd-inspect/replace-lock'
    // Held the way ClusterLock holds it: the holder JSON bound to a lease.
    const leaseHex = /^lease ([0-9a-f]+) granted/.exec(await etcdctl(eps, ['lease', 'grant', '60'], m3.tls))![1]!
    const holder = { opId: 'r20260101t000000z-abcdef', host: 'other-host', pid: 4242, at: '2026-01-01T00:00:00.000Z', leaseIdHex: leaseHex, ttlSec: 60 }
    await etcdctl(eps, ['put', `--lease=${leaseHex}`, key, JSON.stringify(holder)], m3.tls)
    const look = async (): Promise<{ revision: string; kvs: unknown; leases: string }> => {
      const j = JSON.parse((await etcdctl(eps, ['get', key, '-w', 'json'], m3.tls)).replace(/":(\d{16,})/g, '":"$1"')) as { header: { revision: string }; kvs: unknown }
      return { revision: String(j.header.revision), kvs: j.kvs, leases: await etcdctl(eps, ['lease', 'list'], m3.tls) }
    }
    try {
      const before = await look()
      const state = join(base, 's-lock')
      const warning = new RegExp(`^the cluster lock ${key} is held by op ${holder.opId} on host other-host \\(pid 4242, since 2026-01-01T00:00:00\\.000Z, lease ${leaseHex}, \\d+s left\\): apply will be refused until that run ends or its lease expires$`)
      const j = await runCli([...args(m3, state), '-w', 'json'])
      expect(j.code, j.stderr).toBe(0)
      expect(j.stderr).toBe('')
      const ws = (JSON.parse(j.stdout) as { warnings: string[] }).warnings
      expect(ws.filter((w) => warning.test(w))).toHaveLength(1)
      const t = await runCli([...args(m3, state), '-w', 'table'])
      expect(t.code, t.stderr).toBe(0)
      expect(t.stdout.split('\n').filter((l) => l.startsWith('warning: ') && warning.test(l.slice('warning: '.length)))).toHaveLength(1)
      // A get and a time-to-live, nothing else: no put (same revision), no lease taken, no state dir.
      expect(await look()).toEqual(before)
      expect(existsSync(state)).toBe(false)
    } finally {
      await etcdctl(eps, ['lease', 'revoke', leaseHex], m3.tls)
    }
    // With the key gone, no such warning.
    const free = await runCli([...args(m3, join(base, 's-lock')), '-w', 'json'])
    expect((JSON.parse(free.stdout) as { warnings: string[] }).warnings.filter((w) => w.includes(key))).toEqual([])
  })
})

describe('replace refusals (nothing changed, one line, exit code)', () => {
  it('refuses a data dir that belongs to another member', async () => {
    const m3 = members[2]!
    await expectRefused(args(m3, join(base, 's1'), ['--data-dir', members[0]!.dataDir]), 7, /^Error: data dir .*m1\.etcd belongs to member m1 [0-9a-f]+, not to the target [0-9a-f]+; nothing was changed/, m3, join(base, 's1'))
  })

  it('refuses a data dir whose WAL head is damaged, naming the file and the offset (the checked reader)', async () => {
    const m3 = members[2]!
    const wal = join(m3.dataDir, 'member', 'wal')
    const first = readdirSync(wal).filter((n) => n.endsWith('.wal')).sort()[0]!
    // the head of m3's first segment (CRC record, metadata record, ...): 4 KiB, one metadata byte flipped
    const head = Buffer.alloc(4096)
    const fd = openSync(join(wal, first), 'r')
    readSync(fd, head, 0, head.length, 0)
    closeSync(fd)
    // segment 0's CRC record stores 0 (08 04 10 00 + 4 pad): the metadata frame is at 16, its data after the 8-byte word and 08 01 10 <crc> 1a <len>
    expect([...head.subarray(24, 26)]).toEqual([0x08, 0x01])
    head[16 + 8 + 12] ^= 0x01
    const dir = join(base, 'damaged-head')
    mkdirSync(join(dir, 'member', 'wal'), { recursive: true })
    const seg = join(dir, 'member', 'wal', first)
    writeFileSync(seg, head)
    const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    await expectRefused(args(m3, join(base, 's-head'), ['--data-dir', dir]), 7,
      new RegExp(`^Error: ${esc(seg)} at offset 16: wal: crc mismatch: expected [0-9a-f]{8} computed [0-9a-f]{8}: the WAL head that identifies ${esc(dir)} is damaged \\(crc-mismatch\\); nothing was changed`), m3, join(base, 's-head'))
  })

  it('refuses a peer cert whose SANs miss the peer URL', async () => {
    const m3 = members[2]!
    const bad = pki.member('m3-nosan', '127.0.0.99', { sans: 'IP:127.0.0.99' })
    const cfg = envWith(m3, 'm3-nosan.env', { ETCD_PEER_CERT_FILE: bad.cert, ETCD_PEER_KEY_FILE: bad.key })
    await expectRefused(args(m3, join(base, 's2'), [], cfg), 7, /^Error: peer cert .*m3-nosan\.crt: SANs do not cover 127\.0\.0\.3 \(from https:\/\/127\.0\.0\.3:\d+\); nothing was changed/, m3, join(base, 's2'))
  })

  it('refuses an expired cert', async () => {
    const m3 = members[2]!
    const old = pki.member('m3-expired', '127.0.0.3', { days: -1 })
    const cfg = envWith(m3, 'm3-expired.env', { ETCD_CERT_FILE: old.cert, ETCD_KEY_FILE: old.key })
    await expectRefused(args(m3, join(base, 's3'), [], cfg), 7, /^Error: server cert .*m3-expired\.crt: expired at \d{4}-.*; nothing was changed/, m3, join(base, 's3'))
  })

  it('refuses while another learner is pending', async () => {
    const m3 = members[2]!
    const port = await freePort('127.0.0.4')
    // etcd accepts an add only after every voter has been connected for 5 s: retry "unhealthy cluster".
    for (let i = 0; ; i++) {
      try {
        await etcdctl(eps, ['member', 'add', 'pending', '--learner', `--peer-urls=https://127.0.0.4:${port}`], m3.tls)
        break
      } catch (e) {
        if (i > 30 || !/unhealthy cluster/.test((e as Error).message)) throw e
        await new Promise((r) => setTimeout(r, 500))
      }
    }
    try {
      await expectRefused(args(m3, join(base, 's4')), 7, /^Error: another learner is pending \(\(unstarted\) [0-9a-f]+ https:\/\/127\.0\.0\.4:\d+\); promote or remove it first; nothing was changed/, m3, join(base, 's4'))
    } finally {
      const l = (await memberList(eps, m3.tls)).find((x) => x.learner)
      if (l) await etcdctl(eps, ['member', 'remove', l.id], m3.tls)
    }
  })

  it('refuses an unreachable cluster (exit 6)', async () => {
    const m3 = members[2]!
    const port = await freePort('127.0.0.1')
    const r = await runCli(['replace', 'plan', '--endpoints', `https://127.0.0.1:${port}`, '--cacert', pki.ca, '--cert', pki.clientCert, '--key', pki.clientKey, '--dial-timeout', '1s',
      '--config', m3.envFile, '--state-dir', join(base, 's5'), '--stop-cmd', 'true', '--start-cmd', 'true'])
    expect(r.code).toBe(6)
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/^Error: no endpoint answered MemberList/)
    expect(existsSync(join(base, 's5'))).toBe(false)
  })

  it('refuses apply without --yes when there is no terminal', async () => {
    const m3 = members[2]!
    const before = await snapshotState(m3)
    const r = await runCli(['replace', 'apply', ...args(m3, join(base, 's6')).slice(2)])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^Error: apply changes the cluster: pass --yes/)
    expect(await snapshotState(m3)).toEqual(before)
  })

  it('refuses apply while another run holds the lock', async () => {
    const m3 = members[2]!
    const state = join(base, 's7')
    const planFile = join(base, 'p7.json')
    const p = await runCli([...args(m3, state), '-o', planFile])
    expect(p.code, p.stderr).toBe(0)
    mkdirSync(state, { recursive: true })
    writeFileSync(join(state, 'replace.lock'), JSON.stringify({ pid: process.pid, opId: 'other', at: new Date().toISOString() }))
    const before = await snapshotState(m3)
    const r = await runCli(['replace', 'apply', '--plan', planFile, '--yes'])
    expect(r.code).toBe(7)
    expect(r.stderr).toMatch(new RegExp(`^Error: another replace run holds .*replace\\.lock \\(pid ${process.pid}, op other`))
    expect(await snapshotState(m3)).toEqual(before)
  })

  it('refuses when a second member is already down (quorum)', async () => {
    const m1 = members[0]!
    const m3 = members[2]!
    execFileSync('sh', [m1.scripts.stop])
    try {
      const r = await runCli(args(m3, join(base, 's8')))
      expect(r.code, r.stderr).toBe(7)
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1)
      expect(r.stderr).toMatch(/^Error: removing [0-9a-f]+ leaves 1 healthy of 2 voters \(quorum 2\): the cluster would lose quorum \(unhealthy: [0-9a-f]+\); nothing was changed/)
      expect(existsSync(join(base, 's8'))).toBe(false)
    } finally {
      execFileSync('sh', [m1.scripts.start])
      await waitHealthyURL(m1.clientURL, m1.tls)
    }
  }, T)

  it('refuses a 2-member cluster without --force, plans it with --force', async () => {
    const m2 = members[1]!
    const m3 = members[2]!
    const id2 = (await memberList(eps, m2.tls)).find((x) => x.name === 'm2')!.id
    execFileSync('sh', [m2.scripts.stop])
    await etcdctl([eps[0]!, eps[2]!], ['member', 'remove', id2], m2.tls)
    const r = await runCli(args(m3, join(base, 's9')))
    expect(r.code, r.stderr).toBe(7)
    expect(r.stderr).toMatch(/^Error: a 2-member cluster tolerates no failure while a member is replaced; pass --force to accept that; nothing was changed/)
    const f = await runCli([...args(m3, join(base, 's9'), ['--force']), '-w', 'json'])
    expect(f.code, f.stderr).toBe(0)
    expect(JSON.parse(f.stdout).quorum).toMatchObject({ voters: 2, healthyVoters: 2, toleranceDuring: 0 })
    // Bring m2 back with the runbook itself (REMOVED_MEMBER: no removal, so no --force needed).
    const back = await runCli(['replace', 'apply', ...args(m2, join(base, 's10')).slice(2), '--yes'])
    expect(back.code, back.stderr).toBe(0)
    expect((await memberList(eps, m2.tls)).filter((x) => !x.learner)).toHaveLength(3)
  }, T)

  it('refuses replacing the only member of a 1-member cluster', async () => {
    single = await startEtcd({ name: 'solo', host: '127.0.0.5' })
    const env = join(base, 'solo.env')
    writeFileSync(env, `ETCD_NAME=solo\nETCD_DATA_DIR=${single.dataDir}\nETCD_INITIAL_ADVERTISE_PEER_URLS=${single.peerURL}\nETCD_ADVERTISE_CLIENT_URLS=${single.clientURL}\n`)
    const r = await runCli(['replace', 'plan', '--endpoints', single.clientURL, '--config', env, '--state-dir', join(base, 's11'), '--stop-cmd', 'true', '--start-cmd', 'true', '--force'])
    expect(r.code).toBe(7)
    expect(r.stderr).toMatch(/^Error: the target is the only voter: removing it destroys the cluster; restore from a snapshot instead; nothing was changed/)
  })
})
