/**
 * The history index: one LMDB environment per db under `<state-dir>/index/<id>/` (never inside a
 * data dir; `id` = first 16 hex digits of SHA-256 of the db file's real path). Named databases:
 *   meta   "db"  -> JSON: the db's identity when the index was built (dev, inode, size, mtime,
 *                   meta txid, pgid) and the WAL segments (name, size); `complete` is written last
 *   revs   user key -> revisions (dupSort: per revision the 17/18-byte `BE64(main)_BE64(sub)[t]`
 *                   key, so bytewise dup order is revision order, then BE64 of the leaf page it is on)
 *   wal    user key -> WAL positions (dupSort: BE64(raft index) BE32(segment #) BE64(offset))
 *   ranges BE64(raft index) BE32(segment #) BE64(offset) of every DeleteRange over a range
 * User keys longer than 480 bytes are stored as their first 440 bytes, 0xff, and the SHA-256 of the
 * whole key (LMDB keys are at most 511 bytes); readers check the full key in the db. The index is a
 * cache: written without fsync and rebuilt whenever the identity differs or `complete` is missing.
 */
import type { WalReadEnd } from '../format/wal/findings.js'
import { createHash } from 'node:crypto'
import { mkdirSync, realpathSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { open, type Database, type RootDatabase } from './lmdb.js'
import type { PairSorter } from './sorted-runs.js'

/** What the index was built from. */
export interface IndexIdentity {
  dbPath: string
  dev: number
  ino: number
  size: number
  mtimeMs: number
  txid: string
  pgid: string
}

/** Layout version of the index: an index of another version is rebuilt, never read. */
export const INDEX_FORMAT = 3

export interface IndexMeta extends IndexIdentity {
  format: number
  builtAt: string
  complete: boolean
  keys: number
  revisions: number
  /** Seconds the db pass took. */
  dbSeconds?: number
  /** `end`/`problems`: how the WAL read ended (absent in indexes built before they were recorded). */
  wal: null | { dir: string; segments: { name: string; size: number }[]; snapshotIndex: string; commit?: string; firstIndex?: string; lastIndex?: string; requests: number; ranges: number } & Partial<WalReadEnd>
}

/** User keys up to this length are their own LMDB key. */
export const MAX_INDEX_KEY = 480
const KEEP = 440

/** The LMDB key of a user key. */
export function indexKey(k: Uint8Array): Buffer {
  if (k.length <= MAX_INDEX_KEY) return Buffer.from(k.buffer, k.byteOffset, k.byteLength)
  return Buffer.concat([Buffer.from(k.buffer, k.byteOffset, KEEP), Buffer.from([0xff]), createHash('sha256').update(k).digest()])
}

/** The stat-level identity of a db file (the caller adds txid and pgid). */
export function fileIdentity(dbPath: string): Pick<IndexIdentity, 'dbPath' | 'dev' | 'ino' | 'size' | 'mtimeMs'> {
  const real = realpathSync(dbPath)
  const st = statSync(real)
  return { dbPath: real, dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs }
}

export function indexDir(stateDir: string, dbPath: string): string {
  const id = createHash('sha256').update(realpathSync(dbPath)).digest('hex').slice(0, 16)
  return join(stateDir, 'index', id)
}

export function sameIdentity(a: IndexIdentity, b: IndexIdentity): boolean {
  return a.dbPath === b.dbPath && a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.txid === b.txid && a.pgid === b.pgid
}

/** A WAL position packed for the `wal` and `ranges` databases. */
export function packWalPos(index: bigint, segment: number, offset: number): Buffer {
  const b = Buffer.alloc(20)
  b.writeBigUInt64BE(index, 0)
  b.writeUInt32BE(segment, 8)
  b.writeBigUInt64BE(BigInt(offset), 12)
  return b
}

export function unpackWalPos(b: Uint8Array): { index: bigint; segment: number; offset: number } {
  const v = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
  return { index: v.readBigUInt64BE(0), segment: v.readUInt32BE(8), offset: Number(v.readBigUInt64BE(12)) }
}

export class IndexStore {
  private constructor(readonly path: string, private readonly root: RootDatabase, readonly meta: Database<string, string>,
    readonly revs: Database<Buffer, Buffer>, readonly wal: Database<Buffer, Buffer>, readonly ranges: Database<Buffer, Buffer>) {}

  /** Opens the index of `dbPath`; `create` makes the directory (for `index`), else null when there is none. */
  static open(stateDir: string, dbPath: string, create: boolean): IndexStore | null {
    const path = indexDir(stateDir, dbPath)
    try {
      statSync(join(path, 'data.mdb'))
    } catch {
      if (!create) return null
      mkdirSync(path, { recursive: true, mode: 0o700 })
    }
    const root = open({ path, noSync: true, compression: false, maxDbs: 8, ...(create ? {} : { readOnly: true }) }) as RootDatabase
    const bin = { keyEncoding: 'binary' as const, encoding: 'binary' as const, dupSort: true }
    return new IndexStore(path, root,
      root.openDB({ name: 'meta', encoding: 'string' }) as unknown as Database<string, string>,
      root.openDB({ name: 'revs', ...bin }) as unknown as Database<Buffer, Buffer>,
      root.openDB({ name: 'wal', ...bin }) as unknown as Database<Buffer, Buffer>,
      root.openDB({ name: 'ranges', ...bin }) as unknown as Database<Buffer, Buffer>)
  }

  /** Removes an index directory (a stale one, before rebuilding). */
  static remove(stateDir: string, dbPath: string): void {
    rmSync(indexDir(stateDir, dbPath), { recursive: true, force: true })
  }

  readMeta(): IndexMeta | null {
    const s = this.meta.get('db')
    return s ? (JSON.parse(s) as IndexMeta) : null
  }

  writeMeta(m: IndexMeta): void {
    this.meta.putSync('db', JSON.stringify(m))
  }

  /** Runs `fn` in one write transaction (the caller batches to bound LMDB's dirty pages). */
  batch(fn: () => void): void {
    this.root.transactionSync(fn)
  }

  /**
   * Writes sorted pairs (io/sorted-runs.ts) into `db`, `batch` puts per transaction; returns the
   * number of distinct keys. In key order LMDB only appends at the right edge of its tree.
   */
  writeSorted(db: Database<Buffer, Buffer>, pairs: PairSorter, batch: number): number {
    const it = pairs.drain()
    let keys = 0
    let last: Buffer | null = null
    try {
      for (let done = false; !done;) {
        this.batch(() => {
          for (let n = 0; n < batch; n++) {
            const r = it.next()
            if (r.done) { done = true; return }
            const { key, value } = r.value
            if (!last || !last.equals(key)) { keys++; last = Buffer.from(key) }
            db.put(key, value)
          }
        })
      }
    } finally {
      it.return(undefined)
    }
    return keys
  }

  /** Empties `wal` and `ranges` (before the WAL pass is redone after a failed worker). */
  clearWal(): void {
    this.wal.clearSync()
    this.ranges.clearSync()
  }

  close(): void {
    void this.root.close()
  }
}
