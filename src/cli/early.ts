/**
 * What cli/main.ts starts before the CLI's own modules load: the workers of a plain `wal <dir>`
 * on a large log (app/wal-ahead.ts). Only argv shapes whose options the workers reproduce in any
 * case qualify; anything else (filters, --show-values, --threads, help, an unknown flag) starts
 * nothing here, and the command starts what it needs itself, as before.
 */
import { walWorkersAhead } from '../app/wal-ahead.js'
import type { Prestarted } from '../workers/pool.js'

/**
 * The data dir and WAL dir of `wal <dir>` with no options but -w/--write-out, --wal-dir and
 * --debug (process.argv shape); null for any other argv.
 */
export function plainWalArgs(argv: readonly string[]): { dir: string; walDir?: string } | null {
  const args = argv.slice(2)
  let command = false
  let dir: string | undefined
  let walDir: string | undefined
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === '--debug' || a.startsWith('--write-out=')) continue
    if (a === '-w' || a === '--write-out' || a === '--wal-dir') {
      const v = args[++i]
      if (v === undefined) return null
      if (a === '--wal-dir') walDir = v
      continue
    }
    if (a.startsWith('--wal-dir=')) {
      walDir = a.slice('--wal-dir='.length)
      continue
    }
    if (a.startsWith('-')) return null
    if (!command) {
      if (a !== 'wal') return null
      command = true
    } else if (dir === undefined) dir = a
    else return null // `wal verify <dir>`, or a stray word
  }
  return command && dir !== undefined ? { dir, ...(walDir !== undefined ? { walDir } : {}) } : null
}

/** The workers started ahead for `argv`, or undefined. */
export function startAhead(argv: readonly string[]): Prestarted | undefined {
  const w = plainWalArgs(argv)
  return w === null ? undefined : walWorkersAhead(w.dir, { walDir: w.walDir })
}
