/**
 * Builds a fresh commander program on every call (tests create one per case). Each command lives
 * in cli/commands/<name>.ts and registers itself; actions set `process.exitCode` through main.ts.
 *
 * Given the argv, only the command it names is loaded and registered: in a fresh process every
 * command file is a few ES modules more for Node 20's loader (all eleven with their imports: about
 * 25 ms), against a `history` answered from the index in about as much. Without a known command
 * name (help, a typo) all are registered, so help lists them and commander suggests the nearest.
 */
import { Command } from './commander.js'
import type { CliContext, CommandRegistrar } from './common.js'

export const VERSION = '0.1.0'

/** Every command, in help order. */
const COMMANDS: Record<string, () => Promise<{ register: CommandRegistrar }>> = {
  wal: () => import('./commands/wal.js'),
  snap: () => import('./commands/snap.js'),
  db: () => import('./commands/db.js'),
  status: () => import('./commands/status.js'),
  check: () => import('./commands/check.js'),
  replace: () => import('./commands/replace.js'),
  report: () => import('./commands/report.js'),
  history: () => import('./commands/history.js'),
  index: () => import('./commands/index.js'),
  compare: () => import('./commands/compare.js'),
  certs: () => import('./commands/certs.js'),
}

/** The command an argv (node, script, args…) names: its first non-option argument (the global options take no value). */
function commandIn(argv: string[] | undefined): string | undefined {
  const name = argv?.slice(2).find((a) => !a.startsWith('-'))
  return name !== undefined && Object.hasOwn(COMMANDS, name) ? name : undefined
}

export async function createProgram(argv?: string[], ctx: CliContext = {}): Promise<Command> {
  const program = new Command()
  program
    .name('etcd-inspect')
    .description('Inspect etcd data directories read-only, check them against the live cluster, replace members safely')
    .version(VERSION)
    .option('--debug', 'show stack traces on errors')
    .showHelpAfterError()
  const only = commandIn(argv)
  const modules = await Promise.all((only ? [only] : Object.keys(COMMANDS)).map((name) => COMMANDS[name]!()))
  for (const m of modules) m.register(program, ctx)
  // Subcommands do not inherit exitOverride: without it commander calls process.exit(1) itself.
  const override = (c: Command): void => {
    c.exitOverride()
    c.commands.forEach(override)
  }
  override(program)
  return program
}
