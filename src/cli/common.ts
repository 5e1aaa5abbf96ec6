/**
 * Option helpers shared by the command files: the `-w` output flag and --debug.
 * Commands stay thin: parse flags, call one app/ function, hand the result to a renderer.
 */
import { Command, Option } from './commander.js'
import { OutputFormats, parseOutputFormat, type OutputFormat } from '../render/output.js'
import type { Prestarted } from '../workers/pool.js'

export function outputOption(defaultFormat: OutputFormat = 'table'): Option {
  return new Option('-w, --write-out <format>', `output format (${OutputFormats.join('|')})`).default(defaultFormat)
}

export function outputFormat(opts: { writeOut?: string }): OutputFormat {
  return parseOutputFormat(opts.writeOut)
}

/** What the process hands the commands besides argv. */
export interface CliContext {
  /** `wal`'s workers, started before the CLI loaded (cli/early.ts, app/wal-ahead.ts): `wal` takes or stops them. */
  walWorkers?: Prestarted
}

/** Adds a subcommand whose action returns an exit code (or nothing for 0). */
export type CommandRegistrar = (program: Command, ctx: CliContext) => void
