/**
 * `compare` against real etcd 3.4 on loopback: one 3-member cluster (compaction, a member's dir
 * copied aside early), then a member forked from that old copy with --force-new-cluster. The
 * offline HashKV must equal `etcdctl endpoint hashkv --rev R` taken while the cluster ran; the
 * verdicts, the revisions a member lacks, the first differing revision and the differing keys are
 * checked exactly, and the printed restore commands are run as printed. Removed and other-cluster
 * dirs come from the fixtures (written by real etcd 3.4).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn, execFileSync } from 'node:child_process'
import { openSync, closeSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { startCluster, startEtcd, stopAll, etcdctl, tempDir, allocate, type EtcdMember } from '../support/etcd.js'
import { hashTree } from '../support/tree-hash.js'
import { runCli } from '../replace/helpers.js'
import { parseJsonBig } from '../../src/format/snap/json-big.js'
import { compareDirs } from '../../src/app/compare.js'

type Status = { header: { revision: bigint } }
const status = async (url: string): Promise<Status> => (parseJsonBig(await etcdctl(url, ['endpoint', 'status', '-w', 'json'])) as { Status: Status }[])[0]!.Status
const hashkv = async (url: string, rev: bigint): Promise<number> => {
  const out = parseJsonBig(await etcdctl(url, ['endpoint', 'hashkv', '--rev', String(rev), '-w', 'json'])) as { HashKV: { hash: bigint } }[]
  return Number(out[0]!.HashKV.hash)
}
const hex8 = (n: number) => n.toString(16).padStart(8, '0')

describe('compare on a real 3-member etcd 3.4 cluster', () => {
  let ms: EtcdMember[] = []
  let fork: EtcdMember | undefined
  let base: string
  let behindDir: string
  let forkDir: string
  let compactRev: bigint
  let copyRev: bigint
  let finalRev: bigint
  const expected = new Map<bigint, number>()
  const started: number[] = []

  beforeAll(async () => {
    base = tempDir('compare-')
    ms = await startCluster(3, { baseDir: base })
    const url = ms[0]!.clientURL
    for (let i = 0; i < 10; i++) await etcdctl(url, ['put', `a${i}`, `va${i}`])
    await etcdctl(url, ['put', 'a1', 'va1-2'])
    await etcdctl(url, ['del', 'a2'])
    await etcdctl(url, ['put', 'a3', 'va3-2'])
    compactRev = (await status(url)).header.revision - 1n
    await etcdctl(url, ['compact', String(compactRev), '--physical'])
    for (let i = 0; i < 3; i++) await etcdctl(url, ['put', `c${i}`, `vc${i}`])
    // m3 stopped, its dir copied twice (one stays behind, one is forked later), then restarted.
    const m3 = ms[2]!
    copyRev = (await status(m3.clientURL)).header.revision
    await m3.stop()
    behindDir = join(base, 'm3-behind.etcd')
    forkDir = join(base, 'm3-fork.etcd')
    execFileSync('cp', ['-a', m3.dataDir, behindDir])
    execFileSync('cp', ['-a', m3.dataDir, forkDir])
    ms[2] = await startEtcd({ name: m3.name, host: m3.host, clientPort: m3.clientPort, peerPort: m3.peerPort, dataDir: m3.dataDir,
      initialCluster: ms.map((m) => `${m.name}=${m.peerURL}`).join(','), initialClusterState: 'existing' })
    await etcdctl(url, ['put', 'b0', 'vb0'])
    await etcdctl(url, ['put', 'a4', 'va4-2'])
    await etcdctl(url, ['del', 'a5'])
    for (let i = 1; i < 6; i++) await etcdctl(url, ['put', `b${i}`, `vb${i}`])
    finalRev = (await status(url)).header.revision
    for (const r of [compactRev + 1n, copyRev, copyRev + 2n, finalRev]) expected.set(r, await hashkv(ms[2]!.clientURL, r))
    // Every member answers the same hash (a sanity check of the cluster, not of our code).
    expect(await hashkv(ms[0]!.clientURL, finalRev)).toBe(expected.get(finalRev))
  }, 180_000)

  afterAll(async () => {
    await stopAll([...ms, fork])
    for (const pid of started) { try { process.kill(pid, 'SIGKILL') } catch {} }
  })

  it('live: with --endpoints, each member\'s endpoint status and hashkv beside the offline hash of its running dir', async () => {
    const r = await runCli(['compare', ...ms.map((m) => m.dataDir), '--endpoints', ms.map((m) => m.clientURL).join(','), '-w', 'json'])
    expect(r.stderr).toBe('')
    const j = JSON.parse(r.stdout)
    expect(j.verdict).toBe('CONSISTENT')
    expect(r.code).toBe(0)
    expect(j.hash.revision).toBe(String(finalRev))
    expect(j.live).toHaveLength(3)
    for (const m of j.members) {
      expect(m.hash).toBe(expected.get(finalRev))
      expect(m.live.hash).toBe(expected.get(finalRev))
      expect(m.live.revision).toBe(String(finalRev))
      expect(m.live.compactRevision).toBe(String(compactRev))
    }
  })

  describe('after the stop', () => {
    let trees: Map<string, ReturnType<typeof hashTree>>
    beforeAll(async () => {
      await stopAll(ms)
      // The old copy, forked: a one-member cluster of its own history, written to.
      const slot = await allocate('m3', '127.0.0.3')
      fork = await startEtcd({ name: 'm3', host: slot.host, clientPort: slot.clientPort, peerPort: slot.peerPort, dataDir: forkDir, extraArgs: ['--force-new-cluster'] })
      await etcdctl(fork.clientURL, ['put', 'fork0', 'vf0'])
      await etcdctl(fork.clientURL, ['put', 'fork1', 'vf1'])
      await fork.stop()
      trees = new Map([...ms.map((m) => m.dataDir), behindDir, forkDir].map((d) => [d, hashTree(d)]))
    }, 120_000)

    afterAll(() => {
      for (const [d, t] of trees) expect(hashTree(d), `${d} changed`).toEqual(t)
    })

    it('three healthy members: CONSISTENT (exit 0), the offline hash equals etcdctl endpoint hashkv --rev R for every R', async () => {
      const dirs = ms.map((m) => m.dataDir)
      const def = await runCli(['compare', ...dirs, '-w', 'json'])
      expect(def.code).toBe(0)
      const j = JSON.parse(def.stdout)
      expect(j.verdict).toBe('CONSISTENT')
      expect(j.hash).toMatchObject({ revision: String(finalRev), agree: true })
      // In-process for the other revisions (one Node start per run costs seconds on a loaded machine).
      for (const [rev, h] of expected) {
        const x = await compareDirs(dirs, { rev, skipLockCheck: true })
        expect(x.members.map((m) => m.hash), `rev ${rev}`).toEqual([h, h, h])
        expect(x.verdict).toBe('CONSISTENT')
      }
      // At or below the compaction revision etcd answers ErrCompacted: so does compare.
      const low = await compareDirs(dirs, { rev: compactRev })
      expect(low.members[0].hash).toBeNull()
      expect(low.members[0].hashNote).toMatch(/compacted here.*ErrCompacted/)
      await expect(etcdctl(ms[0]!.clientURL, ['endpoint', 'hashkv', '--rev', String(compactRev)])).rejects.toThrow()
    })

    it('a dir copied aside early: BEHIND (exit 41), with the revisions it lacks', async () => {
      const r = await runCli(['compare', ms[0]!.dataDir, ms[1]!.dataDir, behindDir, '-w', 'json'])
      expect(r.code).toBe(41)
      const j = JSON.parse(r.stdout)
      expect(j.verdict).toBe('BEHIND')
      expect(j.hash.revision).toBe(String(copyRev))
      expect(j.hash.agree).toBe(true)
      expect(j.members[0].hash).toBe(expected.get(copyRev))
      const b = j.members[2]
      expect(b.state).toBe('behind')
      expect(b.lacks).toEqual({ from: String(copyRev + 1n), to: String(finalRev), count: String(finalRev - copyRev) })
      expect(j.restore.source).toBe(ms[0]!.dataDir)
    })

    it('a member forked with --force-new-cluster from the old copy: DIVERGED (exit 40) at the exact revision and keys', async () => {
      const r = await runCli(['compare', ms[0]!.dataDir, ms[1]!.dataDir, forkDir, '-w', 'json'])
      expect(r.code).toBe(40)
      const j = JSON.parse(r.stdout)
      expect(j.verdict).toBe('DIVERGED')
      const f = j.members[2]
      expect(f.state).toBe('diverged')
      expect(f.divergence.firstRevision).toBe(String(copyRev + 1n))
      const keys = f.divergence.keys.map((k: { key: { text: string } }) => k.key.text).sort()
      expect(keys).toEqual(['b0', 'fork0'])
      const b0 = f.divergence.keys.find((k: { key: { text: string } }) => k.key.text === 'b0')
      expect(b0.members[0]).toMatchObject({ modRevision: String(copyRev + 1n), deleted: false, value: { len: 3, redacted: true } })
      expect(b0.members[1].modRevision).toBeNull()
      const f0 = f.divergence.keys.find((k: { key: { text: string } }) => k.key.text === 'fork0')
      expect(f0.members[0].modRevision).toBeNull()
      expect(f0.members[1]).toMatchObject({ modRevision: String(copyRev + 1n), deleted: false })
      expect(JSON.stringify(j)).not.toMatch(/vb0|vf0/)
      expect(j.reasons.join('\n')).toMatch(/membership views differ: .*m3-fork\.etcd: m3(;|$)/)
      // The fork loses what it wrote alone; the source is one of the two members that agree.
      expect([ms[0]!.dataDir, ms[1]!.dataDir]).toContain(j.restore.source)
      const loss = j.restore.losses.find((l: { dataDir: string }) => l.dataDir === forkDir)
      expect(loss.lose).toContain(`revisions ${copyRev + 1n}..${copyRev + 2n} (2)`)
      const table = await runCli(['compare', ms[0]!.dataDir, ms[1]!.dataDir, forkDir])
      expect(table.code).toBe(40)
      expect(table.stdout).toContain(`DIVERGED at ${copyRev + 1n}`)
      expect(table.stdout).toMatch(/key "b0": .*mod \d+ <redacted len:3 sha256:[0-9a-f]{16}>/)
    })

    it('the restore commands run as printed: the restored member serves the source\'s data and takes a member back', async () => {
      const restoreDir = tempDir('compare-restore-')
      const r = await runCli(['compare', ms[0]!.dataDir, ms[1]!.dataDir, forkDir, '--restore-dir', restoreDir, '-w', 'json'])
      const plan = JSON.parse(r.stdout).restore as { source: string; commands: { kind: string; cmd: string }[] }
      const [restore, start, add, startAdded] = plan.commands
      expect(restore!.cmd).toMatch(/^etcdctl snapshot restore \S+\/member\/snap\/db --skip-hash-check /)
      execFileSync('bash', ['-c', restore!.cmd], { env: { ...process.env, ETCDCTL_API: '3' }, stdio: 'pipe' })
      const run = (cmd: string, log: string) => {
        const fd = openSync(log, 'a')
        const p = spawn('bash', ['-c', `exec ${cmd}`], { stdio: ['ignore', fd, fd] })
        closeSync(fd)
        started.push(p.pid!)
        return p
      }
      const src = ms.find((m) => m.dataDir === plan.source)!
      run(start!.cmd, join(restoreDir, 'source.log'))
      const healthy = async (url: string) => {
        for (let i = 0; i < 100; i++) {
          try { await etcdctl(url, ['endpoint', 'health']); return } catch { await new Promise((res) => setTimeout(res, 200)) }
        }
        throw new Error(`${url} not healthy: ${readFileSync(join(restoreDir, 'source.log'), 'utf8').slice(-2000)}`)
      }
      await healthy(src.clientURL)
      expect(await hashkv(src.clientURL, finalRev)).toBe(expected.get(finalRev))
      expect((await etcdctl(src.clientURL, ['get', 'b5', '--print-value-only'])).trim()).toBe('vb5')
      execFileSync('bash', ['-c', add!.cmd], { env: { ...process.env, ETCDCTL_API: '3' }, stdio: 'pipe' })
      run(startAdded!.cmd, join(restoreDir, 'added.log'))
      const added = ms.find((m) => startAdded!.cmd.includes(`--name ${m.name} `))!
      await healthy(added.clientURL)
      const list = await etcdctl(src.clientURL, ['member', 'list'])
      expect(list.trim().split('\n')).toHaveLength(2)
      expect(await hashkv(added.clientURL, finalRev)).toBe(expected.get(finalRev))
      for (const pid of started.splice(0)) { try { process.kill(pid, 'SIGTERM') } catch {} }
    }, 90_000)
  })
})

describe('compare on fixture dirs (real etcd 3.4)', () => {
  it('a removed member and another cluster\'s dir are named as such; NOT_ONE_CLUSTER exits 42', async () => {
    const dirs = ['fixtures/cluster3/m1', 'fixtures/cluster3/m2', 'fixtures/cluster3/m3-removed', 'fixtures/single/data']
    const before = dirs.map((d) => hashTree(d))
    const r = await runCli(['compare', ...dirs, '-w', 'json'])
    expect(r.code).toBe(42)
    const j = JSON.parse(r.stdout)
    expect(j.verdict).toBe('NOT_ONE_CLUSTER')
    expect(j.members.map((m: { role: string }) => m.role)).toEqual(['member', 'member', 'removed', 'other-cluster'])
    expect(j.members[2].roleDetail).toMatch(/members_removed/)
    expect(j.members[3].clusterId).not.toBe(j.clusterId)
    expect(j.members[0].hash).toBe(j.members[1].hash)
    expect(dirs.map((d) => hashTree(d))).toEqual(before)
    const s = await runCli(['compare', 'fixtures/cluster3/m1', 'fixtures/cluster3/m3-removed', '-w', 'simple'])
    expect(s.code).toBe(0)
    expect(s.stdout).toContain('state: REMOVED')
  })

  it('usage errors: one dir, a bad --rev (exit 2, one line)', async () => {
    const one = await runCli(['compare', 'fixtures/cluster3/m1'])
    expect(one.code).toBe(2)
    expect(one.stderr.trim().split('\n')).toHaveLength(1)
    expect(one.stderr).toMatch(/at least two data dirs/)
    const bad = await runCli(['compare', 'fixtures/cluster3/m1', 'fixtures/cluster3/m2', '--rev', 'x1'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/--rev: expected a positive revision/)
  })

  it('an empty dir is named as such', async () => {
    const empty = tempDir('compare-empty-')
    const r = await runCli(['compare', 'fixtures/cluster3/m1', empty, '-w', 'json'])
    const j = JSON.parse(r.stdout)
    expect(j.members[1].role).toBe('empty')
    expect(r.code).toBe(0)
  })
})
