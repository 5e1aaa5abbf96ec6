/**
 * Test helpers for the replace runbook: a private CA with per-member certs (openssl), env files
 * for members, and --stop-cmd/--start-cmd scripts that run etcd from such an env file on
 * loopback with a pid file (the way a systemd unit with EnvironmentFile= would).
 */
import { execFileSync } from 'node:child_process'
import { writeFileSync, readFileSync, existsSync, chmodSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { TlsFiles } from '../support/etcd.js'

function ossl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' })
}

function newKeyCsr(dir: string, name: string): void {
  ossl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir)
}

function sign(dir: string, name: string, ext: string, days = 30): void {
  writeFileSync(join(dir, `${name}.ext`), ext)
  ossl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', String(days), '-out', `${name}.crt`, '-extfile', `${name}.ext`], dir)
}

export interface TestPki { dir: string; ca: string; clientCert: string; clientKey: string; member(name: string, ip: string, opts?: { sans?: string; days?: number; eku?: string }): { cert: string; key: string } }

/**
 * A private CA plus a client cert; `member()` issues a server+peer cert (both EKUs) for an IP.
 * The SANs also carry 127.0.0.1: on loopback every peer dials from that source address, and
 * etcd 3.4 checks a peer client cert's IP SANs against it ("certificate is valid for 127.0.0.2, not 127.0.0.1").
 */
export function makePki(dir: string): TestPki {
  ossl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '3650', '-subj', '/CN=etcd-inspect-test-ca'], dir)
  newKeyCsr(dir, 'client')
  sign(dir, 'client', 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n', 365)
  return {
    dir, ca: join(dir, 'ca.crt'), clientCert: join(dir, 'client.crt'), clientKey: join(dir, 'client.key'),
    member(name, ip, o = {}) {
      newKeyCsr(dir, name)
      sign(dir, name, `subjectAltName=${o.sans ?? `IP:${ip},IP:127.0.0.1`}\nextendedKeyUsage=${o.eku ?? 'serverAuth,clientAuth'}\nbasicConstraints=CA:FALSE\n`, o.days ?? 365)
      return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) }
    },
  }
}

export function tlsFilesFor(pki: TestPki, m: { cert: string; key: string }): TlsFiles {
  return { ca: pki.ca, serverCert: m.cert, serverKey: m.key, peerCert: m.cert, peerKey: m.key, clientCert: pki.clientCert, clientKey: pki.clientKey }
}

export interface MemberSpec { name: string; dataDir: string; clientURL: string; peerURL: string; initialCluster: string; state: 'new' | 'existing'; tls?: TlsFiles; token?: string }

/** The ETCD_* env file etcd would read from `EnvironmentFile=`. */
export function envFileText(m: MemberSpec): string {
  const kv: [string, string][] = [
    ['ETCD_NAME', m.name], ['ETCD_DATA_DIR', m.dataDir],
    ['ETCD_LISTEN_CLIENT_URLS', m.clientURL], ['ETCD_ADVERTISE_CLIENT_URLS', m.clientURL],
    ['ETCD_LISTEN_PEER_URLS', m.peerURL], ['ETCD_INITIAL_ADVERTISE_PEER_URLS', m.peerURL],
    ['ETCD_INITIAL_CLUSTER', m.initialCluster], ['ETCD_INITIAL_CLUSTER_STATE', m.state], ['ETCD_INITIAL_CLUSTER_TOKEN', m.token ?? 'etcd-inspect-test'],
    ['ETCD_LOGGER', 'zap'], ['ETCD_LOG_OUTPUTS', 'stderr'],
  ]
  if (m.tls) {
    kv.push(['ETCD_TRUSTED_CA_FILE', m.tls.ca], ['ETCD_CERT_FILE', m.tls.serverCert], ['ETCD_KEY_FILE', m.tls.serverKey], ['ETCD_CLIENT_CERT_AUTH', 'true'],
      ['ETCD_PEER_TRUSTED_CA_FILE', m.tls.ca], ['ETCD_PEER_CERT_FILE', m.tls.peerCert], ['ETCD_PEER_KEY_FILE', m.tls.peerKey], ['ETCD_PEER_CLIENT_CERT_AUTH', 'true'])
  }
  return kv.map(([k, v]) => `${k}=${v}`).join('\n') + '\n'
}

export interface Scripts { start: string; stop: string; pidFile: string; logFile: string; startCmd: string; stopCmd: string }

/**
 * Writes start/stop scripts for one member: start runs etcd in the background from the env file
 * (with a clean environment) and records its PID; stop sends SIGTERM to that PID and waits.
 */
export function writeScripts(dir: string, name: string, envFile: string, etcdBin = process.env.ETCD_BIN ?? 'etcd'): Scripts {
  const pidFile = join(dir, `${name}.pid`)
  const logFile = join(dir, `${name}.etcd.log`)
  const start = join(dir, `${name}-start.sh`)
  const stop = join(dir, `${name}-stop.sh`)
  writeFileSync(start, `#!/bin/sh
set -e
if [ -f ${pidFile} ] && kill -0 "$(cat ${pidFile})" 2>/dev/null; then exit 0; fi
env -i PATH="$PATH" sh -c 'set -a; . ${envFile}; set +a; exec ${etcdBin}' >>${logFile} 2>&1 </dev/null &
echo $! > ${pidFile}
`)
  writeFileSync(stop, `#!/bin/sh
[ -f ${pidFile} ] || exit 0
pid=$(cat ${pidFile})
kill -TERM "$pid" 2>/dev/null || { rm -f ${pidFile}; exit 0; }
i=0
while kill -0 "$pid" 2>/dev/null; do
  i=$((i+1)); if [ $i -gt 100 ]; then kill -KILL "$pid" 2>/dev/null; fi; sleep 0.1
done
rm -f ${pidFile}
`)
  chmodSync(start, 0o755)
  chmodSync(stop, 0o755)
  return { start, stop, pidFile, logFile, startCmd: start, stopCmd: stop }
}

/** Kills the member behind a pid file (afterAll). */
export function killPidFile(pidFile: string): void {
  if (!existsSync(pidFile)) return
  const pid = Number(readFileSync(pidFile, 'utf8').trim())
  try { if (pid > 0) process.kill(pid, 'SIGKILL') } catch {}
}

import { execFile, spawn } from 'node:child_process'
import { allocate, etcdctl, tempDir } from '../support/etcd.js'

export interface ScriptMember extends MemberSpec { host: string; envFile: string; scripts: Scripts; tls: TlsFiles }

/** Starts an n-member TLS cluster on 127.0.0.1..n where every member runs from an env file through its start script. */
export async function startScriptCluster(n: number, base: string, pki: TestPki, prefix = 'm'): Promise<ScriptMember[]> {
  const slots = []
  for (let i = 0; i < n; i++) slots.push(await allocate(`${prefix}${i + 1}`, `127.0.0.${i + 1}`, true))
  const initialCluster = slots.map((s) => `${s.name}=${s.peerURL}`).join(',')
  const members: ScriptMember[] = slots.map((s) => {
    const tls = tlsFilesFor(pki, pki.member(s.name, s.host))
    const spec: MemberSpec = { name: s.name, dataDir: join(base, `${s.name}.etcd`), clientURL: s.clientURL, peerURL: s.peerURL, initialCluster, state: 'new', tls }
    const envFile = join(base, `${s.name}.env`)
    writeFileSync(envFile, envFileText(spec))
    return { ...spec, tls, host: s.host, envFile, scripts: writeScripts(base, s.name, envFile) }
  })
  for (const m of members) execFileSync('sh', [m.scripts.start])
  for (const m of members) await waitHealthyURL(m.clientURL, m.tls)
  return members
}

/** A stand-in "member" for process control: a `sleep` started in the background, its PID in a pid file. */
export function sleeper(dir: string): { start: string; stop: string; pidFile: string } {
  const pidFile = join(dir, 'member.pid')
  const start = join(dir, 'start.sh')
  const stop = join(dir, 'stop.sh')
  writeFileSync(start, `#!/bin/sh\nif [ -f ${pidFile} ] && kill -0 "$(cat ${pidFile})" 2>/dev/null; then exit 0; fi\nsleep 300 >/dev/null 2>&1 </dev/null &\necho $! > ${pidFile}\n`)
  writeFileSync(stop, `#!/bin/sh\n[ -f ${pidFile} ] || exit 0\nkill "$(cat ${pidFile})" 2>/dev/null\nrm -f ${pidFile}\n`)
  chmodSync(start, 0o755)
  chmodSync(stop, 0o755)
  return { start, stop, pidFile }
}

/** The process named by a pid file is alive. */
export function running(pidFile: string): boolean {
  if (!existsSync(pidFile)) return false
  try {
    process.kill(Number(readFileSync(pidFile, 'utf8')), 0)
    return true
  } catch {
    return false
  }
}

/** etcdctl-style connection flags for a TLS cluster. */
export function connFlags(eps: string[], t: TlsFiles): string[] {
  return ['--endpoints', eps.join(','), '--cacert', t.ca, '--cert', t.clientCert, '--key', t.clientKey]
}

/** A fresh temp dir with a private CA and a 3-member script-controlled TLS cluster in it. */
export async function startTlsCluster(prefix: string): Promise<{ base: string; pki: TestPki; members: ScriptMember[]; eps: string[]; conn: string[] }> {
  const base = tempDir(prefix)
  mkdirSync(join(base, 'pki'))
  const pki = makePki(join(base, 'pki'))
  const members = await startScriptCluster(3, base, pki)
  const eps = members.map((m) => m.clientURL)
  return { base, pki, members, eps, conn: connFlags(eps, members[0]!.tls) }
}

export async function waitHealthyURL(url: string, tls: TlsFiles, timeoutMs = 60000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < deadline) {
    try { await etcdctl(url, ['endpoint', 'health'], tls); return } catch (e) { last = (e as Error).message }
    await new Promise((r) => setTimeout(r, 300))
  }
  throw new Error(`${url} not healthy: ${last}`)
}

export interface MemberRow { id: string; status: string; name: string; peerURLs: string[]; clientURLs: string[]; learner: boolean }

/** `etcdctl member list -w json`, IDs as etcdctl hex. */
export async function memberList(eps: string[], tls: TlsFiles): Promise<MemberRow[]> {
  // etcdctl -w json prints IDs as uint64 numbers: read them as strings before JSON.parse rounds them.
  const out = await etcdctl(eps, ['member', 'list', '-w', 'json'], tls)
  const safe = out.replace(/"(ID|cluster_id|member_id)":(\d+)/g, '"$1":"$2"')
  const j = JSON.parse(safe) as { members: { ID: string; name?: string; peerURLs: string[]; clientURLs?: string[]; isLearner?: boolean }[] }
  return j.members.map((m) => ({ id: BigInt(m.ID).toString(16), status: m.name ? 'started' : 'unstarted', name: m.name ?? '', peerURLs: m.peerURLs, clientURLs: m.clientURLs ?? [], learner: !!m.isLearner }))
}

export interface CliResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

export const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js')

/** The environment for a CLI run: the test's, minus any ETCDCTL_* of the caller's shell. */
function cliEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries({ ...process.env, ...env }).filter(([k]) => !k.startsWith('ETCDCTL_'))) as NodeJS.ProcessEnv
}

/** Runs the built CLI; never throws on a non-zero exit. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 300000): Promise<CliResult> {
  return new Promise((resolve) => {
    const e = cliEnv(env)
    execFile(process.execPath, [CLI, ...args], { env: e, timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const ex = err as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null
      resolve({ code: ex ? (typeof ex.code === 'number' ? ex.code : null) : 0, signal: ex?.signal ?? null, stdout, stderr })
    })
  })
}

/** Runs the CLI in the background; `done` resolves like runCli. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv): { pid: number; done: Promise<CliResult> } {
  const p = spawn(process.execPath, [CLI, ...args], { env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  p.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  p.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const done = new Promise<CliResult>((resolve) => p.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })))
  return { pid: p.pid!, done }
}

/** Waits until a process is stopped (state T in /proc/<pid>/stat). */
export async function waitStopped(pid: number, timeoutMs = 120000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8')
    if (st.slice(st.lastIndexOf(')') + 2).startsWith('T')) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`process ${pid} did not stop`)
}

/** A not-yet-started member on a new loopback host (surge tests): cert, env file, scripts. */
export async function newHostMember(base: string, pki: TestPki, name: string, host: string): Promise<ScriptMember> {
  const slot = await allocate(name, host, true)
  const tls = tlsFilesFor(pki, pki.member(name, host))
  const spec: MemberSpec = { name, dataDir: join(base, `${name}.etcd`), clientURL: slot.clientURL, peerURL: slot.peerURL, initialCluster: `${name}=${slot.peerURL}`, state: 'new', tls }
  const envFile = join(base, `${name}.env`)
  writeFileSync(envFile, envFileText(spec))
  return { ...spec, host, envFile, tls, scripts: writeScripts(base, name, envFile) }
}

export interface FakeSystemctl {
  /** Put first on PATH. */
  binDir: string
  /** One line per invocation: the arguments as given. */
  log: string
  /** Present while the unit is masked. */
  maskFile: string
  /** The invocations so far. */
  calls(): string[]
  /** The environment that puts it first on PATH. */
  env: NodeJS.ProcessEnv
  /** Makes the next `systemctl <verb>` of the unit fail once (exit 1) with this message on stderr. */
  failOnce(verb: string, message: string): void
  /** While gone, the unit is unknown: its unit file was removed (or renamed) since the plan. */
  setGone(gone: boolean): void
}

/**
 * A `systemctl` for one unit, standing in for systemd (which cannot run in the test container;
 * etcd stays real): `stop`/`start` run the member's stop/start scripts (by PID, with its pid
 * file), `mask --runtime`/`unmask --runtime` set and clear a mask flag, `start` is refused while
 * masked and any other unit is "not loaded", both with systemd's wording and exit status.
 * `show -p LoadState --value <unit>` answers as systemd does, exit 0 either way: `masked` while
 * the flag is set, `loaded`, or `not-found` for any other unit (`alsoLoaded` units answer
 * `loaded` to this query only: plans that name a second unit). `failOnce` and `setGone` model a
 * failing call and a unit removed since the plan.
 * Persistent masks are refused: the runbook must not leave a mask that survives a reboot.
 * Every invocation is appended to the log (FAKE_SYSTEMCTL_LOG overrides it, for a test's own probes).
 */
export function writeFakeSystemctl(dir: string, unit: string, startScript: string, stopScript: string, opts: { alsoLoaded?: string[] } = {}): FakeSystemctl {
  const binDir = join(dir, 'fake-systemd-bin')
  mkdirSync(binDir, { recursive: true })
  const log = join(dir, `systemctl-${unit}.log`)
  const maskFile = join(dir, `${unit}.masked`)
  const goneFile = join(dir, `${unit}.gone`)
  const failFile = (verb: string): string => join(dir, `${unit}.fail-${verb}`)
  const bin = join(binDir, 'systemctl')
  writeFileSync(bin, `#!/bin/sh
echo "$*" >> "\${FAKE_SYSTEMCTL_LOG:-${log}}"
verb=$1; shift
if [ "$verb" = show ]; then
  if [ $# -ne 4 ] || [ "$1 $2 $3" != "-p LoadState --value" ]; then echo "fake systemctl: only show -p LoadState --value <unit> is modelled" >&2; exit 1; fi
  if [ "$4" = "${unit}" ] && [ ! -e ${goneFile} ]; then
    if [ -e ${maskFile} ]; then echo masked; else echo loaded; fi
  else
    case " ${(opts.alsoLoaded ?? []).join(' ')} " in *" $4 "*) echo loaded ;; *) echo not-found ;; esac
  fi
  exit 0
fi
runtime=
if [ "$1" = "--runtime" ]; then runtime=1; shift; fi
if [ "$1" != "${unit}" ] || [ -e ${goneFile} ]; then echo "Failed to $verb $1: Unit $1 not loaded." >&2; exit 5; fi
if [ -e ${dir}/${unit}.fail-$verb ]; then cat ${dir}/${unit}.fail-$verb >&2; rm -f ${dir}/${unit}.fail-$verb; exit 1; fi
case "$verb" in
  stop) exec sh ${stopScript} ;;
  start)
    if [ -e ${maskFile} ]; then echo "Failed to start ${unit}: Unit ${unit} is masked." >&2; exit 1; fi
    exec sh ${startScript} ;;
  mask)
    [ -n "$runtime" ] || { echo "fake systemctl: only runtime masks are modelled" >&2; exit 1; }
    : > ${maskFile}; echo "Created symlink /run/systemd/system/${unit} -> /dev/null." ;;
  unmask)
    [ -n "$runtime" ] || { echo "fake systemctl: only runtime masks are modelled" >&2; exit 1; }
    if [ -e ${maskFile} ]; then rm -f ${maskFile}; echo "Removed /run/systemd/system/${unit}."; fi ;;
  *) echo "fake systemctl: unknown verb $verb" >&2; exit 1 ;;
esac
`)
  chmodSync(bin, 0o755)
  return {
    binDir, log, maskFile,
    calls: () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []),
    env: { PATH: `${binDir}:${process.env.PATH ?? '/usr/bin:/bin'}` },
    failOnce: (verb, message) => writeFileSync(failFile(verb), `${message}\n`),
    setGone: (gone) => { if (gone) writeFileSync(goneFile, ''); else rmSync(goneFile, { force: true }) },
  }
}

let shimDir: string | undefined
/**
 * Runs a command line an etcd-inspect message printed through `sh -c`, as an operator pasting it
 * would: `etcd-inspect` is the built CLI (a shim first on PATH, as a global install provides),
 * `etcdctl` the system one; ETCDCTL_* of the caller's shell are dropped. `asNobody`: the shell
 * runs as user nobody (setpriv, when the tests run as root: root ignores file modes). Never throws.
 */
export function runPrinted(cmd: string, env: NodeJS.ProcessEnv = {}, timeoutMs = 300000, opts: { asNobody?: boolean } = {}): Promise<CliResult> {
  if (!shimDir) {
    shimDir = tempDir('etcd-inspect-shim-')
    writeFileSync(join(shimDir, 'etcd-inspect'), `#!/bin/sh\nexec ${process.execPath} ${CLI} "$@"\n`)
    chmodSync(join(shimDir, 'etcd-inspect'), 0o755)
    chmodSync(shimDir, 0o755)
  }
  const e = cliEnv(env)
  e.PATH = `${shimDir}:${e.PATH ?? '/usr/bin:/bin'}`
  const argv = opts.asNobody && process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', cmd] : ['sh', '-c', cmd]
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { env: e, timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const ex = err as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null
      resolve({ code: ex ? (typeof ex.code === 'number' ? ex.code : null) : 0, signal: ex?.signal ?? null, stdout, stderr })
    })
  })
}

/** The commands a message quotes in backticks. */
export const quotedCommands = (s: string): string[] => [...s.matchAll(/`([^`]+)`/g)].map((m) => m[1]!)

/**
 * Polls `cond` until it holds (every `everyMs`, at most `timeoutMs`): waits on the condition a
 * test needs, never on a fixed sleep. A thrown error counts as "not yet" (its message goes into
 * the timeout error), except a failed assertion, which fails at once.
 */
export async function until(cond: () => Promise<boolean> | boolean, what: string, timeoutMs = 60000, everyMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  for (;;) {
    try {
      if (await cond()) return
    } catch (e) {
      // A failed assertion is an answer, not a transient error: no retrying it.
      if ((e as Error).name === 'AssertionError') throw e
      last = (e as Error).message
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ''}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/** The ETCD_* settings of an env file, as the environment etcd (and an ExecStartPre= check) sees. */
export function envFileSettings(file: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const i = line.indexOf('=')
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1)
  }
  return out
}

/** Puts printed `KEY=value` settings into an env file, as an operator edits it (replacing each key's line). */
export function putEnvSettings(file: string, settings: string[]): void {
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '')
  for (const s of settings) {
    const key = s.slice(0, s.indexOf('=') + 1)
    if (!/^[A-Z_]+=/.test(key)) throw new Error(`not a setting: ${s}`)
    const i = lines.findIndex((l) => l.startsWith(key))
    if (i >= 0) lines[i] = s
    else lines.push(s)
  }
  writeFileSync(file, lines.join('\n') + '\n')
}

