/**
 * Builds a fresh commander program on every call (tests create one per case). Each command lives
 * in cli/commands/<name>.ts and registers itself; actions set `process.exitCode` through main.ts.
 */
import { Command } from 'commander'
import { register as registerWal } from './commands/wal.js'
import { register as registerSnap } from './commands/snap.js'
import { register as registerDb } from './commands/db.js'
import { register as registerStatus } from './commands/status.js'
import { register as registerCheck } from './commands/check.js'
import { register as registerReplace } from './commands/replace.js'
import { register as registerReport } from './commands/report.js'
import { register as registerHistory } from './commands/history.js'
import { register as registerIndex } from './commands/index.js'
import { register as registerCompare } from './commands/compare.js'
import { register as registerCerts } from './commands/certs.js'

export const VERSION = '0.1.0'

export function createProgram(): Command {
  const program = new Command()
  program
    .name('etcd-inspect')
    .description('Inspect etcd data directories read-only, check them against the live cluster, replace members safely')
    .version(VERSION)
    .option('--debug', 'show stack traces on errors')
    .showHelpAfterError()
  registerWal(program)
  registerSnap(program)
  registerDb(program)
  registerStatus(program)
  registerCheck(program)
  registerReplace(program)
  registerReport(program)
  registerHistory(program)
  registerIndex(program)
  registerCompare(program)
  registerCerts(program)
  // Subcommands do not inherit exitOverride: without it commander calls process.exit(1) itself.
  const override = (c: Command): void => {
    c.exitOverride()
    c.commands.forEach(override)
  }
  override(program)
  return program
}
