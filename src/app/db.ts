/**
 * Core functions of `etcd-inspect db …`: each opens the db read-only, works on one meta's view and
 * returns a plain result object. A running etcd keeps committing while we read (no lock is taken,
 * so nothing pins the pages of our view): every command re-reads the metas at the end and reports
 * when the txid moved; when the read failed *and* the txid moved, it retries on the new view
 * (up to 3 times) before giving up, since the failure was most likely a page reused underneath.
 */
import { DecodeError, InputError, UsageError } from '../errors.js'
import { BoltFile, SNAPSHOT_TRAILER } from '../format/bbolt/file.js'
import { checkDb, type CheckResult } from '../format/bbolt/check.js'
import { type Meta } from '../format/bbolt/meta.js'
import { PGID_NO_FREELIST } from '../format/bbolt/page.js'
import { bucket as findBucket, buckets as listBuckets, get, iterate } from '../format/bbolt/walk.js'
import { decodeEntry, parseKeyArg, type DecodedEntry } from '../format/backend/entry.js'
import { snapshotStatus, type KeyStats } from '../format/backend/hash.js'
import { readDetails, readSummary, type DbSummary, type SchemaDetails } from '../format/backend/schema.js'
import { compareBytes } from '../format/bbolt/element.js'
import type { BytesMode } from '../format/value.js'
import { openDb, verifyTrailer, type TrailerCheck } from '../io/bbolt-file.js'
import { hasTrailer } from './db-summary.js'

/** How the view held up while we read. */
export interface Liveness {
  /** txid of the meta we read. */
  txid: bigint
  /** txid bbolt would pick when we finished (null: metas unreadable at the end). */
  txidAtEnd: bigint | null
  /** True when the file moved on underneath (etcd committed while we read). */
  moved: boolean
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

/** Runs `fn` on one consistent meta view of the db at `path`. */
export function withDb<T>(path: string, fn: (db: BoltFile) => T): { db: DbFileInfo; result: T } {
  const maxRetries = 3
  for (let attempt = 0; ; attempt++) {
    const { loc, src } = openDb(path)
    try {
      const db = BoltFile.open(src, { file: loc.path })
      let result: T
      try {
        result = fn(db)
      } catch (e) {
        const now = e instanceof DecodeError ? db.rereadTxid() : null
        if (e instanceof DecodeError && now !== null && now !== db.meta.txid && attempt < maxRetries) continue
        if (e instanceof DecodeError && now !== null && now !== db.meta.txid) {
          throw new DecodeError(e.file, e.offset, e.code, `${e.detail} (the file changed underneath: txid ${db.meta.txid} -> ${now}, after ${attempt + 1} attempts)`,
            'etcd is writing to this db: take a consistent copy with `etcdctl snapshot save` and inspect that', e.extra)
        }
        throw e
      }
      const end = db.rereadTxid()
      return {
        result,
        db: {
          path: loc.path, pageSize: db.pageSize, pageSizeSource: db.pageSizeSource, fileSize: db.fileSize, dataSize: db.dataSize,
          metaIndex: db.meta.index, metaReason: db.choice.reason, txid: db.meta.txid,
          snapshotTrailer: { present: hasTrailer(db) },
          live: { txid: db.meta.txid, txidAtEnd: end, moved: end !== db.meta.txid, retries: attempt },
        },
      }
    } finally {
      src.close()
    }
  }
}

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
  limit?: number
  showValues?: boolean
  valueFormat?: Exclude<BytesMode, 'redacted'>
}

export interface DbKeysResult extends DbFileInfo {
  bucket: string
  entries: DecodedEntry[]
  /** True when --limit cut the listing. */
  more: boolean
}

function needBucket(f: BoltFile, name: string) {
  const b = findBucket(f, name)
  if (!b) {
    const names = listBuckets(f).map((x) => x.nameText).join(', ')
    throw new UsageError(`bucket ${JSON.stringify(name)} not found`, `buckets in this db: ${names || '(none)'}`)
  }
  return b
}

export function dbKeys(path: string, bucketName: string, opts: DbKeysOptions = {}): DbKeysResult {
  if (opts.limit !== undefined && (!Number.isInteger(opts.limit) || opts.limit < 0)) throw new UsageError(`--limit must be a non-negative integer`)
  const { db, result } = withDb(path, (f) => {
    const b = needBucket(f, bucketName)
    const prefix = opts.prefix !== undefined ? parsePrefix(opts.prefix, opts.hex) : undefined
    const entries: DecodedEntry[] = []
    let more = false
    const limit = opts.limit && opts.limit > 0 ? opts.limit : Infinity
    for (const e of iterate(f, b.bucket, { start: prefix, name: bucketName })) {
      if (prefix && !startsWith(e.key, prefix)) break
      if (entries.length >= limit) { more = true; break }
      entries.push(decodeEntry(bucketName, e, { ...opts, file: f.file }))
    }
    return { entries, more }
  })
  return { ...db, bucket: bucketName, ...result }
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

/** `db check`. */
export interface DbCheckResult extends DbFileInfo {
  check: CheckResult
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
  return { ...db, check: result.check }
}

/** A member as `db status` prints it (the JSON contract: `id` in hex). */
export interface StatusMember {
  id: string
  /** The same ID in decimal (exact). */
  idDecimal: bigint
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

export function dbStatus(path: string, onProgress?: (bytes: number) => void): DbStatusResult {
  const { db, result } = withDb(path, (f) => {
    const summary = readSummary(f)
    const details = readDetails(f)
    const { status, keys } = snapshotStatus(f, onProgress)
    const verified = hasTrailer(f) ? verifyTrailer(f.src, f.dataSize) : undefined
    return { summary, details, status, keys, verified }
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
    hashSemantics: 'etcd 3.4/3.5 `etcdctl snapshot status` (hash over every bucket, totalKey = all pairs in all buckets); keys.liveKeys is the 3.6 totalKey',
    members: s.members.map((m) => ({ id: m.idHex, idDecimal: m.id, name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs, isLearner: m.isLearner })),
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
