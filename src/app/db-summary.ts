/**
 * The fast library entry point other commands use (`status`, `check`): open a db read-only, pick
 * the meta, decode etcd's schema summary, without touching every key. Reads a handful of pages.
 */
import { BoltFile, SNAPSHOT_TRAILER } from '../format/bbolt/file.js'
import { readSummary, type DbSummary } from '../format/backend/schema.js'
import { openDb } from '../io/bbolt-file.js'

/** A summary of one db file, everything 64-bit as bigint. */
export interface DbFileSummary extends DbSummary {
  /** Path of the db file read. */
  path: string
  pageSize: number
  /** txid of the meta in use. */
  txid: bigint
  /** Which meta (0 or 1) is in use. */
  metaIndex: 0 | 1
  /** Why that meta. */
  metaReason: string
  /** High-water mark (pages). */
  pgid: bigint
  /** File size in bytes. */
  size: number
  /** pgid * pageSize: etcd's db size (`endpoint status` dbSize, snapshot status totalSize). */
  dataSize: number
  /** True when the file ends with a 32-byte `snapshot save` trailer (not verified here). */
  hasSnapshotTrailer: boolean
}

/** Reads the summary of the db in `path` (a data dir or the db file). */
export function readDbSummary(path: string): DbFileSummary {
  const { loc, src } = openDb(path)
  try {
    const db = BoltFile.open(src, { file: loc.path })
    return { ...summarizeOpen(db), path: loc.path }
  } finally {
    src.close()
  }
}

/** Summary of an already opened file. */
export function summarizeOpen(db: BoltFile): Omit<DbFileSummary, 'path'> {
  const s = readSummary(db)
  return {
    ...s,
    pageSize: db.pageSize,
    txid: db.meta.txid,
    metaIndex: db.meta.index,
    metaReason: db.choice.reason,
    pgid: db.meta.pgid,
    size: db.fileSize,
    dataSize: db.dataSize,
    hasSnapshotTrailer: hasTrailer(db),
  }
}

/** etcd's `hasChecksum(n) = n % 512 == 32`, plus the exact size bbolt wrote. */
export function hasTrailer(db: BoltFile): boolean {
  return db.fileSize % 512 === SNAPSHOT_TRAILER && db.fileSize === db.dataSize + SNAPSHOT_TRAILER
}
