/**
 * Worker thread of `etcd-inspect index` (app/index.ts): runs the WAL pass (app/index-wal.ts) while
 * the main thread reads the db, and hands back its sorted run files and counts. On an error the
 * main thread runs the pass itself, so the error surfaces with its file, offset and exit code.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { collectWal } from './index-wal.js'

const { dir, walDir, indexPath } = workerData as { dir: string; walDir: string; indexPath: string }
try {
  const c = collectWal(dir, walDir, indexPath)
  parentPort!.postMessage({ ok: true, stats: c.stats, wal: { runs: c.wal.release(), added: c.wal.added }, ranges: { runs: c.ranges.release(), added: c.ranges.added } })
} catch (err) {
  parentPort!.postMessage({ ok: false, message: (err as Error).message })
}
