#!/usr/bin/env node
/**
 * Entry point: parse argv, run the command, map errors to one line on stderr and an exit code.
 * No stack trace unless --debug.
 */
import { CommanderError } from 'commander'
import { createProgram } from './program.js'
import { ExitCode, errorLine, exitCodeFor } from './exit-codes.js'

async function main(argv: string[]): Promise<number> {
  // grpc-js sends an IP endpoint as TLS SNI, which makes Node print DEP0123 on stderr: not
  // actionable for an operator, and it would break `check --pre-start`'s one-line contract and
  // the stderr of `replace`.
  if (!process.noDeprecation) process.noDeprecation = true
  const program = createProgram()
  program.exitOverride()
  const debug = argv.includes('--debug')
  // Output to a closed pipe (`| head`) is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  })
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

main(process.argv).then(
  (code) => {
    process.exitCode = code
  },
  (err) => {
    process.stderr.write(errorLine(err) + '\n')
    process.exitCode = ExitCode.Internal
  },
)
