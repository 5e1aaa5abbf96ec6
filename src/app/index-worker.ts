/**
 * Worker thread of `etcd-inspect index` (app/index.ts): runs the WAL pass (app/index-wal.ts) and
 * writes its pairs into the index while the main thread reads the db, then hands back the counts.
 * On an error the main thread redoes the pass itself, so the error surfaces with its file, offset
 * and exit code.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { IndexStore } from '../io/index-store.js'
import { collectWal, type WalJob } from './index-wal.js'

const job = workerData as WalJob
let store: IndexStore | null = null
try {
  // Read-write: the main thread made the directory and the environment.
  store = IndexStore.open(job.stateDir, job.dbPath, true)!
  const c = collectWal(job.dir, job.walDir, store.path)
  store.writeSorted(store.wal, c.wal, job.batch)
  store.writeSorted(store.ranges, c.ranges, job.batch)
  parentPort!.postMessage({ ok: true, stats: c.stats })
} catch (err) {
  parentPort!.postMessage({ ok: false, message: (err as Error).message })
} finally {
  store?.close()
}
