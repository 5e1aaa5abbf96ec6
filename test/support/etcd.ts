/**
 * Starts real etcd processes (Debian's etcd 3.4) for integration tests: loopback addresses only
 * (127.0.0.x), free ports, data dirs under a temp dir, stopped by PID. Every started process is
 * tracked and killed when the test process exits, even after a failed assertion.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execText } from './exec.js'


export const ETCD_BIN = process.env.ETCD_BIN ?? 'etcd'
export const ETCDCTL_BIN = process.env.ETCDCTL_BIN ?? 'etcdctl'

const live = new Set<ChildProcess>()
process.on('exit', () => {
  for (const p of live) {
    try {
      if (p.pid) process.kill(p.pid, 'SIGKILL')
    } catch {}
  }
})

/** Only loopback hosts are allowed as targets (never a private or public address). */
export function assertLoopback(host: string): void {
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) throw new Error(`refusing non-loopback host ${host}`)
}

/** A free TCP port on `host` (bind to port 0, read it, release it). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  assertLoopback(host)
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, host, () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

const tempDirs: string[] = []

/** A fresh temp dir, removed after the test file (test/support/setup.ts) unless ETCD_INSPECT_KEEP_TMP=1. */
export function tempDir(prefix = 'etcd-inspect-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix))
  tempDirs.push(d)
  return d
}

/**
 * Kills every etcd this process started and removes every temp dir it made: a live-cluster test
 * leaves several 64 MB preallocated WAL segments per member, which filled the disk before this.
 */
export async function cleanupAll(): Promise<void> {
  await Promise.all([...live].map((p) => new Promise<void>((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve()
    p.once('exit', () => resolve())
    try { p.kill('SIGKILL') } catch { resolve() }
  })))
  if (process.env.ETCD_INSPECT_KEEP_TMP === '1') return
  for (const d of tempDirs.splice(0)) {
    try { rmSync(d, { recursive: true, force: true }) } catch {}
  }
}

export interface TlsFiles {
  /** CA certificate that signed the server/peer/client certs. */
  ca: string
  serverCert: string
  serverKey: string
  peerCert: string
  peerKey: string
  clientCert: string
  clientKey: string
}

export interface EtcdOptions {
  name: string
  /** The data dir to use (created by etcd if missing). Default: a new temp dir + `/<name>.etcd`. */
  dataDir?: string
  walDir?: string
  host?: string
  clientPort?: number
  peerPort?: number
  /** `name=peerURL,...`; default: just this member. */
  initialCluster?: string
  initialClusterState?: 'new' | 'existing'
  token?: string
  snapshotCount?: number
  tls?: TlsFiles
  extraArgs?: string[]
  /** Wait for /health (default true); set false for members that cannot become healthy alone. */
  waitHealthy?: boolean
  timeoutMs?: number
}

export interface EtcdMember {
  name: string
  host: string
  dataDir: string
  clientPort: number
  peerPort: number
  clientURL: string
  peerURL: string
  logFile: string
  tls?: TlsFiles
  proc: ChildProcess
  pid: number
  /** SIGTERM, wait for exit (SIGKILL after 5 s). */
  stop(): Promise<void>
  /** SIGKILL, wait for exit. */
  kill(): Promise<void>
  exited: Promise<number | null>
  log(): string
}

/** Reserves host + ports for a member before starting it (needed to build --initial-cluster). */
export async function allocate(name: string, host = '127.0.0.1', tls = false): Promise<{ name: string; host: string; clientPort: number; peerPort: number; clientURL: string; peerURL: string }> {
  assertLoopback(host)
  const clientPort = await freePort(host)
  let peerPort = await freePort(host)
  while (peerPort === clientPort) peerPort = await freePort(host)
  const scheme = tls ? 'https' : 'http'
  return { name, host, clientPort, peerPort, clientURL: `${scheme}://${host}:${clientPort}`, peerURL: `${scheme}://${host}:${peerPort}` }
}

export async function startEtcd(opts: EtcdOptions): Promise<EtcdMember> {
  const host = opts.host ?? '127.0.0.1'
  assertLoopback(host)
  const tls = opts.tls
  const scheme = tls ? 'https' : 'http'
  const clientPort = opts.clientPort ?? (await freePort(host))
  let peerPort = opts.peerPort ?? (await freePort(host))
  while (peerPort === clientPort) peerPort = await freePort(host)
  const clientURL = `${scheme}://${host}:${clientPort}`
  const peerURL = `${scheme}://${host}:${peerPort}`
  const dataDir = opts.dataDir ?? join(tempDir(), `${opts.name}.etcd`)
  const args = [
    '--name', opts.name,
    '--data-dir', dataDir,
    '--listen-client-urls', clientURL,
    '--advertise-client-urls', clientURL,
    '--listen-peer-urls', peerURL,
    '--initial-advertise-peer-urls', peerURL,
    '--initial-cluster', opts.initialCluster ?? `${opts.name}=${peerURL}`,
    '--initial-cluster-state', opts.initialClusterState ?? 'new',
    '--initial-cluster-token', opts.token ?? 'etcd-inspect-test',
    '--logger', 'zap',
    '--log-outputs', 'stderr',
  ]
  if (opts.walDir) args.push('--wal-dir', opts.walDir)
  if (opts.snapshotCount !== undefined) args.push('--snapshot-count', String(opts.snapshotCount))
  if (tls) {
    args.push(
      '--trusted-ca-file', tls.ca, '--cert-file', tls.serverCert, '--key-file', tls.serverKey, '--client-cert-auth',
      '--peer-trusted-ca-file', tls.ca, '--peer-cert-file', tls.peerCert, '--peer-key-file', tls.peerKey, '--peer-client-cert-auth',
    )
  }
  if (opts.extraArgs) args.push(...opts.extraArgs)
  const logFile = `${dataDir}.log`
  const fd = openSync(logFile, 'a')
  // Keep ETCD_* from the caller's environment out: etcd reads them as flags.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD_') && !k.startsWith('ETCDCTL_')))
  const proc = spawn(ETCD_BIN, args, { stdio: ['ignore', fd, fd], env })
  closeSync(fd)
  if (!proc.pid) throw new Error(`failed to start ${ETCD_BIN}`)
  live.add(proc)
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => { live.delete(proc); resolve(code) }))
  const wait = async (ms: number): Promise<boolean> =>
    Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))])
  const member: EtcdMember = {
    name: opts.name, host, dataDir, clientPort, peerPort, clientURL, peerURL, logFile, tls, proc, pid: proc.pid, exited,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      proc.kill('SIGTERM')
      if (!(await wait(5000))) {
        proc.kill('SIGKILL')
        await exited
      }
    },
    async kill() {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      proc.kill('SIGKILL')
      await exited
    },
    log: () => readFileSync(logFile, 'utf8'),
  }
  if (opts.waitHealthy !== false) await waitHealthy(member, opts.timeoutMs ?? 30000)
  return member
}

/** Runs etcdctl (API v3) against the given endpoints; returns stdout. Throws with stderr on failure. */
export async function etcdctl(endpoints: string | string[], args: string[], tls?: TlsFiles, input?: string): Promise<string> {
  const eps = Array.isArray(endpoints) ? endpoints.join(',') : endpoints
  const full = ['--endpoints', eps, '--dial-timeout', '3s', '--command-timeout', '10s']
  if (tls) full.push('--cacert', tls.ca, '--cert', tls.clientCert, '--key', tls.clientKey)
  full.push(...args)
  const env = { ...process.env, ETCDCTL_API: '3' }
  if (input !== undefined) {
    return new Promise((resolve, reject) => {
      const p = execFile(ETCDCTL_BIN, full, { env, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
        err ? reject(new Error(`etcdctl ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout))
      p.stdin?.end(input)
    })
  }
  return execText(ETCDCTL_BIN, full, { env, maxBuffer: 64 << 20 }, `etcdctl ${args.join(' ')}`)
}

/** Polls `etcdctl endpoint health` until the member answers healthy or the process exits. */
export async function waitHealthy(m: EtcdMember, timeoutMs = 30000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < deadline) {
    if (m.proc.exitCode !== null) throw new Error(`etcd ${m.name} exited (${m.proc.exitCode}):\n${m.log().slice(-3000)}`)
    try {
      await etcdctl(m.clientURL, ['endpoint', 'health'], m.tls)
      return
    } catch (err) {
      last = (err as Error).message
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`etcd ${m.name} not healthy after ${timeoutMs} ms: ${last}\n${m.log().slice(-3000)}`)
}

/**
 * Starts an n-member cluster on 127.0.0.1, 127.0.0.2, 127.0.0.3, ... (one loopback address per
 * member, as separate hosts would have) and waits until every member is healthy.
 */
export async function startCluster(n: number, opts: Omit<EtcdOptions, 'name' | 'host' | 'initialCluster'> & { namePrefix?: string; baseDir?: string } = {}): Promise<EtcdMember[]> {
  const prefix = opts.namePrefix ?? 'm'
  const slots = []
  for (let i = 0; i < n; i++) slots.push(await allocate(`${prefix}${i + 1}`, `127.0.0.${i + 1}`, !!opts.tls))
  const initialCluster = slots.map((s) => `${s.name}=${s.peerURL}`).join(',')
  const base = opts.baseDir ?? tempDir()
  const started = await Promise.all(slots.map((s) => startEtcd({
    ...opts, name: s.name, host: s.host, clientPort: s.clientPort, peerPort: s.peerPort, initialCluster,
    dataDir: join(base, `${s.name}.etcd`), waitHealthy: false,
  })))
  await Promise.all(started.map((m) => waitHealthy(m, opts.timeoutMs ?? 30000)))
  return started
}

export async function stopAll(members: Iterable<EtcdMember | undefined>): Promise<void> {
  await Promise.all([...members].map((m) => m?.stop()))
}
