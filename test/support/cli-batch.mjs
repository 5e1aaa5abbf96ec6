// Runs many invocations of the built CLI (dist/cli/program.js) in ONE Node process, so a test that
// needs hundreds of command runs pays module loading once, not per run (on this 2-core machine a
// process start with the CLI's imports costs ~0.5 s of CPU). Each run goes through the same
// commander program and error mapping as dist/cli/main.js; stdout is captured per run. `check` and
// `replace` arm an unref'd process.exit() timer against stuck gRPC sockets: it is held off until
// every run is done, then the batch exits itself.
//
//   node test/support/cli-batch.mjs <runs.json> <out.json>
//   runs.json: [["wal", "<dir>", "-w", "json"], ...]   out.json: [{ args, code, stdout, stderr }, ...]
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const dist = join(dirname(fileURLToPath(import.meta.url)), '../../dist/cli')
const { createProgram } = await import(join(dist, 'program.js'))
const { exitCodeFor, errorLine, ExitCode } = await import(join(dist, 'exit-codes.js'))
process.noDeprecation = true

const [runsFile, outFile] = process.argv.slice(2)
const runs = JSON.parse(readFileSync(runsFile, 'utf8'))
const realOut = process.stdout.write.bind(process.stdout)
const realErr = process.stderr.write.bind(process.stderr)
const realExit = process.exit
process.exit = () => undefined
const results = []
for (const args of runs) {
  const out = []
  const err = []
  // Node's write(chunk[, encoding][, callback]): the callback runs once the bytes are taken.
  const capture = (into) => (chunk, enc, cb) => {
    into.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk))
    const done = typeof enc === 'function' ? enc : cb
    if (done) queueMicrotask(() => done())
    return true
  }
  process.stdout.write = capture(out)
  process.stderr.write = capture(err)
  process.exitCode = undefined
  let code
  const t0 = performance.now()
  try {
    const program = await createProgram(['node', 'etcd-inspect', ...args])
    program.exitOverride()
    await program.parseAsync(['node', 'etcd-inspect', ...args])
    code = typeof process.exitCode === 'number' ? process.exitCode : ExitCode.OK
  } catch (e) {
    code = e?.code?.startsWith?.('commander.') ? ExitCode.Usage : exitCodeFor(e)
    if (!e?.code?.startsWith?.('commander.')) err.push(Buffer.from(errorLine(e) + '\n'))
  } finally {
    process.stdout.write = realOut
    process.stderr.write = realErr
  }
  results.push({ ms: Math.round(performance.now() - t0), args, code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') })
}
writeFileSync(outFile, JSON.stringify(results))
realExit(0)
