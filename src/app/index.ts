/**
 * `etcd-inspect index <dir>`: builds the LMDB history index of a data dir (io/index-store.ts) — user
 * key -> revision keys from one pass over the db's `key` bucket, and user key -> WAL entry positions
 * from one pass over the WAL — and the history sources that use it. The index belongs to one db
 * identity (path, device, inode, size, mtime, meta txid, pgid) and one set of WAL segments (names and
 * sizes): anything else and `history` scans instead (and `index` rebuilds), so a changed db is never
 * read through an index of another.
 */
import { existsSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { InputError, UsageError } from '../errors.js'
import type { BoltFile } from '../format/bbolt/file.js'
import { bucket as findBucket, leavesInFileOrder } from '../format/bbolt/walk.js'
import { mvccKey } from '../format/backend/hash.js'
import { decodeRevision, type Revision } from '../format/backend/revision.js'
import { decodeEntry } from '../format/raft/entry.js'
import { Frame, FrameCursor } from '../format/wal/frame.js'
import { decodeRecord, RecordType } from '../format/wal/record.js'
import { openFile, type ByteSource } from '../io/byte-source.js'
import { fileIdentity, INDEX_FORMAT, IndexStore, indexKey, sameIdentity, unpackWalPos, type IndexIdentity, type IndexMeta } from '../io/index-store.js'
import { PairSorter } from '../io/sorted-runs.js'
import { collectWal, type Replacement, type WalJob, type WalStats } from './index-wal.js'
import { listWalDir } from '../io/wal-files.js'
import { resolveDataDir } from '../io/datadir.js'
import { DEFAULT_STATE_DIR } from '../io/witness.js'
import { locateDb } from '../io/bbolt-file.js'
import { withDb } from './db.js'
import { fromSources, startOnce } from '../workers/pool.js'
import { lookupRevisions, matchesKey, prefixEnd, requestsIn, type FoundRequest, type HistoryResult, type HistorySources, type KeyQuery } from './history.js'

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

/** The data dir of a located db (`<dir>/member/snap/db`), or null for a db file elsewhere. */
function dataDirOf(dbPath: string): string | null {
  const tail = '/member/snap/db'
  return dbPath.endsWith(tail) ? dbPath.slice(0, -tail.length) || '/' : null
}

function walSegments(walDir: string): { name: string; size: number }[] {
  return listWalDir(walDir).segments.map((s) => ({ name: s.name, size: s.size }))
}

const sameSegments = (a: { name: string; size: number }[], b: { name: string; size: number }[]): boolean =>
  a.length === b.length && a.every((x, i) => x.name === b[i]!.name && x.size === b[i]!.size)

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
          const c = collectWal(dataDir ?? walDir, walDir, store.path)
          store.writeSorted(store.wal, c.wal, batch)
          store.writeSorted(store.ranges, c.ranges, batch)
          stats = c.stats
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

/** Reads the raft entry whose WAL record frame starts at `offset` (as the reader reported it). */
export function readWalEntryAt(src: ByteSource, file: string, offset: number) {
  // The one frame reader: the length word checked against the file before the frame is read.
  const cur = new FrameCursor(64 * 1024).reset(src, offset)
  const k = cur.next()
  if (k !== Frame.Ok || !cur.whole()) throw new UsageError(`${file}@${offset}: ${k === Frame.ZeroWord ? 'no WAL record there (a zero length word)' : 'the WAL is shorter than the index says'}`, 'rebuild the index: etcd-inspect index <dir>')
  const rec = decodeRecord(cur.buf, cur.recStart, cur.recStart + cur.recBytes, file, cur.start)
  if (rec.type !== RecordType.Entry) throw new UsageError(`${file}@${offset}: not an entry record (type ${rec.type})`, 'rebuild the index: etcd-inspect index <dir>')
  return decodeEntry(rec.data, 0, rec.data.length, file, cur.start + cur.recStart)
}

/** Revisions in the index for the query: dup values of the key, or of every key in the prefix range. */
function indexedRevisions(store: IndexStore, q: KeyQuery): (Revision & { pgid: bigint })[] {
  const out: (Revision & { pgid: bigint })[] = []
  const add = (v: Uint8Array) => {
    const b = Buffer.from(v.buffer, v.byteOffset, v.byteLength)
    out.push({ ...decodeRevision(b.subarray(0, b.length - 8)), pgid: b.readBigUInt64BE(b.length - 8) })
  }
  if (!q.prefix) for (const v of store.revs.getValues(indexKey(q.key))) add(v)
  else {
    const end = prefixEnd(q.key)
    for (const { value } of store.revs.getRange({ start: indexKey(q.key), ...(end ? { end: indexKey(end) } : {}) })) add(value)
    out.sort((a, b) => (a.main !== b.main ? (a.main < b.main ? -1 : 1) : a.sub < b.sub ? -1 : a.sub > b.sub ? 1 : 0))
  }
  return out
}

/**
 * The history sources backed by the index of `path`'s db, when it is current; each returns null
 * (and says why in `notes`) when it is not, and `history` scans instead.
 */
export function indexSources(path: string, opts: { stateDir?: string; walDir?: string }): HistorySources & { notes: string[] } {
  const notes: string[] = []
  const stateDir = opts.stateDir ?? DEFAULT_STATE_DIR
  let dbPath: string
  try {
    dbPath = locateDb(path).path
  } catch {
    return { notes }
  }
  let meta: IndexMeta | null = null
  // One open of the index for both sources (an LMDB open is most of a query's cost); `close` ends it.
  let store: IndexStore | null | undefined
  const withStore = <T>(fn: (s: IndexStore) => T): T | null => {
    if (store === undefined) {
      try {
        store = IndexStore.open(stateDir, dbPath, false)
      } catch {
        store = null
      }
    }
    const s = store
    if (!s) return null
    meta ??= s.readMeta()
    if (meta?.complete && meta.format !== INDEX_FORMAT) { notes.push(`the index under ${s.path} has another format: scanned instead; run \`etcd-inspect index\` again`); return null }
    return meta?.complete ? fn(s) : null
  }
  return {
    notes,
    close() {
      store?.close()
      store = null
    },
    revisions(f: BoltFile, q: KeyQuery) {
      return withStore((s) => {
        const id: IndexIdentity = { ...fileIdentity(f.file), txid: String(f.meta.txid), pgid: String(f.meta.pgid) }
        if (!sameIdentity(meta!, id)) {
          notes.push(`the index under ${s.path} was built for another state of this db (txid ${meta!.txid}, now ${id.txid}): scanned instead; run \`etcd-inspect index\` again`)
          return null
        }
        // Keys longer than the LMDB key keep a hash: check the full key in the db.
        return [...lookupRevisions(f, indexedRevisions(s, q))].filter((r) => matchesKey(q, r.kv.key))
      })
    },
    walRequests(q, ctx) {
      return withStore((s) => {
        const w = meta!.wal as (IndexMeta['wal'] & { replacements?: Replacement[] }) | null
        if (!w) return null
        if (!sameSegments(w.segments, walSegments(w.dir))) {
          notes.push('the WAL changed since the index was built: WAL scanned instead; run `etcd-inspect index` again')
          return null
        }
        const positions = new Map<string, ReturnType<typeof unpackWalPos>>()
        const add = (v: Uint8Array) => { const p = unpackWalPos(v); positions.set(`${p.segment}@${p.offset}`, p) }
        if (!q.prefix) for (const v of s.wal.getValues(indexKey(q.key))) add(v)
        else {
          const end = prefixEnd(q.key)
          for (const { value } of s.wal.getRange({ start: indexKey(q.key), ...(end ? { end: indexKey(end) } : {}) })) add(value)
        }
        for (const { value } of s.ranges.getRange({})) add(value)
        const sorted = [...positions.values()].sort((a, b) => a.segment - b.segment || a.offset - b.offset)
        const sources = new Map<number, ByteSource>()
        const dir = dataDirOf(dbPath) ?? w.dir
        let found: FoundRequest[] = []
        try {
          for (const p of sorted) {
            const seg = w.segments[p.segment]!
            const full = `${w.dir}/${seg.name}`
            let src = sources.get(p.segment)
            if (!src) sources.set(p.segment, (src = openFile(full)))
            const d = readWalEntryAt(src, full, p.offset)
            found.push(...requestsIn(d, { file: relative(dir, full) || full, offset: p.offset }, q, ctx))
          }
        } finally {
          for (const src of sources.values()) src.close()
        }
        // Drop requests a later entry replaced (same rule as the scan).
        for (const rp of w.replacements ?? []) {
          const from = BigInt(rp.fromIndex)
          found = found.filter((x) => !(x.out.index >= from && before(x.out, rp, w.segments)))
        }
        const snap = BigInt(w.snapshotIndex)
        for (const x of found) if (x.out.index <= snap) x.out.beforeSnapshot = true
        const wal: NonNullable<HistoryResult['wal']> = {
          dir: w.dir, source: 'index', snapshotIndex: snap, firstIndex: w.firstIndex === undefined ? undefined : BigInt(w.firstIndex),
          lastIndex: w.lastIndex === undefined ? undefined : BigInt(w.lastIndex), commit: w.commit === undefined ? undefined : BigInt(w.commit), requests: 0,
          end: w.end ?? 'clean', problems: w.problems ?? [],
        }
        return { requests: found, wal }
      })
    },
  }
}

/** True when the request at (file, offset) comes before the replacement in log order. */
function before(x: { file: string; offset: number }, rp: Replacement, segs: { name: string }[]): boolean {
  const seg = segs.findIndex((s) => x.file.endsWith(s.name))
  return seg < rp.segment || (seg === rp.segment && x.offset < rp.offset)
}
