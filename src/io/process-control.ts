/**
 * Stops and starts the target etcd: with operator-given shell commands (--stop-cmd/--start-cmd)
 * or a systemd unit (`systemctl stop` + `mask --runtime`, then `unmask` + `start`), so a
 * `Restart=always` policy cannot bring a removed member back between steps.
 */
import { spawn } from 'node:child_process'
import { ClusterError, UnsafeOperationError } from '../errors.js'

export type ProcessControl =
  | { kind: 'commands'; stopCmd: string; startCmd: string }
  | { kind: 'systemd'; unit: string }

interface RunResult { code: number | null; signal: NodeJS.Signals | null; timedOut: boolean; out: string }

function run(cmd: string, args: string[], timeoutMs: number, what: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: false })
    let out = ''
    let timedOut = false
    let settled = false
    p.stdout.on('data', (d: Buffer) => { out += d.toString() })
    p.stderr.on('data', (d: Buffer) => { out += d.toString() })
    const t = setTimeout(() => { timedOut = true; p.kill('SIGKILL') }, timeoutMs)
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (settled) return
      settled = true
      clearTimeout(t)
      resolve({ code, signal, timedOut, out: out.slice(-4000) })
    }
    p.on('error', (e: NodeJS.ErrnoException) => {
      if (settled) return
      settled = true
      clearTimeout(t)
      reject(new ClusterError(`${what} could not run: ${e.code === 'ENOENT' ? `${cmd} not found on PATH` : e.message}`, 'process-control'))
    })
    // A start command that backgrounds the daemon without redirecting its stdio leaves our pipes
    // open for the daemon's lifetime, so 'close' would never come: after the command itself has
    // exited, its output is read for one more second and no longer.
    p.on('exit', (code, signal) => {
      setTimeout(() => { p.stdout.destroy(); p.stderr.destroy(); finish(code, signal) }, 1000).unref()
    })
    p.on('close', (code, signal) => finish(code, signal))
  })
}

export function describeStop(c: ProcessControl): string[] {
  return c.kind === 'commands' ? [`sh -c ${JSON.stringify(c.stopCmd)}`] : [`systemctl stop ${c.unit}`, `systemctl mask --runtime ${c.unit}`]
}

export function describeStart(c: ProcessControl): string[] {
  return c.kind === 'commands' ? [`sh -c ${JSON.stringify(c.startCmd)}`] : [`systemctl unmask --runtime ${c.unit}`, `systemctl start ${c.unit}`]
}

/** Runs one command; a non-zero exit is a ClusterError naming the command, its exit status and its last output lines. */
async function step(cmd: string, args: string[], what: string, timeoutMs: number): Promise<string> {
  const r = await run(cmd, args, timeoutMs, what)
  if (r.code === 0) return r.out
  const status = r.timedOut ? `killed after ${timeoutMs / 1000}s` : r.code === null ? `killed by ${r.signal}` : `exit ${r.code}`
  const tail = r.out.trim().split('\n').slice(-3).join(' | ')
  throw new ClusterError(`${what} failed (${status})${tail ? `: ${tail}` : ''}`, 'process-control', 'fix the cause, then `etcd-inspect replace resume` runs the step again')
}

const systemctl = (args: string[], timeoutMs: number): Promise<string> => step('systemctl', args, `systemctl ${args.join(' ')}`, timeoutMs)

export async function stopMember(c: ProcessControl, timeoutMs = 60000): Promise<string> {
  if (c.kind === 'commands') return step('sh', ['-c', c.stopCmd], `stop command ${JSON.stringify(c.stopCmd)}`, timeoutMs)
  const a = await systemctl(['stop', c.unit], timeoutMs)
  // --runtime: the mask lives in /run, so a reboot in the middle of the runbook cannot leave the unit masked for good.
  return a + await systemctl(['mask', '--runtime', c.unit], timeoutMs)
}

/**
 * `systemctl mask --runtime` alone: resume re-establishes the mask of a unit it finds already
 * stopped (the stop step may have failed between its stop and its mask). Masking a masked unit is
 * a no-op for systemd.
 */
export function maskUnit(unit: string, timeoutMs = 60000): Promise<string> {
  return systemctl(['mask', '--runtime', unit], timeoutMs)
}

export async function startMember(c: ProcessControl, timeoutMs = 60000): Promise<string> {
  if (c.kind === 'commands') return step('sh', ['-c', c.startCmd], `start command ${JSON.stringify(c.startCmd)}`, timeoutMs)
  // systemd refuses to start a masked unit; unmasking one that is not masked is a no-op (surge's new unit).
  const a = await systemctl(['unmask', '--runtime', c.unit], timeoutMs)
  return a + await systemctl(['start', c.unit], timeoutMs)
}

/** What `systemctl show -p LoadState` says of a unit; `missing` when there is no systemctl to ask. */
export type UnitLoadState = { state: 'loaded' | 'masked' | 'not-found' | 'missing' | 'other'; loadState: string; detail?: string }

/**
 * Read-only: asks systemd whether it knows the unit (`systemctl show -p LoadState --value`, which
 * answers `not-found` with exit 0 for an unknown unit). A systemctl that cannot run or exits
 * non-zero (no systemd running) is `missing`/`other` with its words in `detail`.
 */
export async function unitLoadState(unit: string, timeoutMs = 10000): Promise<UnitLoadState> {
  let r: RunResult
  try {
    r = await run('systemctl', ['show', '-p', 'LoadState', '--value', unit], timeoutMs, `systemctl show -p LoadState --value ${unit}`)
  } catch (e) {
    return { state: 'missing', loadState: '', detail: (e as Error).message }
  }
  const out = r.out.trim()
  if (r.code !== 0) return { state: 'other', loadState: '', detail: `systemctl show -p LoadState --value ${unit} failed (${r.timedOut ? 'timed out' : r.code === null ? `killed by ${r.signal}` : `exit ${r.code}`})${out ? `: ${out.split('\n').slice(-2).join(' | ')}` : ''}` }
  const state = out === 'loaded' || out === 'masked' || out === 'not-found' ? out : 'other'
  return { state, loadState: out }
}

/**
 * The unit check of `replace plan` and of the stop step: refuses (UnsafeOperationError, nothing
 * changed) when this host cannot control the unit — no systemctl, systemd does not know it, or
 * cannot load it — and returns a warning for a masked unit, which usually means a previous
 * replacement stopped between its stop (mask) and its start (unmask).
 * `flag` names the option the unit came from, so the message points at what to fix.
 */
export async function checkUnit(unit: string, flag: string): Promise<{ loadState: string; warning?: string }> {
  const s = await unitLoadState(unit)
  const hint = `check ${flag}, or use the stop/start command options instead`
  if (s.state === 'missing') throw new UnsafeOperationError(`${flag} ${unit}: systemctl not found on PATH, so this host cannot stop or start the unit; nothing was changed`, 'systemctl-missing', hint)
  if (s.state === 'not-found') throw new UnsafeOperationError(`${flag} ${unit}: systemd does not know this unit on this host (LoadState not-found); nothing was changed`, 'unit-not-found', hint)
  if (s.state === 'other') {
    const why = s.detail ?? `LoadState ${s.loadState || '(empty)'}`
    throw new UnsafeOperationError(`${flag} ${unit}: systemd cannot load this unit (${why}); nothing was changed`, 'unit-not-loaded', hint)
  }
  if (s.state === 'masked') {
    return { loadState: s.loadState, warning: `${flag} ${unit} is masked: a previous replacement probably stopped before its start step (see replace status; \`systemctl unmask --runtime ${unit}\` once nothing else needs it down)` }
  }
  return { loadState: s.loadState }
}
