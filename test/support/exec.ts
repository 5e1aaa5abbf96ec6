/** Runs the command-line tools the tests drive (etcdctl, openssl). */
import { execFile, type ExecFileOptions } from 'node:child_process'
import { promisify } from 'node:util'

const execFileP = promisify(execFile)

/** Runs `bin args` and returns its stdout; on failure throws `<what>: <stderr, else the error message>`. */
export async function execText(bin: string, args: string[], opts: ExecFileOptions, what: string): Promise<string> {
  try {
    const { stdout } = await execFileP(bin, args, { ...opts, encoding: 'utf8' })
    return stdout
  } catch (err) {
    const e = err as { stderr?: string; message: string }
    throw new Error(`${what}: ${e.stderr || e.message}`)
  }
}
