#!/usr/bin/env node
/**
 * Entry point: run the command (run.ts), map errors to one line on stderr and an exit code.
 * No stack trace unless --debug. `wal`'s workers start first (cli/early.ts), then the CLI's
 * modules load (imported here, not at the top, so that they load while the workers boot).
 */
import { startAhead } from './early.js'

const ahead = startAhead(process.argv)
const { run } = await import('./run.js')
const { ExitCode, errorLine } = await import('./exit-codes.js')

async function main(argv: string[]): Promise<number> {
  // grpc-js sends an IP endpoint as TLS SNI, which makes Node print DEP0123 on stderr: not
  // actionable for an operator, and it would break `check --pre-start`'s one-line contract and
  // the stderr of `replace`.
  if (!process.noDeprecation) process.noDeprecation = true
  // Output to a closed pipe (`| head`) is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0)
  })
  return run(argv, { walWorkers: ahead })
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
