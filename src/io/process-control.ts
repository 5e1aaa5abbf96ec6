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

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    // Detached with stdio closed: a start command that leaves a daemon behind must not keep our pipes open.
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: false })
    let out = ''
    p.stdout.on('data', (d: Buffer) => { out += d.toString() })
    p.stderr.on('data', (d: Buffer) => { out += d.toString() })
    const t = setTimeout(() => { p.kill('SIGKILL') }, timeoutMs)
    p.on('error', (e) => { clearTimeout(t); reject(e) })
    p.on('close', (code) => { clearTimeout(t); resolve({ code, out: out.slice(-4000) }) })
  })
}

export function describeStop(c: ProcessControl): string[] {
  return c.kind === 'commands' ? [`sh -c ${JSON.stringify(c.stopCmd)}`] : [`systemctl stop ${c.unit}`, `systemctl mask --runtime ${c.unit}`]
}

export function describeStart(c: ProcessControl): string[] {
  return c.kind === 'commands' ? [`sh -c ${JSON.stringify(c.startCmd)}`] : [`systemctl unmask --runtime ${c.unit}`, `systemctl start ${c.unit}`]
}

async function check(r: { code: number | null; out: string }, what: string): Promise<string> {
  if (r.code !== 0) throw new ClusterError(`${what} failed (exit ${r.code}): ${r.out.trim().split('\n').slice(-3).join(' | ')}`, 'process-control')
  return r.out
}

export async function stopMember(c: ProcessControl, timeoutMs = 60000): Promise<string> {
  if (c.kind === 'commands') return check(await run('sh', ['-c', c.stopCmd], timeoutMs), `stop command ${JSON.stringify(c.stopCmd)}`)
  const a = await check(await run('systemctl', ['stop', c.unit], timeoutMs), `systemctl stop ${c.unit}`)
  const b = await check(await run('systemctl', ['mask', '--runtime', c.unit], timeoutMs), `systemctl mask ${c.unit}`)
  return a + b
}

export async function startMember(c: ProcessControl, timeoutMs = 60000): Promise<string> {
  if (c.kind === 'commands') return check(await run('sh', ['-c', c.startCmd], timeoutMs), `start command ${JSON.stringify(c.startCmd)}`)
  const a = await check(await run('systemctl', ['unmask', '--runtime', c.unit], timeoutMs), `systemctl unmask ${c.unit}`)
  const b = await check(await run('systemctl', ['start', c.unit], timeoutMs), `systemctl start ${c.unit}`)
  return a + b
}
