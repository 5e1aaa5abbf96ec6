/**
 * `etcd-inspect check` CLI: argv/env → options, and the built CLI end to end (exit codes, the
 * `--pre-start` line, the JSON contract) against a real single-member etcd.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn, spawnSync } from 'node:child_process'
import { createServer } from 'node:net'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { checkOptions } from '../../src/cli/commands/check.js'
import { preStartLine } from '../../src/render/check.js'
import { etcdctl, freePort, startEtcd, tempDir, type EtcdMember } from '../support/etcd.js'

const CLI = join(import.meta.dirname, '../../dist/cli/main.js')

function cli(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string; ms: number } {
  const t0 = Date.now()
  const r = spawnSync(process.execPath, [CLI, 'check', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env } })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 }
}

/** Like cli(), without blocking this process (the test's own listener must keep serving). */
function cliAsync(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const t0 = Date.now()
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, 'check', ...args], { env: { PATH: process.env.PATH ?? '', ...env } })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (d: Buffer) => { stdout += d })
    p.stderr.on('data', (d: Buffer) => { stderr += d })
    p.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - t0 }))
  })
}

describe('check options (argv + env)', () => {
  it('takes member flags from etcd\'s own environment; flags win', () => {
    const env = { ETCD_DATA_DIR: '/var/lib/etcd', ETCD_NAME: 'a', ETCD_INITIAL_ADVERTISE_PEER_URLS: 'https://10.0.0.1:2380', ETCD_INITIAL_CLUSTER_STATE: 'existing', ETCD_SNAPSHOT_COUNT: '10000', ETCDCTL_ENDPOINTS: 'https://10.0.0.1:2379', ETCDCTL_CACERT: '/ca' }
    const o = checkOptions(undefined, {}, env)
    expect(o).toMatchObject({ dataDir: '/var/lib/etcd', name: 'a', peerURLs: ['https://10.0.0.1:2380'], initialClusterState: 'existing', snapshotCount: 10000n, witness: true, preStart: false, allowWarn: false })
    expect(o.connection.endpoints).toEqual(['https://10.0.0.1:2379'])
    const f = checkOptions('/d', { name: 'b', initialAdvertisePeerUrls: 'http://x:1,http://y:2', preStart: true, allowWarn: true, witness: false, stateDir: '/s' }, env)
    expect(f).toMatchObject({ dataDir: '/d', name: 'b', peerURLs: ['http://x:1', 'http://y:2'], preStart: true, allowWarn: true, witness: false, stateDir: '/s' })
  })
  it('rejects bad values with a usage error', () => {
    expect(() => checkOptions(undefined, {}, {})).toThrow('missing data dir')
    expect(() => checkOptions('/d', { initialAdvertisePeerUrls: 'host:2380' }, {})).toThrow('invalid peer URL "host:2380"')
    expect(() => checkOptions('/d', { snapshotCount: '0' }, {})).toThrow('--snapshot-count: expected a positive integer, got "0"')
    expect(() => checkOptions('/d', {}, { ETCD_INITIAL_CLUSTER_STATE: 'old' })).toThrow('--initial-cluster-state must be new or existing')
  })
})

describe('the built CLI', () => {
  let m: EtcdMember
  const base = tempDir('etcd-inspect-cli-check-')
  beforeAll(async () => {
    expect(existsSync(CLI), 'run npm run build first').toBe(true)
    m = await startEtcd({ name: 'c1', host: '127.0.0.1' })
  })
  afterAll(async () => { await m?.stop() })

  it('UNKNOWN (exit 30) within --dial-timeout + 1 s when nothing answers; --pre-start prints one line', async () => {
    const port = await freePort('127.0.0.1')
    const r = cli([join(base, 'nothing'), '--endpoints', `127.0.0.1:${port}`, '--dial-timeout', '1s', '--pre-start'])
    expect(r.code).toBe(30)
    expect(r.stdout).toBe('')
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/^etcd-inspect check: UNKNOWN\/UNREACHABLE \(exit 30\): cannot decide safely: no endpoint answered/)
    expect(r.ms).toBeLessThan(2000)
  })

  it('a frozen endpoint (accepts TCP, never speaks) is bounded by --dial-timeout too, process exit included', async () => {
    const silent = createServer((s) => s.on('error', () => undefined))
    const port = await freePort('127.0.0.1')
    await new Promise<void>((r) => silent.listen(port, '127.0.0.1', r))
    try {
      const r = await cliAsync([join(base, 'nothing'), '--endpoints', `127.0.0.1:${port}`, '--dial-timeout', '1s', '-w', 'json'])
      expect(r.code).toBe(30)
      expect(JSON.parse(r.stdout).evidence.endpoints[0].code).toBe('dial-timeout')
      expect(r.ms).toBeLessThan(2000)
    } finally {
      silent.close()
    }
  })

  it('-w json has the contract fields', async () => {
    const peer = `http://127.0.0.5:${await freePort('127.0.0.5')}`
    const r = cli([join(base, 'new-member'), '-w', 'json', '--name', 'c9'], { ETCDCTL_ENDPOINTS: m.clientURL, ETCD_INITIAL_ADVERTISE_PEER_URLS: peer })
    expect(r.code).toBe(11)
    const j = JSON.parse(r.stdout)
    expect(j).toMatchObject({ verdict: 'EMPTY_NOT_ADDED', exitCode: 11, resultVersion: 1 })
    expect(typeof j.reason).toBe('string')
    expect(typeof j.next).toBe('string')
    expect(j.commands[0]).toBe(`etcdctl --endpoints=${m.clientURL} member add c9 --peer-urls=${peer} --learner`)
    expect(j.evidence.cluster.clusterId).toMatch(/^[0-9a-f]+$/)
    expect(typeof j.evidence.cluster.raftIndex).toBe('string')
    expect(j.evidence.endpoints[0]).toMatchObject({ endpoint: m.clientURL, ok: true })
  })

  it('--pre-start is silent with exit 0 for a startable verdict (EMPTY_READY_TO_JOIN)', async () => {
    const peer = `http://127.0.0.6:${await freePort('127.0.0.6')}`
    await etcdctl(m.clientURL, ['member', 'add', 'c2', `--peer-urls=${peer}`, '--learner'])
    const r = cli(['--pre-start'], { ETCDCTL_ENDPOINTS: m.clientURL, ETCD_DATA_DIR: join(base, 'c2.etcd'), ETCD_NAME: 'c2', ETCD_INITIAL_ADVERTISE_PEER_URLS: peer })
    expect(r.stderr).toBe('')
    expect(r.stdout).toBe('')
    expect(r.code).toBe(0)
    const s = cli(['-w', 'simple'], { ETCDCTL_ENDPOINTS: m.clientURL, ETCD_DATA_DIR: join(base, 'c2.etcd'), ETCD_NAME: 'c2', ETCD_INITIAL_ADVERTISE_PEER_URLS: peer, ETCD_INITIAL_CLUSTER_STATE: 'new' })
    expect(s.code).toBe(12)
    expect(s.stdout).toMatch(/^CONFIG_DRIFT\/INITIAL_CLUSTER_STATE_NEW \(exit 12\): /)
  })

  it('usage errors exit 2 with one line', () => {
    const r = cli(['/tmp/x', '--dial-timeout', 'soon'])
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toBe('Error: invalid duration "soon" for --dial-timeout (use a Go duration such as 2s, 500ms or 1m)')
  })
})

describe('preStartLine', () => {
  it('is null for exit 0 and one line otherwise', () => {
    const base = { verdict: 'OK', subReason: null, exitCode: 0, reason: 'r', next: 'n', commands: [] } as never
    expect(preStartLine(base, 0)).toBeNull()
    const warn = { verdict: 'BEHIND_NEEDS_SNAPSHOT', subReason: null, exitCode: 1, reason: 'far behind', next: 'start it', commands: [] } as never
    expect(preStartLine(warn, 0)).toBe('etcd-inspect check: BEHIND_NEEDS_SNAPSHOT (exit 1): far behind; next: start it')
  })
})
