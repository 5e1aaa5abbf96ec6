/**
 * One CLI invocation without the process around it: parse argv, run the command, map errors to
 * one line on stderr and an exit code (no stack trace unless --debug). main.ts calls it once per
 * process; the real-world corpus test calls it many times in one process (a Node start costs more
 * than most commands on a small data dir).
 */
import { CommanderError } from './commander.js'
import { createProgram } from './program.js'
import type { CliContext } from './common.js'
import { ExitCode, errorLine, exitCodeFor } from './exit-codes.js'

/** Runs `argv` (process.argv shape: node, script, args...) and returns the exit code. */
export async function run(argv: string[], ctx: CliContext = {}): Promise<number> {
  const program = await createProgram(argv, ctx)
  program.exitOverride()
  const debug = argv.includes('--debug')
  try {
    await program.parseAsync(argv)
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.OK
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return ExitCode.OK
      return ExitCode.Usage
    }
    process.stderr.write(errorLine(err) + '\n')
    if (debug && err instanceof Error && err.stack) process.stderr.write(err.stack + '\n')
    return exitCodeFor(err)
  }
}
