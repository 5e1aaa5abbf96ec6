/**
 * The real-world corpus (../shared/testdata/real-world/corpus-a.tgz: 24 data dirs written by etcd
 * 2.0 to 3.6 that public repositories committed; SOURCES.tsv names them) unpacked into a temp dir
 * once per test file, and the built CLI run in this process: a Node start costs more than most
 * commands on these small dirs, so one process per command would make the file slow.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { REPO_ROOT, type CliRun } from '../support/cli.js'
import { sharedTestdata } from '../support/shared-testdata.js'

export const CORPUS_TGZ = join(sharedTestdata('real-world'), 'corpus-a.tgz')

/** Unpacks the corpus; returns its root and the dir names (sorted). */
export function unpackCorpus(): { root: string; dirs: string[]; cleanup(): void } {
  const root = mkdtempSync(join(tmpdir(), 'corpus-a-'))
  execFileSync('tar', ['-xzf', CORPUS_TGZ, '-C', root])
  return { root, dirs: readdirSync(root).sort(), cleanup: () => rmSync(root, { recursive: true, force: true }) }
}

type RunFn = (argv: string[]) => Promise<number>
let runFn: RunFn | undefined

/**
 * Runs `etcd-inspect <args>` from dist/ in this process and captures what it writes. Commands run
 * one at a time (stdout/stderr are swapped for the duration of one call).
 */
export async function runInProcess(args: string[]): Promise<CliRun> {
  runFn ??= ((await import(pathToFileURL(join(REPO_ROOT, 'dist/cli/run.js')).href)) as { run: RunFn }).run
  const out: string[] = []
  const err: string[] = []
  const stdoutWrite = process.stdout.write
  const stderrWrite = process.stderr.write
  const capture = (sink: string[]) => ((chunk: string | Uint8Array, enc?: unknown, cb?: unknown): boolean => {
    sink.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'))
    const done = typeof enc === 'function' ? enc : cb
    if (typeof done === 'function') queueMicrotask(() => (done as () => void)())
    return true
  }) as typeof process.stdout.write
  process.exitCode = undefined
  process.stdout.write = capture(out)
  process.stderr.write = capture(err)
  let code: number
  try {
    code = await runFn(['node', 'etcd-inspect', ...args])
  } catch (e) {
    err.push(`uncaught: ${(e as Error)?.stack ?? String(e)}`)
    code = 70
  } finally {
    process.stdout.write = stdoutWrite
    process.stderr.write = stderrWrite
    process.exitCode = undefined
  }
  return { code, stdout: out.join(''), stderr: err.join('') }
}
