/**
 * Worker entry of `etcd-inspect index` (app/index.ts), run through the pool (workers/pool.ts): the
 * WAL pass (app/index-wal.ts) writing its own pairs into the index while the main thread reads the
 * db, then the counts. A failure is only a message here: the main thread redoes the pass itself,
 * so the error surfaces with its file, offset and exit code.
 */
import { IndexStore } from '../io/index-store.js'
import { collectWal, writeWal, type WalJob, type WalStats } from '../app/index-wal.js'
import { serve } from './pool.js'

export function handle(job: WalJob): { result: WalStats } {
  // Read-write: the main thread made the directory and the environment.
  const store = IndexStore.open(job.stateDir, job.dbPath, true)!
  try {
    return { result: writeWal(store, collectWal(job.dir, job.walDir, store.path), job.batch) }
  } finally {
    store.close()
  }
}

serve('index-wal', handle)
