/**
 * Core functions of `etcd-inspect db …`: each opens the db read-only, works on one meta's view and
 * returns a plain result object. Each reads one consistent view of a file etcd may be writing to
 * (app/db-view.ts: why a view at txid T holds while the txid at the end is at most T+1, and the
 * retries when it is not).
 */
import { DecodeError, InputError, UsageError } from '../errors.js'
import { BoltFile, SNAPSHOT_TRAILER, hasSnapshotTrailer as hasTrailer } from '../format/bbolt/file.js'
import { checkDb, type CheckFinding, type CheckResult } from '../format/bbolt/check.js'
import { type Meta } from '../format/bbolt/meta.js'
import { PGID_NO_FREELIST } from '../format/bbolt/page.js'
import { bucket as findBucket, buckets as listBuckets, get, iterate } from '../format/bbolt/walk.js'
import { decodeEntry, parseKeyArg, type DecodedEntry } from '../format/backend/entry.js'
import { snapshotStatus, type KeyStats } from '../format/backend/hash.js'
import { readDetails, readSummary, type DbSummary, type SchemaDetails } from '../format/backend/schema.js'
import { compareBytes } from '../format/bbolt/element.js'
import type { BytesMode } from '../format/value.js'
import { openDb, verifyTrailer } from '../io/bbolt-file.js'
import { fileInfo, movedError, withDb, MAX_RETRIES, type DbFileInfo } from './db-view.js'
import { createHasher } from './crc-pool.js'

export { withDb, type DbFileInfo, type Liveness } from './db-view.js'

/** A meta page as shown by `db` (info). */
export interface MetaView {
  index: 0 | 1
  valid: boolean
  error?: { code: string; detail: string }
  pageId: bigint
  magic: string
  version: number
  pageSize: number
  flags: number
  root: bigint
  sequence: bigint
  /** pgid, or null when not persisted (0xFFFFFFFFFFFFFFFF). */
  freelist: bigint | null
  pgid: bigint
  txid: bigint
  checksum: string
  computedChecksum: string
}

function metaView(m: Meta): MetaView {
  const hex = (v: bigint): string => v.toString(16).padStart(16, '0')
  return {
    index: m.index, valid: m.error === null, ...(m.error ? { error: m.error } : {}), pageId: m.pageId,
    magic: m.magic.toString(16).padStart(8, '0'), version: m.version, pageSize: m.pageSize, flags: m.flags,
    root: m.root, sequence: m.sequence, freelist: m.freelist === PGID_NO_FREELIST ? null : m.freelist,
    pgid: m.pgid, txid: m.txid, checksum: hex(m.checksum), computedChecksum: hex(m.computedChecksum),
  }
}

/** `db <path>`: both metas, the choice, and the fast etcd summary. */
export interface DbInfoResult extends DbFileInfo {
  metas: MetaView[]
  summary: DbSummary
}

export function dbInfo(path: string): DbInfoResult {
  const { db, result } = withDb(path, (f) => ({ metas: f.choice.metas.map(metaView), summary: readSummary(f) }))
  return { ...db, ...result }
}

/** `db buckets`: one row per top-level bucket with bbolt-stats-like figures. */
export interface DbBucketsResult extends DbFileInfo {
  buckets: CheckResult['buckets']
  /** Structural problems met while walking (see `db check` for the list). */
  problems: number
}

export function dbBuckets(path: string): DbBucketsResult {
  const { db, result } = withDb(path, (f) => {
    const r = checkDb(f)
    return { buckets: r.buckets, problems: r.errors }
  })
  return { ...db, ...result }
}

/** Options of `db keys`. */
export interface DbKeysOptions {
  prefix?: string
  /** Prefix given as hex. */
  hex?: boolean
  /** At most this many entries (default 1000; 0 = all). */
  limit?: number
  showValues?: boolean
  valueFormat?: Exclude<BytesMode, 'redacted'>
}

/** `db keys` lists at most this many entries unless --limit says otherwise (0 = all). */
export const DEFAULT_KEYS_LIMIT = 1000

export interface DbKeysResult extends DbFileInfo {
  bucket: string
  entries: DecodedEntry[]
  /** True when --limit cut the listing. */
  more: boolean
}

/** Buckets every etcd backend holds from 3.0 on (mvcc `key`, `meta` with the consistent index). */
const ALWAYS_CREATED = ['key', 'meta']
/** `db check` codes about free-page accounting only. */
const FREELIST_ONLY = new Set(['unreachable-unfreed', 'already-freed', 'freed-out-of-bounds', 'reachable-freed'])
/** etcd's top-level buckets (server/storage/schema/bucket.go). */
const ETCD_BUCKETS = ['key', 'meta', 'lease', 'alarm', 'cluster', 'members', 'members_removed', 'auth', 'authUsers', 'authRoles']

/**
 * The named top-level bucket. Missing, it is an input error (exit 3: the argument does not fit
 * this file), unless the structural check finds damage: then the damage may be what hides it,
 * and that is corruption (exit 4) named with its file and byte offset.
 */
function needBucket(f: BoltFile, name: string) {
  let b: ReturnType<typeof findBucket>
  let names: string
  try {
    b = findBucket(f, name)
    names = b ? '' : listBuckets(f).map((x) => x.nameText).join(', ')
  } catch (e) {
    if (!(e instanceof DecodeError)) throw e
    throw new DecodeError(e.file, e.offset, e.code, `${e.detail} (while looking up bucket ${JSON.stringify(name)})`,
      e.hint ?? `run etcd-inspect db check ${f.file}; restore the db from a good copy or replace the member`, e.extra)
  }
  if (!b) {
    // Only damage in the trees can hide a bucket; freelist accounting errors cannot.
    const check = checkDb(f, { maxFindings: 100, trailerBytes: hasTrailer(f) ? SNAPSHOT_TRAILER : 0 })
    const first = check.findings.find((x) => x.severity === 'error' && !FREELIST_ONLY.has(x.code) && !x.detail.includes('freelist'))
    if (first) {
      const offset = first.offset ?? (first.pgid !== undefined ? Number(first.pgid) * f.pageSize : 0)
      throw new DecodeError(f.file, offset, first.code, `bucket ${JSON.stringify(name)} not found and the db's trees are damaged (${first.detail}): the damage may hide it`,
        `run etcd-inspect db check ${f.file}; restore the db from a good copy or replace the member`)
    }
    const present = names!.split(', ')
    if (ALWAYS_CREATED.includes(name) && present.some((n) => ETCD_BUCKETS.includes(n))) {
      // etcd creates `key` and `meta` in every db it opens (3.0 on): an etcd db without one lost it.
      throw new DecodeError(f.file, Number(f.meta.root) * f.pageSize, 'missing-bucket',
        `bucket ${JSON.stringify(name)} not found, yet this is an etcd db (it holds ${present.filter((n) => ETCD_BUCKETS.includes(n)).join(', ')}) and etcd creates ${JSON.stringify(name)} in every db: the root bucket is damaged or truncated`,
        `run etcd-inspect db check ${f.file}; restore the db from a good copy or replace the member`)
    }
    throw new InputError(`${f.file}: bucket ${JSON.stringify(name)} not found (buckets in this db: ${names! || '(none)'})`, f.file, 'bucket-not-found',
      `list the buckets with \`etcd-inspect db buckets ${f.file}\``)
  }
  return b
}

/** The entries `db keys` lists, decoded one at a time in key order (nothing is collected). */
function* keyEntries(f: BoltFile, bucketName: string, opts: DbKeysOptions): Generator<DecodedEntry, { more: boolean }> {
  const b = needBucket(f, bucketName)
  const prefix = opts.prefix !== undefined ? parsePrefix(opts.prefix, opts.hex) : undefined
  const limit = opts.limit === undefined ? DEFAULT_KEYS_LIMIT : opts.limit > 0 ? opts.limit : Infinity
  let n = 0
  for (const e of iterate(f, b.bucket, { start: prefix, name: bucketName })) {
    if (prefix && !startsWith(e.key, prefix)) break
    if (n >= limit) return { more: true }
    n++
    yield decodeEntry(bucketName, e, { ...opts, file: f.file })
  }
  return { more: false }
}

function checkLimit(opts: DbKeysOptions): void {
  if (opts.limit !== undefined && (!Number.isInteger(opts.limit) || opts.limit < 0)) throw new UsageError(`--limit must be a non-negative integer`)
}

export function dbKeys(path: string, bucketName: string, opts: DbKeysOptions = {}): DbKeysResult {
  checkLimit(opts)
  const { db, result } = withDb(path, (f) => {
    const entries: DecodedEntry[] = []
    const it = keyEntries(f, bucketName, opts)
    for (let r = it.next(); ; r = it.next()) {
      if (r.done) return { entries, more: r.value.more }
      entries.push(r.value)
    }
  })
  return { ...db, bucket: bucketName, ...result }
}

/** What `streamDbKeys` returns once every entry went to `emit`. */
export interface DbKeysStreamResult extends DbFileInfo {
  bucket: string
  /** Entries emitted. */
  count: number
  /** True when --limit cut the listing. */
  more: boolean
}

/**
 * `db keys` as a stream (`-w ndjson`/`simple` with any --limit): each entry is decoded and handed to
 * `emit` in key order, and a promise `emit` returns (a full output buffer) is awaited before the
 * next page is read, so memory stays flat however many keys the bucket holds. Entries already
 * emitted cannot be taken back: the view is retried on a newer txid only while nothing has been
 * emitted; after that a read error while the file moved is thrown, and a view that did not hold
 * (`live.consistent: false`) is reported in the result for the caller to warn about.
 */
export async function streamDbKeys(path: string, bucketName: string, opts: DbKeysOptions,
  emit: (e: DecodedEntry) => void | Promise<void>): Promise<DbKeysStreamResult> {
  checkLimit(opts)
  for (let attempt = 0; ; attempt++) {
    const { loc, src } = openDb(path)
    let count = 0
    try {
      const db = BoltFile.open(src, { file: loc.path })
      let more: boolean
      try {
        const it = keyEntries(db, bucketName, opts)
        for (let r = it.next(); ; r = it.next()) {
          if (r.done) { more = r.value.more; break }
          count++
          const p = emit(r.value)
          if (p) await p
        }
      } catch (e) {
        const now = e instanceof DecodeError ? db.rereadTxid() : null
        if (e instanceof DecodeError && now !== null && now !== db.meta.txid) {
          if (count === 0 && attempt < MAX_RETRIES) continue
          throw movedError(e, db, now, count === 0 ? `after ${attempt + 1} attempts` : `after ${count} entries were written`)
        }
        throw e
      }
      const info = fileInfo(loc.path, db, db.rereadTxid(), attempt)
      if (!info.live.consistent && count === 0 && attempt < MAX_RETRIES) continue
      return { ...info, bucket: bucketName, count, more }
    } finally {
      src.close()
    }
  }
}

function parsePrefix(p: string, hex?: boolean): Uint8Array {
  if (hex) {
    if (!/^([0-9a-fA-F]{2})*$/.test(p.replace(/^0x/i, ''))) throw new UsageError(`--prefix ${JSON.stringify(p)} is not hex`)
    return Uint8Array.from(Buffer.from(p.replace(/^0x/i, ''), 'hex'))
  }
  return Uint8Array.from(Buffer.from(p, 'utf8'))
}

function startsWith(k: Uint8Array, p: Uint8Array): boolean {
  return k.length >= p.length && compareBytes(k.subarray(0, p.length), p) === 0
}

export interface DbGetResult extends DbFileInfo {
  bucket: string
  entry: DecodedEntry
}

export function dbGet(path: string, bucketName: string, key: string, opts: Omit<DbKeysOptions, 'prefix' | 'limit'> = {}): DbGetResult {
  const { db, result } = withDb(path, (f) => {
    const b = needBucket(f, bucketName)
    const k = parseKeyArg(bucketName, key, opts.hex)
    if (!k) throw new UsageError(`key ${JSON.stringify(key)} is not valid hex`)
    const e = get(f, b.bucket, k)
    if (!e) {
      throw new InputError(`key ${JSON.stringify(key)} not found in bucket ${JSON.stringify(bucketName)}`, f.file, 'key-not-found',
        `list the keys with \`etcd-inspect db keys ${f.file} ${bucketName}\``)
    }
    return decodeEntry(bucketName, e, { ...opts, file: f.file })
  })
  return { ...db, bucket: bucketName, entry: result }
}

/** A `db check` finding, always with the file and the byte offset it is about (pgid * page size when the check named a page). */
export type DbCheckFinding = CheckFinding & { file: string; offset: number }

/** `db check`. */
export interface DbCheckResult extends DbFileInfo {
  check: Omit<CheckResult, 'findings'> & { findings: DbCheckFinding[] }
}

export function dbCheck(path: string): DbCheckResult {
  const { db, result } = withDb(path, (f) => {
    const trailer = hasTrailer(f)
    const check = checkDb(f, { trailerBytes: trailer ? SNAPSHOT_TRAILER : 0 })
    const verified = trailer ? verifyTrailer(f.src, f.dataSize) : undefined
    if (verified && !verified.ok) {
      check.ok = false
      check.errors++
      check.findings.push({ severity: 'error', code: 'bad-snapshot-hash', offset: f.dataSize,
        detail: `snapshot trailer: stored sha256 ${verified.stored} does not match computed ${verified.computed}` })
    }
    return { check, verified }
  })
  db.snapshotTrailer.verified = result.verified
  const findings = result.check.findings.map((f) => ({ ...f, file: db.path, offset: f.offset ?? (f.pgid !== undefined ? Number(f.pgid) * db.pageSize : 0) }))
  return { ...db, check: { ...result.check, findings } }
}

/** A member as `db status` prints it (the JSON contract: `id` in etcdctl hex). */
export interface StatusMember {
  id: string
  name: string
  peerURLs: string[]
  clientURLs: string[]
  isLearner: boolean
}

/** `db status`. The first fields are the documented JSON contract. */
export interface DbStatusResult extends DbFileInfo {
  /** etcdctl snapshot status `revision`: main of the last key in `key`. */
  revision: bigint
  /** meta/finishedCompactRev. */
  compactRevision: bigint
  scheduledCompactRevision: bigint
  consistentIndex: bigint
  /** meta/term (3.5+); null in a 3.4 db. */
  term: bigint | null
  /** etcdctl snapshot status `hash` (CRC-32C, unsigned). */
  hash: number
  /** etcdctl snapshot status `totalKey` (3.4/3.5: every pair in every bucket). */
  totalKey: number
  /** etcdctl snapshot status `totalSize` (pgid * pageSize). */
  totalSize: number
  /** Which etcd version's semantics hash/totalKey follow. */
  hashSemantics: string
  /** Worker threads used for the hash (0 = computed on the main thread). */
  hashThreads: number
  members: StatusMember[]
  removedMembers: string[]
  confState: DbSummary['confState'] | null
  storageVersion: string | null
  clusterVersion: string | null
  schemaVersion: string
  keys: KeyStats
  bucketKeys: Record<string, number>
  leases: SchemaDetails['leases']
  auth: SchemaDetails['auth']
  alarms: SchemaDetails['alarms']
  downgrade: string | null
}

/** `threads`: hash worker threads (default: by db size and CPUs); `maxKeySlots`: bound of the live-key table (tests). */
export function dbStatus(path: string, onProgress?: (bytes: number) => void, opts: { threads?: number; maxKeySlots?: number } = {}): DbStatusResult {
  const { db, result } = withDb(path, (f) => {
    const summary = readSummary(f)
    const details = readDetails(f)
    const { hasher, threads } = createHasher(f, opts.threads)
    let st
    try {
      st = snapshotStatus(f, onProgress, hasher, { maxKeySlots: opts.maxKeySlots })
    } catch (e) {
      hasher.close?.()
      throw e
    }
    const status = { ...st.status, hash: st.status.hash as number }
    const keys = st.keys
    const verified = hasTrailer(f) ? verifyTrailer(f.src, f.dataSize) : undefined
    return { summary, details, status, keys, verified, threads }
  })
  const { summary: s, details: d, status, keys } = result
  db.snapshotTrailer.verified = result.verified
  return {
    ...db,
    revision: status.revision,
    compactRevision: s.compactRevision,
    scheduledCompactRevision: s.scheduledCompactRevision,
    consistentIndex: s.consistentIndex,
    term: s.term ?? null,
    hash: status.hash,
    totalKey: status.totalKey,
    totalSize: status.totalSize,
    hashThreads: result.threads,
    hashSemantics: 'etcd 3.4/3.5 `etcdctl snapshot status` (hash over every bucket, totalKey = all pairs in all buckets); keys.liveKeys is the 3.6 totalKey',
    members: s.members.map((m) => ({ id: m.idHex, name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs, isLearner: m.isLearner })),
    removedMembers: s.removedMembers.map((r) => r.idHex),
    confState: s.confState ?? null,
    storageVersion: s.storageVersion ?? null,
    clusterVersion: s.clusterVersion ?? null,
    schemaVersion: s.schemaVersion,
    keys,
    bucketKeys: status.bucketKeys,
    leases: d.leases,
    auth: d.auth,
    alarms: d.alarms,
    downgrade: d.downgrade ?? null,
  }
}
