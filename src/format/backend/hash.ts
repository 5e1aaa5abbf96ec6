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
import { DecodeError, InspectError } from '../../errors.js'
import { BoltFile, CORRUPT_HINT } from '../bbolt/file.js'
import { BUCKET_LEAF_FLAG } from '../bbolt/page.js'
import { bucket, buckets, iterate, type Entry } from '../bbolt/walk.js'
import { decodeRevision, encodeRevision } from './revision.js'
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
      if ((e.flags & BUCKET_LEAF_FLAG) === 0) hashValue(hasher, e)
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

/** Feeds a value to the hasher without loading a large one (read by position instead). */
function hashValue(hasher: Crc32cHasher, e: Entry): void {
  if (e.value.length === e.vsize) hasher.update(e.value)
  else if (e.vsize < RANGE_VALUE) hasher.update(e.page.slice(e.vpos, e.vsize, 'value'))
  else hasher.updateRange(e.page.offset + e.vpos, e.vsize)
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

/**
 * etcd's `HashKV` at a revision, offline: the `hash` `etcdctl endpoint hashkv --rev R` prints for
 * the member that owns this db (etcd 3.4 mvcc/kvstore.go `(*store).HashByRev`; 3.5
 * server/mvcc/kvstore.go, same rule). CRC-32C (Castagnoli) over the bucket name `key`, then, in
 * key (= revision) order, each revision key and its value with main revision <= R, except that a
 * revision at or below the compaction revision C is hashed only when it is in
 * `kvindex.Keep(R)`: the newest revision <= R of its user key, and not a tombstone (key_index.go
 * `keep`/`doCompact`). When Keep(R) is empty (no key alive at R) etcd skips that filter and every
 * stored revision <= C is hashed. etcd refuses R <= C (ErrCompacted) and R > current revision
 * (ErrFutureRev); the caller checks those.
 *
 * Keep(R) for a revision <= C: after a finished compaction each user key has at most one revision
 * <= C left in the db, so it is kept iff it is a put and its key has no revision in (C, R]. One
 * pass over (C, R] collects those keys in a fingerprint table (key-table.ts, 8-16 bytes per key),
 * a second pass over the few revisions <= C decides Keep, and the hash pass reads each value once.
 * Without revisions <= C (never compacted) only the hash pass runs.
 */
export function hashByRev(db: BoltFile, rev: bigint, compactRev: bigint, hasher: Crc32cHasher = serialHasher(db)): { hash: number | Promise<number>; revisions: number } {
  hasher.update(KEY_BUCKET)
  const kb = bucket(db, 'key')
  if (!kb) return { hash: hasher.digest(), revisions: 0 }
  const lower = compactRev > 0n ? compactRev : 0n
  let changed: KeyTable | null = null
  let keepEmpty = false
  const first = iterate(db, kb.bucket, { name: 'key', values: false }).next()
  if (!first.done && decodeRevision(first.value.key, db.file, first.value.pageOffset + first.value.at).main <= lower) {
    changed = new KeyTable()
    for (const e of iterate(db, kb.bucket, { name: 'key', values: false, start: encodeRevision(lower + 1n) })) {
      const r = decodeRevision(e.key, db.file, e.pageOffset + e.at)
      if (r.main > rev) break
      changed.set(mvccKey(e, db), r.tombstone)
    }
    if (changed.pending.length > 0) {
      throw new InspectError(`${db.file}: more than ${changed.distinct} distinct keys changed between the compaction revision ${compactRev} and revision ${rev}`,
        'too-many-keys', 'pick a revision closer to the compaction revision with --rev')
    }
    let kept = changed.live > 0
    if (!kept) {
      for (const e of iterate(db, kb.bucket, { name: 'key', values: false })) {
        const r = decodeRevision(e.key, db.file, e.pageOffset + e.at)
        if (r.main > lower) break
        if (!r.tombstone && !changed.has(mvccKey(e, db))) { kept = true; break }
      }
    }
    keepEmpty = !kept
  }
  let n = 0
  for (const e of iterate(db, kb.bucket, { name: 'key', values: false })) {
    const r = decodeRevision(e.key, db.file, e.pageOffset + e.at)
    if (r.main > rev) break
    if (r.main <= lower && changed && !keepEmpty && (r.tombstone || changed.has(mvccKey(e, db)))) continue
    hasher.update(e.key)
    hashValue(hasher, e)
    n++
  }
  changed?.release()
  return { hash: hasher.digest(), revisions: n }
}

const KEY_BUCKET = new TextEncoder().encode('key')
