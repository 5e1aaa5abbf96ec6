/** Runs the built CLI (`node dist/cli/main.js`) and captures stdout, stderr and the exit code. */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js')

export interface CliRun { code: number; stdout: string; stderr: string }

export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): CliRun {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 256 << 20, env: { ...process.env, ...opts.env } })
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}
