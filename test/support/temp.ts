/**
 * Temp dirs of a support module: one parent per test process, `<tmp>/<prefix><pid>-XXXXXX/`,
 * removed after the test file (vitest afterAll), at process exit, and — since vitest workers may
 * end without an 'exit' event — by the next process that loads the module once the owning pid is
 * gone.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'

export interface ProcessTemp {
  /** A new dir `<name>XXXXXX` under this process's parent (made on first use). */
  dir(name: string): string
  /** Removes the parent and everything in it, unless `$keepEnv` is set; the next `dir()` makes a new one. */
  remove(): void
}

/**
 * Sweeps stale parents with `prefix`, then returns this process's temp dirs, removed after the
 * test file and at exit. `onRemove` resets whatever the caller cached inside them.
 */
export function processTemp(prefix: string, opts: { keepEnv: string; onRemove?: () => void }): ProcessTemp {
  let parent: string | undefined
  const temps: ProcessTemp = {
    dir(name) {
      parent ??= mkdtempSync(join(tmpdir(), `${prefix}${process.pid}-`))
      return mkdtempSync(join(parent, name))
    },
    remove() {
      if (process.env[opts.keepEnv]) return
      if (parent) { try { rmSync(parent, { recursive: true, force: true }) } catch {} }
      parent = undefined
      opts.onRemove?.()
    },
  }
  sweepStaleTemps(prefix)
  process.on('exit', temps.remove)
  try { afterAll(temps.remove) } catch { /* loaded outside a vitest test file */ }
  return temps
}

function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM' }
}

/** Removes temp parents with `prefix` left by test processes that no longer exist. */
function sweepStaleTemps(prefix: string): void {
  for (const n of readdirSync(tmpdir())) {
    const m = n.startsWith(prefix) ? /^(\d+)-/.exec(n.slice(prefix.length)) : null
    if (!m) continue
    const pid = Number(m[1])
    if (pid !== process.pid && !pidAlive(pid)) { try { rmSync(join(tmpdir(), n), { recursive: true, force: true }) } catch {} }
  }
}
