/**
 * One consistent view of a db file, the base of every `db …` command (app/db.ts) and of the commands
 * that read the db beside other things (history, index, compare, db space). A running etcd keeps
 * committing while we read (no lock is taken, so nothing pins the pages of our view). bbolt puts the
 * pages a commit T+1 replaces on a pending list and hands them out again at the earliest in commit
 * T+2 (db.go `freePages`), so a view read at txid T is intact as long as the txid at the end is at
 * most T+1: `withDb` re-reads the metas at the end and starts over on the new view (up to 3 times)
 * when it was not. Kept apart from app/db.ts so that a `history` answered from the index loads only
 * this, not the checker, hasher and walkers of the `db` commands.
 */
import { DecodeError } from '../errors.js'
import { BoltFile, hasSnapshotTrailer as hasTrailer } from '../format/bbolt/file.js'
import { openDb, type TrailerCheck } from '../io/bbolt-file.js'

/** How the view held up while we read. */
export interface Liveness {
  /** txid of the meta we read. */
  txid: bigint
  /** txid bbolt would pick when we finished (null: metas unreadable at the end). */
  txidAtEnd: bigint | null
  /** True when the file moved on underneath (etcd committed while we read). */
  moved: boolean
  /** True when no commit could have reused a page of our view (txid at the end <= txid + 1). */
  consistent: boolean
  /** Attempts that failed and were retried on a newer view. */
  retries: number
}

/** The file-level facts every db result carries. */
export interface DbFileInfo {
  /** Path of the db file. */
  path: string
  pageSize: number
  /** How the page size was discovered. */
  pageSizeSource: string
  fileSize: number
  /** pgid * pageSize. */
  dataSize: number
  /** Which meta is in use and why. */
  metaIndex: 0 | 1
  metaReason: string
  txid: bigint
  /** `etcdctl snapshot save` trailer: present (size % 512 == 32 and size == dataSize + 32), verified when the command reads the whole file. */
  snapshotTrailer: { present: boolean; verified?: TrailerCheck }
  live: Liveness
}

/** The file facts of a view, with how it held up (`end`: the txid bbolt would pick now). */
export function fileInfo(path: string, db: BoltFile, end: bigint | null, retries: number): DbFileInfo {
  const consistent = end !== null && end - db.meta.txid <= 1n && end >= db.meta.txid
  return {
    path, pageSize: db.pageSize, pageSizeSource: db.pageSizeSource, fileSize: db.fileSize, dataSize: db.dataSize,
    metaIndex: db.meta.index, metaReason: db.choice.reason, txid: db.meta.txid,
    snapshotTrailer: { present: hasTrailer(db) },
    live: { txid: db.meta.txid, txidAtEnd: end, moved: end !== db.meta.txid, consistent, retries },
  }
}

/** The DecodeError to throw when a read failed while the file moved underneath. */
export function movedError(e: DecodeError, db: BoltFile, now: bigint, how: string): DecodeError {
  return new DecodeError(e.file, e.offset, e.code, `${e.detail} (the file changed underneath: txid ${db.meta.txid} -> ${now}, ${how})`,
    'etcd is writing to this db: take a consistent copy with `etcdctl snapshot save` and inspect that', e.extra)
}

export const MAX_RETRIES = 3

/** Runs `fn` on one consistent meta view of the db at `path`. */
export function withDb<T>(path: string, fn: (db: BoltFile) => T): { db: DbFileInfo; result: T } {
  for (let attempt = 0; ; attempt++) {
    const { loc, src } = openDb(path)
    try {
      const db = BoltFile.open(src, { file: loc.path })
      let result: T
      try {
        result = fn(db)
      } catch (e) {
        const now = e instanceof DecodeError ? db.rereadTxid() : null
        if (e instanceof DecodeError && now !== null && now !== db.meta.txid && attempt < MAX_RETRIES) continue
        if (e instanceof DecodeError && now !== null && now !== db.meta.txid) throw movedError(e, db, now, `after ${attempt + 1} attempts`)
        throw e
      }
      const info = fileInfo(loc.path, db, db.rereadTxid(), attempt)
      if (!info.live.consistent && attempt < MAX_RETRIES) continue
      return { result, db: info }
    } finally {
      src.close()
    }
  }
}
