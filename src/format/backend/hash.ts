/**
 * The figures `etcdctl snapshot status` (3.4: etcdctl/ctlv3/command/snapshot_command.go; 3.5:
 * etcdutl/snapshot/v3_snapshot.go `Status`) prints, bit for bit:
 *   hash      CRC-32C over, for each top-level bucket in key order, the bucket name and then each
 *             key and value in key order (nothing skipped; a sub-bucket entry contributes its key)
 *   revision  `main` of the last key in the `key` bucket (a tombstone counts)
 *   totalKey  every key/value pair in every bucket (3.4/3.5; 3.6 counts live user keys instead)
 *   totalSize pgid * pageSize (no snapshot trailer)
 * One pass also collects the key-bucket statistics `db status` shows (revision range, tombstones,
 * live keys at the latest revision), so the file is read once.
 */
import { crc32cUpdate } from '../crc32c.js'
import { BoltFile } from '../bbolt/file.js'
import { BUCKET_LEAF_FLAG } from '../bbolt/page.js'
import { buckets, iterate } from '../bbolt/walk.js'
import { decodeRevision } from './revision.js'
import { keyValueKey } from './proto.js'

/** `etcdctl snapshot status -w json` figures (3.4/3.5 semantics) plus per-bucket counts. */
export interface SnapshotStatus {
  /** CRC-32C, unsigned. */
  hash: number
  /** Main revision of the last key in `key` (0 when the bucket is empty or missing). */
  revision: bigint
  /** Every k/v pair in every top-level bucket (3.4/3.5 `TotalKey`). */
  totalKey: number
  /** pgid * pageSize. */
  totalSize: number
  /** Pairs per bucket. */
  bucketKeys: Record<string, number>
}

/** Statistics of the `key` bucket. */
export interface KeyStats {
  /** Revision keys in the bucket (puts and tombstones). */
  revisions: number
  tombstones: number
  /** Lowest main revision present (0 when empty). */
  firstRevision: bigint
  /** Highest main revision present (0 when empty). */
  lastRevision: bigint
  /** Distinct user keys whose newest revision is not a tombstone (3.6 `TotalKey` semantics). */
  liveKeys: number
  /** Distinct user keys seen. */
  distinctKeys: number
}

/** Called for each value processed, with the bytes hashed so far (progress). */
export type HashProgress = (bytes: number) => void

/**
 * Walks every bucket once: the snapshot-status hash and counts, and the key-bucket statistics.
 * Memory: one entry per distinct user key (its bytes) for the live-key count.
 */
export function snapshotStatus(db: BoltFile, onProgress?: HashProgress): { status: SnapshotStatus; keys: KeyStats } {
  let h = 0
  let totalKey = 0
  let revision = 0n
  let done = 0
  const bucketKeys: Record<string, number> = {}
  const keys: KeyStats = { revisions: 0, tombstones: 0, firstRevision: 0n, lastRevision: 0n, liveKeys: 0, distinctKeys: 0 }
  // user key (latin1) -> newest revision is a tombstone
  const latest = new Map<string, boolean>()
  for (const b of buckets(db)) {
    h = crc32cUpdate(h, b.name)
    const isKey = b.nameText === 'key'
    let n = 0
    for (const e of iterate(db, b.bucket, { name: b.nameText })) {
      h = crc32cUpdate(h, e.key)
      // A sub-bucket entry reaches Go's ForEach with v == nil: only the key is hashed.
      if ((e.flags & BUCKET_LEAF_FLAG) === 0) h = crc32cUpdate(h, e.value)
      n++
      if (isKey) {
        const r = decodeRevision(e.key, db.file, e.pageOffset + e.at)
        revision = r.main
        if (keys.revisions === 0) keys.firstRevision = r.main
        keys.revisions++
        if (r.tombstone) keys.tombstones++
        const k = Buffer.from(keyValueKey(e.value, db.file, e.pageOffset)).toString('latin1')
        latest.set(k, r.tombstone)
      }
      if (onProgress) {
        done += e.key.length + e.value.length
        onProgress(done)
      }
    }
    bucketKeys[b.nameText] = n
    totalKey += n
  }
  keys.lastRevision = revision
  keys.distinctKeys = latest.size
  for (const t of latest.values()) if (!t) keys.liveKeys++
  return { status: { hash: h >>> 0, revision, totalKey, totalSize: db.dataSize, bucketKeys }, keys }
}
