/**
 * `wal`'s workers started ahead: before the CLI has loaded its modules (cli/early.ts), for a log
 * large enough that app/wal-parallel.ts will want them. A worker takes ~80 ms to boot (Node's
 * thread bootstrap and its modules) and the CLI ~70 ms to load and open the log; started first, the
 * worker is ready about when the first chunk is, not ~100 ms after it (bench/wal.mjs's log: ~5 % of
 * the run, docs/wal.md "session 11"). Light on purpose: only the layout and the directory listing.
 */
import { resolveDataDir } from '../io/datadir.js'
import { listWalDir } from '../io/wal-files.js'
import { defaultThreads, prestart, type Prestarted } from '../workers/pool.js'

/** Below this many bytes of segments, starting workers costs more than it saves (app/wal-parallel.ts). */
export const PARALLEL_MIN_BYTES = 8 * 1024 * 1024

/**
 * The workers `wal` on `dir` with the default threads would start (threads - 1), started now when
 * its segments hold PARALLEL_MIN_BYTES or more; else undefined (a small log, one CPU, and any
 * error: a path that is not a data dir, a build without its worker; the command meets the same
 * error on its own path and reports it as it always did). The caller stops what it does not take.
 */
export function walWorkersAhead(dir: string, opts: { walDir?: string } = {}, threads = defaultThreads()): Prestarted | undefined {
  if (threads < 2) return undefined
  try {
    let bytes = 0
    for (const s of listWalDir(resolveDataDir(dir, opts).walDir).segments) bytes += s.size
    return bytes >= PARALLEL_MIN_BYTES ? prestart('wal-chunk', threads - 1) : undefined
  } catch {
    return undefined
  }
}
