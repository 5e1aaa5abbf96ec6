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
import { crc32cFast } from './crc32c-fast.js'
import { DecodeError } from '../../errors.js'
import { BoltFile, CORRUPT_HINT } from '../bbolt/file.js'
import { BUCKET_LEAF_FLAG } from '../bbolt/page.js'
import { buckets, iterate, type Entry } from '../bbolt/walk.js'
import { decodeRevision } from './revision.js'
import { keyValueKey } from './proto.js'
import { KeyTable, countKeys } from './key-table.js'
import type { BucketRoot } from '../bbolt/bucket.js'

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
 * Where the snapshot-status hash bytes go. `update` takes bytes in hand; `updateRange` takes a
 * value by its file position (large values are never loaded by the walk: the hasher reads them,
 * possibly on other threads). Bytes arrive in hash order; `digest` is the final CRC-32C.
 */
export interface Crc32cHasher {
  update(b: Uint8Array): void
  updateRange(offset: number, length: number): void
  digest(): number | Promise<number>
  /** Releases threads or buffers when the walk stops early. */
  close?(): void
}

/** The single-threaded hasher: ranges are read with positioned reads into one reused buffer. */
export function serialHasher(db: BoltFile): Crc32cHasher {
  let h = 0
  let scratch: Uint8Array | null = null
  return {
    update(b) { h = crc32cFast(h, b) },
    updateRange(offset, length) {
      scratch ??= new Uint8Array(Math.min(RANGE_CHUNK, Math.max(length, 4096)))
      for (let done = 0; done < length;) {
        const n = Math.min(scratch.length, length - done)
        const view = n === scratch.length ? scratch : scratch.subarray(0, n)
        if (db.src.readInto(offset + done, view) < n) {
          throw new DecodeError(db.file, offset + done, 'truncated', 'bbolt: file ends inside a value', CORRUPT_HINT)
        }
        h = crc32cFast(h, view)
        done += n
      }
    },
    digest: () => h >>> 0,
  }
}

/** Values at least this large are hashed through `updateRange` instead of being loaded. */
export const RANGE_VALUE = 64 << 10
const RANGE_CHUNK = 4 << 20

/**
 * Walks every bucket once: the snapshot-status hash and counts, and the key-bucket statistics.
 * Memory: the live-key count keeps a 63-bit fingerprint per distinct user key in typed arrays
 * (key-table.ts: 10–20 bytes per key, no key bytes, no JS object per key, at most 32 MiB: past
 * 1.6 million distinct keys the count takes further passes over the `key` bucket); values of 64 KiB and
 * more are never held (their first bytes are read for the mvcc key only).
 */
export function snapshotStatus(db: BoltFile, onProgress?: HashProgress, hasher: Crc32cHasher = serialHasher(db), opts: { maxKeySlots?: number } = {}): { status: Omit<SnapshotStatus, 'hash'> & { hash: number | Promise<number> }; keys: KeyStats } {
  let totalKey = 0
  let revision = 0n
  let done = 0
  const bucketKeys: Record<string, number> = {}
  const keys: KeyStats = { revisions: 0, tombstones: 0, firstRevision: 0n, lastRevision: 0n, liveKeys: 0, distinctKeys: 0 }
  // user key fingerprint -> newest revision is a tombstone
  const latest = new KeyTable({ maxSlots: opts.maxKeySlots })
  let keyBucket: BucketRoot | null = null
  for (const b of buckets(db)) {
    hasher.update(b.name)
    const isKey = b.nameText === 'key'
    if (isKey) keyBucket = b.bucket
    let n = 0
    for (const e of iterate(db, b.bucket, { name: b.nameText, values: false })) {
      hasher.update(e.key)
      // A sub-bucket entry reaches Go's ForEach with v == nil: only the key is hashed.
      const loaded = e.value.length === e.vsize
      if ((e.flags & BUCKET_LEAF_FLAG) === 0) {
        if (loaded) hasher.update(e.value)
        else if (e.vsize < RANGE_VALUE) hasher.update(e.page.slice(e.vpos, e.vsize, 'value'))
        else hasher.updateRange(e.page.offset + e.vpos, e.vsize)
      }
      n++
      if (isKey) {
        const r = decodeRevision(e.key, db.file, e.pageOffset + e.at)
        revision = r.main
        if (keys.revisions === 0) keys.firstRevision = r.main
        keys.revisions++
        if (r.tombstone) keys.tombstones++
        latest.set(mvccKey(e, db), r.tombstone)
      }
      if (onProgress) {
        done += e.key.length + e.vsize
        onProgress(done)
      }
    }
    bucketKeys[b.nameText] = n
    totalKey += n
  }
  keys.lastRevision = revision
  // More distinct keys than one bounded table holds: count the partitions it split off in further
  // passes over the `key` bucket (keys and the first bytes of values only).
  const kb = keyBucket
  const counted = countKeys((t) => {
    if (!kb) return
    for (const e of iterate(db, kb, { name: 'key', values: false })) t.set(mvccKey(e, db), e.key.length === 18)
  }, { first: latest, maxSlots: opts.maxKeySlots })
  keys.distinctKeys = counted.distinct
  keys.liveKeys = counted.live
  return { status: { hash: hasher.digest(), revision, totalKey, totalSize: db.dataSize, bucketKeys }, keys }
}

/** The mvcc key (KeyValue field 1) of a `key` bucket entry, reading only the value's first bytes. */
export function mvccKey(e: Entry, db: BoltFile): Uint8Array {
  if (e.value.length === e.vsize && e.vsize < RANGE_VALUE) return keyValueKey(e.value, db.file, e.page.offset + e.vpos)
  if (e.vsize < RANGE_VALUE) return keyValueKey(e.page.slice(e.vpos, e.vsize, 'value'), db.file, e.page.offset + e.vpos)
  // gogo marshals fields in order: key (field 1) first. Read the tag and length, then the key.
  const head = e.page.slice(e.vpos, Math.min(e.vsize, 16), 'value')
  if (head[0] !== 0x0a) return keyValueKey(e.page.slice(e.vpos, e.vsize, 'value'), db.file, e.page.offset + e.vpos)
  let len = 0
  let i = 1
  for (let shift = 0; i < head.length && shift < 35; shift += 7) {
    const b = head[i++]!
    len += (b & 0x7f) * 2 ** shift
    if (b < 0x80) break
  }
  if (i + len > e.vsize) return keyValueKey(e.page.slice(e.vpos, e.vsize, 'value'), db.file, e.page.offset + e.vpos)
  return e.page.slice(e.vpos + i, len, 'mvcc key')
}
