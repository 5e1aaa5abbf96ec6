/**
 * `etcd-inspect index <dir>`: builds the LMDB history index of a data dir (io/index-store.ts) — user
 * key -> revision keys from one pass over the db's `key` bucket, and user key -> WAL entry positions
 * from one pass over the WAL (app/index-query.ts has the history sources that use it). The index belongs to one db
 * identity (path, device, inode, size, mtime, meta txid, pgid) and one set of WAL segments (names and
 * sizes): anything else and `history` scans instead (and `index` rebuilds), so a changed db is never
 * read through an index of another.
 */
import { availableParallelism } from 'node:os'
import { resolve } from 'node:path'
import { InputError } from '../errors.js'
import { bucket as findBucket, leavesInFileOrder } from '../format/bbolt/walk.js'
import { mvccKey } from '../format/backend/hash.js'
import { decodeRevision } from '../format/backend/revision.js'
import { fileIdentity, INDEX_FORMAT, IndexStore, indexKey, sameIdentity, type IndexIdentity, type IndexMeta } from '../io/index-store.js'
import { PairSorter } from '../io/sorted-runs.js'
import { collectWal, writeWal, type Replacement, type WalJob, type WalStats } from './index-wal.js'
import { listWalDir } from '../io/wal-files.js'
import { resolveDataDir } from '../io/datadir.js'
import { DEFAULT_STATE_DIR } from '../io/witness.js'
import { locateDb } from '../io/bbolt-file.js'
import { withDb } from './db-view.js'
import { fromSources, startOnce } from '../workers/pool.js'
import { dataDirOf, sameSegments, walSegments } from './index-query.js'

export interface IndexOptions {
  stateDir?: string
  walDir?: string
  /** Skip the WAL part. */
  noWal?: boolean
  /** Rebuild even when the index is current. */
  force?: boolean
  /** The WAL pass in a worker thread: when the WAL is 64 MiB or more and there is a second CPU (auto), always, or never. */
  walWorker?: 'auto' | 'always' | 'never'
  /** Writes per LMDB transaction (bounds its dirty pages). */
  batch?: number
}

export interface IndexResult {
  /** The index directory. */
  indexPath: string
  dbPath: string
  /** The index was already current for this db (nothing written). */
  reused: boolean
  /** Why it was (re)built. */
  reason: string
  keys: number
  revisions: number
  wal: IndexMeta['wal']
  /** Why the WAL was not indexed (no WAL next to the db, --no-wal). */
  walSkipped?: string
  seconds: number
  /** When built: the WAL pass ran in a worker thread beside the db pass (a big WAL, two CPUs). */
  walWorker?: boolean
  /** Of `seconds` (when built): the db pass and the WAL pass. */
  dbSeconds?: number
  walSeconds?: number
}

export async function buildIndex(path: string, opts: IndexOptions = {}): Promise<IndexResult> {
  const t0 = performance.now()
  const stateDir = opts.stateDir ?? DEFAULT_STATE_DIR
  const batch = opts.batch ?? 50000
  const dbPath = locateDb(path).path
  const dataDir = dataDirOf(dbPath)
  const located: { walDir: string } | { skipped: string } = opts.noWal ? { skipped: '--no-wal' } : opts.walDir ? { walDir: opts.walDir } : dataDir ? openWalDir(dataDir) : { skipped: 'a db file outside a data dir (give --wal-dir)' }
  const walDir = 'walDir' in located ? resolve(located.walDir) : null
  const walSkipped = 'skipped' in located ? located.skipped : undefined
  let store = IndexStore.open(stateDir, dbPath, true)!
  let worker = null as ReturnType<typeof startWalWorker>
  let walWorker = false
  try {
    const { result } = withDb(path, (f) => {
      const id: IndexIdentity = { ...fileIdentity(f.file), txid: String(f.meta.txid), pgid: String(f.meta.pgid) }
      const old = store.readMeta()
      const segs = walDir ? walSegments(walDir) : null
      const current = old?.complete && old.format === INDEX_FORMAT && sameIdentity(old, id) && (old.wal === null ? segs === null : segs !== null && sameSegments(old.wal.segments, segs))
      if (current && !opts.force) return { meta: old!, reused: true, reason: 'current' }
      const reason = opts.force ? 'forced' : !old ? 'new' : !old.complete ? 'an earlier build did not finish' : old.format !== INDEX_FORMAT ? 'index format changed' : !sameIdentity(old, id) ? 'the db changed' : 'the WAL changed'
      if (old) {
        store.close()
        IndexStore.remove(stateDir, dbPath)
        store = IndexStore.open(stateDir, dbPath, true)!
      }
      const meta: IndexMeta = { ...id, format: INDEX_FORMAT, builtAt: new Date().toISOString(), complete: false, keys: 0, revisions: 0, wal: null }
      store.writeMeta(meta)
      // The WAL pass, beside the db pass when it is big (a worker thread), else after it.
      if (walDir && segs) worker = startWalWorker({ dir: dataDir ?? walDir, walDir, stateDir, dbPath, batch }, segs, opts.walWorker ?? 'auto')
      // Revisions: one pass over `key`, sorted by user key outside LMDB (io/sorted-runs.ts), then
      // written in key order.
      const revs = new PairSorter(store.path, 'revs')
      const b = findBucket(f, 'key')
      if (b) {
        const v = Buffer.alloc(26)
        for (const e of leavesInFileOrder(f, b.bucket, { name: 'key', values: false })) {
          decodeRevision(e.key, f.file, e.pageOffset + e.at)
          // The revision key, then the leaf page it is on (valid while the db is unchanged).
          v.set(e.key, 0)
          v.writeBigUInt64BE(e.pgid, e.key.length)
          revs.add(indexKey(mvccKey(e, f)), v.subarray(0, e.key.length + 8))
        }
      }
      meta.revisions = revs.added
      meta.keys = store.writeSorted(store.revs, revs, batch)
      meta.dbSeconds = Math.round(performance.now() - t0) / 1000
      return { meta, reused: false, reason, segs }
    })
    const m = result.meta
    if (!result.reused) {
      if (walDir && result.segs) {
        // The worker wrote its pairs itself (beside the db pass); if it failed, all is done here.
        let stats = worker ? await worker.result : null
        walWorker = stats !== null
        if (!stats) {
          store.clearWal()
          stats = writeWal(store, collectWal(dataDir ?? walDir, walDir, store.path), batch)
        }
        m.wal = walMeta(walDir, result.segs, stats)
      }
      m.complete = true
      store.writeMeta(m)
    }
    const seconds = Math.round(performance.now() - t0) / 1000
    return { indexPath: store.path, dbPath, reused: result.reused, reason: result.reason, keys: m.keys, revisions: m.revisions, wal: m.wal, ...(walSkipped ? { walSkipped } : {}), seconds,
      ...(result.reused ? {} : { walWorker, dbSeconds: m.dbSeconds ?? seconds, walSeconds: m.wal ? Math.round((seconds - (m.dbSeconds ?? 0)) * 1000) / 1000 : 0 }) }
  } finally {
    worker?.stop()
    store.close()
  }
}

/**
 * The WAL dir of a data dir, or why there is none. Only a missing WAL means "index the db alone";
 * any other failure (permissions, a file where the dir should be) is the operator's to see, not a
 * silently smaller index.
 */
function openWalDir(dataDir: string): { walDir: string } | { skipped: string } {
  let layout: ReturnType<typeof resolveDataDir>
  try {
    layout = resolveDataDir(dataDir, {})
  } catch (err) {
    if (err instanceof InputError && err.code === 'no-wal') return { skipped: err.message }
    throw err
  }
  if (listWalDir(layout.walDir).segments.length === 0) return { skipped: `no WAL segments in ${layout.walDir}` }
  return { walDir: layout.walDir }
}

/** Bytes of WAL from which the WAL pass runs in a worker thread, beside the db pass. */
const WORKER_WAL_BYTES = 64 << 20

/**
 * Starts the WAL pass in a worker thread of the pool when the WAL is big and there is a second CPU,
 * else returns null (the caller runs it in this thread; so does every run from the TypeScript
 * sources). The worker also writes its pairs into the index (LMDB serialises the two threads' write
 * transactions). The promise never rejects: null means the worker failed and the pass must run here
 * (where its error has its file, offset and exit code).
 */
function startWalWorker(job: WalJob, segs: { size: number }[], when: 'auto' | 'always' | 'never'): { result: Promise<WalStats | null>; stop: () => void } | null {
  if (fromSources() || when === 'never' || (when === 'auto' && (availableParallelism() < 2 || segs.reduce((n, s) => n + s.size, 0) < WORKER_WAL_BYTES))) return null
  const run = startOnce<WalJob, WalStats>('index-wal', job)
  return { result: run.result.then((r) => (r.ok ? r.result : null)), stop: run.stop }
}

function walMeta(walDir: string, segs: { name: string; size: number }[], stats: WalStats): NonNullable<IndexMeta['wal']> & { replacements?: Replacement[] } {
  const { replacements, ...rest } = stats
  return { dir: walDir, segments: segs, ...rest, ...(replacements.length ? { replacements } : {}) }
}

