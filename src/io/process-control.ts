/**
 * Stops and starts the target etcd: with operator-given shell commands (--stop-cmd/--start-cmd)
 * or a systemd unit (`systemctl stop` + `mask --runtime`, then `unmask` + `start`), so a
 * `Restart=always` policy cannot bring a removed member back between steps.
 */
import { spawn } from 'node:child_process'
import { ClusterError } from '../errors.js'

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

export async function startMember(c: ProcessControl, timeoutMs = 60000): Promise<string> {
  if (c.kind === 'commands') return step('sh', ['-c', c.startCmd], `start command ${JSON.stringify(c.startCmd)}`, timeoutMs)
  // systemd refuses to start a masked unit; unmasking one that is not masked is a no-op (surge's new unit).
  const a = await systemctl(['unmask', '--runtime', c.unit], timeoutMs)
  return a + await systemctl(['start', c.unit], timeoutMs)
}
