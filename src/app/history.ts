/**
 * `etcd-inspect history <dir> <key> [--prefix]` and `db get <dir> key <key> --rev R`: what happened
 * to a key. The db's `key` bucket holds every revision since the last compaction (mvcc
 * kvstore.go: `BE64(main)_BE64(sub)[t]` -> mvccpb.KeyValue); the WAL holds the raft entries that
 * made them, as far back as the WAL still holds them (etcdserverpb.InternalRaftRequest: Put, DeleteRange, Txn with its header's ID and
 * username). Neither records the other's coordinates, so they are joined by content, newest first
 * (the WAL covers the recent end of the history): a put matches the newest unmatched revision of
 * the key with the same value and lease, a delete the newest unmatched tombstone. A request
 * without a revision had no effect on the key here (a txn branch not taken, a delete of nothing,
 * a revision compacted away) or is not applied to the db yet (index above its consistent index).
 *
 * Revisions come from the LMDB index (app/index-query.ts) when it is fresh for this db, else from
 * one scan of the `key` bucket; WAL requests from the index's key -> entry offsets, else one pass
 * over the WAL (both scans in app/history-scan.ts).
 */
import { InputError, UsageError } from '../errors.js'
import type { BoltFile } from '../format/bbolt/file.js'
import { compareBytes, leafElements } from '../format/bbolt/element.js'
import { bucket as findBucket, get, type Entry } from '../format/bbolt/walk.js'
import { PageFlag } from '../format/bbolt/page.js'
import { decodeKeyValue, type KeyValue } from '../format/backend/proto.js'
import { encodeRevision, type Revision } from '../format/backend/revision.js'
import { readSummary, type DbSummary } from '../format/backend/schema.js'
import { idHex } from '../format/ids.js'
import { classifyValue, valueClassLabel } from '../format/k8s/value.js'
import type { DecodedEntry, RequestHeader, RequestOp } from '../format/raft/entry.js'
import type { WalReadEnd } from '../format/wal/findings.js'
import { formatBytes, type BytesMode, type FormattedBytes } from '../format/value.js'
import { sha256Prefix } from '../format/digest.js'
import { withDb, type DbFileInfo } from './db-view.js'

/** Which keys a query is about: one key, or every key with a prefix. */
export interface KeyQuery {
  key: Uint8Array
  prefix: boolean
}

export function matchesKey(q: KeyQuery, k: Uint8Array): boolean {
  if (!q.prefix) return k.length === q.key.length && compareBytes(k, q.key) === 0
  return k.length >= q.key.length && compareBytes(k.subarray(0, q.key.length), q.key) === 0
}

/** True when the range [key, rangeEnd) of a DeleteRange (etcd semantics) touches the query. */
export function rangeTouches(q: KeyQuery, key: Uint8Array, rangeEnd: Uint8Array | undefined): boolean {
  if (!rangeEnd || rangeEnd.length === 0) return matchesKey(q, key)
  const fromKey = rangeEnd.length === 1 && rangeEnd[0] === 0
  if (!q.prefix) return compareBytes(q.key, key) >= 0 && (fromKey || compareBytes(q.key, rangeEnd) < 0)
  // Prefix: the ranges [key, rangeEnd) and [prefix, prefixEnd) intersect.
  const end = prefixEnd(q.key)
  const startsBeforeQEnd = end === null || compareBytes(key, end) < 0
  const endsAfterQStart = fromKey || compareBytes(rangeEnd, q.key) > 0
  return startsBeforeQEnd && endsAfterQStart
}

/** The first key after every key with prefix p (etcd's GetPrefixRangeEnd), null when none (all 0xff). */
export function prefixEnd(p: Uint8Array): Uint8Array | null {
  const e = Uint8Array.from(p)
  for (let i = e.length - 1; i >= 0; i--) {
    if (e[i]! < 0xff) { e[i]!++; return e.subarray(0, i + 1) }
  }
  return null
}

/** One revision of a key as the db holds it. */
export interface HistoryRevision {
  /** `main_sub` with `t` for a tombstone. */
  revision: string
  main: bigint
  sub: bigint
  tombstone: boolean
  createRevision: bigint
  modRevision: bigint
  version: bigint
  /** Lease ID in etcdctl hex (0: none). */
  lease: string
  value: FormattedBytes
  /** First 16 hex digits of the value's SHA-256 (also when redacted). */
  valueSha256: string
  /** Value class, e.g. `k8s v1/Pod default/pi` or `text` (never the value itself). */
  valueClass: string
}

/** One request of the WAL that touched the key. */
export interface HistoryWalRequest {
  index: bigint
  term: bigint
  /** WAL file (relative to the data dir) and offset of the record's length word. */
  file: string
  offset: number
  /** put | deleteRange (the operation on this key). */
  op: 'put' | 'deleteRange'
  /** The request: put, deleteRange or txn. */
  request: 'put' | 'deleteRange' | 'txn'
  /** For a txn: which branch and which operation in it (0-based), and the sizes. */
  txn?: { branch: 'success' | 'failure'; op: number; compares: number; success: number; failure: number }
  /** InternalRaftRequest header: request ID (hex) and auth user, where present. */
  requestId?: string
  username?: string
  /** Put: the value (redacted unless --show-values) and its SHA-256 prefix, the lease (hex). */
  value?: FormattedBytes
  valueSha256?: string
  lease?: string
  /** DeleteRange: the end of the range (absent: one key). */
  rangeEnd?: FormattedBytes
  /** The entry's index is at or below the db's consistent index. */
  applied: boolean
  /** The entry is at or below the HardState commit. */
  committed: boolean
  /** At or below the newest WAL snapshot record: etcd would not replay it (the WAL still holds it). */
  beforeSnapshot?: true
}

/** One line of the history: a revision, a WAL request, or both when they were joined. */
export interface HistoryEvent {
  key: FormattedBytes
  revision?: HistoryRevision
  wal?: HistoryWalRequest
  /** What the WAL request did, when it has no revision. */
  note?: string
}

export interface HistoryOptions {
  prefix?: boolean
  /** The key argument is hex. */
  hex?: boolean
  showValues?: boolean
  valueFormat?: Exclude<BytesMode, 'redacted'>
  /** At most this many db revisions (default 1000; 0 = all). */
  limit?: number
  walDir?: string
  /** Skip the WAL join. */
  noWal?: boolean
  /** Index location (see app/index.ts) and whether to use it. */
  stateDir?: string
  noIndex?: boolean
}

export interface HistoryResult extends DbFileInfo {
  key: FormattedBytes
  prefix: boolean
  /** The db's revision, compaction and consistent index. */
  revision: bigint
  compactRevision: bigint
  consistentIndex: bigint
  /** Where the revisions came from. */
  source: 'index' | 'scan'
  /** The WAL read (null: no WAL next to the db, or --no-wal). */
  wal: { dir: string; source: 'index' | 'scan'; snapshotIndex: bigint; firstIndex?: bigint; lastIndex?: bigint; commit?: bigint; requests: number } & WalReadEnd | null
  /** Oldest first. */
  events: HistoryEvent[]
  /** The revision limit cut the list. */
  more: boolean
  notes: string[]
  /** Time spent answering, in ms (without process start). */
  elapsedMs: number
}

export const DEFAULT_HISTORY_LIMIT = 1000

/** The note `history` prints about a WAL that was not read to its end cleanly. */
export function walEndNote(w: WalReadEnd): string | null {
  if (w.end === 'clean') return null
  const first = w.problems.find((p) => p.severity === 'error') ?? w.problems[0]
  const at = first ? ` at ${first.file}@${first.offset} (${first.code}: ${first.detail})` : ''
  return w.end === 'torn-tail'
    ? `the WAL ends in a torn write${at}, the normal end of a crashed segment: requests after it never reached the disk`
    : `the WAL is corrupt${at}: it was read up to the damage, so WAL requests after that point are missing from this history (the db's revisions are complete); etcd-inspect wal verify <dir> shows the damage`
}

/** Parses the key argument (text, or hex with --hex / a `0x` prefix). */
export function parseUserKey(arg: string, hex?: boolean): Uint8Array {
  if (hex || /^0x([0-9a-fA-F]{2})+$/.test(arg)) {
    const h = arg.replace(/^0x/i, '')
    if (!/^([0-9a-fA-F]{2})*$/.test(h)) throw new UsageError(`key ${JSON.stringify(arg)} is not hex`)
    return Uint8Array.from(Buffer.from(h, 'hex'))
  }
  return Uint8Array.from(Buffer.from(arg, 'utf8'))
}

/** A revision of a matching key: the revision key and the decoded KeyValue. */
export interface FoundRevision { rev: Revision; kv: KeyValue }

/**
 * Reads the given revision keys (from the index) in the order given: on the leaf page the index
 * recorded (valid while the db is the one it was built from), else by a lookup from the root.
 */
export function* lookupRevisions(f: BoltFile, revs: Iterable<Revision & { pgid?: bigint }>): Generator<FoundRevision> {
  const b = findBucket(f, 'key')
  if (!b) return
  for (const r of revs) {
    const k = encodeRevision(r.main, r.sub, r.tombstone)
    let e: Entry | null = null
    if (r.pgid !== undefined && r.pgid >= 2n && r.pgid < BigInt(f.hwm)) {
      const page = f.page(r.pgid, [PageFlag.Leaf], 'the history index')
      const el = leafElements(page).find((x) => compareBytes(x.key, k) === 0)
      if (el) e = Object.assign(el, { pgid: page.id, pageOffset: page.offset, page })
    }
    e ??= get(f, b.bucket, k)
    if (!e) throw new InputError(`${f.file}: revision ${r.main}_${r.sub} from the index is not in the db`, f.file, 'stale-index', 'rebuild the index: etcd-inspect index <dir>')
    yield { rev: r, kv: decodeKeyValue(e.value, f.file, e.pageOffset + e.at) }
  }
}

function revisionOut(x: FoundRevision, mode: BytesMode): HistoryRevision {
  const { rev, kv } = x
  return {
    revision: `${rev.main}_${rev.sub}${rev.tombstone ? 't' : ''}`, main: rev.main, sub: rev.sub, tombstone: rev.tombstone,
    createRevision: kv.createRevision, modRevision: kv.modRevision, version: kv.version, lease: idHex(kv.lease),
    value: formatBytes(kv.value, mode), valueSha256: sha256Prefix(kv.value), valueClass: rev.tombstone ? 'tombstone' : valueClassLabel(classifyValue(kv.value)),
  }
}

/** A WAL request touching the query, with the key it touched (one per key and operation). */
export interface FoundRequest { key: Uint8Array; out: HistoryWalRequest; value?: Uint8Array; leaseId?: bigint }

/**
 * The operations of one decoded entry that touch the query. A DeleteRange over a range is reported
 * once per key the db shows it deleted (the caller passes `keysInDb`), or under its start key.
 */
export function requestsIn(d: Pick<DecodedEntry, 'index' | 'term' | 'payload'>, at: { file: string; offset: number }, q: KeyQuery,
  ctx: { mode: BytesMode; consistentIndex: bigint; commit?: bigint; keysInDb: Iterable<Uint8Array> }): FoundRequest[] {
  const p = d.payload
  if (p.kind !== 'irr') return []
  const r = p.request
  if (r.kind !== 'put' && r.kind !== 'deleteRange' && r.kind !== 'txn') return []
  const out: FoundRequest[] = []
  const base = (h: RequestHeader | undefined) => ({
    index: d.index, term: d.term, file: at.file, offset: at.offset,
    ...(h?.id !== undefined ? { requestId: idHex(h.id) } : {}), ...(h?.username ? { username: h.username } : {}),
    applied: d.index <= ctx.consistentIndex, committed: ctx.commit !== undefined && d.index <= ctx.commit,
  })
  const visit = (op: RequestOp, request: HistoryWalRequest['request'], txn?: HistoryWalRequest['txn']): void => {
    if (op.kind === 'put' && matchesKey(q, op.key)) {
      out.push({ key: op.key, value: op.value, leaseId: op.lease, out: {
        ...base(p.header), op: 'put', request, ...(txn ? { txn } : {}),
        value: formatBytes(op.value, ctx.mode), valueSha256: sha256Prefix(op.value), lease: idHex(op.lease) } })
    } else if (op.kind === 'deleteRange' && rangeTouches(q, op.key, op.rangeEnd)) {
      const single = !op.rangeEnd || op.rangeEnd.length === 0
      const keys = single ? [op.key] : [...ctx.keysInDb].filter((k) => inRange(k, op.key, op.rangeEnd!))
      for (const k of keys.length ? keys : [op.key]) {
        out.push({ key: k, out: { ...base(p.header), op: 'deleteRange', request, ...(txn ? { txn } : {}),
          ...(single ? {} : { rangeEnd: formatBytes(op.rangeEnd!, 'auto') }) } })
      }
    } else if (op.kind === 'txn') {
      const sizes = { compares: op.compare.length, success: op.success.length, failure: op.failure.length }
      op.success.forEach((o, i) => visit(o, 'txn', { branch: 'success', op: i, ...sizes }))
      op.failure.forEach((o, i) => visit(o, 'txn', { branch: 'failure', op: i, ...sizes }))
    }
  }
  visit(r as RequestOp, r.kind)
  return out
}

function inRange(k: Uint8Array, start: Uint8Array, end: Uint8Array): boolean {
  const fromKey = end.length === 1 && end[0] === 0
  return compareBytes(k, start) >= 0 && (fromKey || compareBytes(k, end) < 0)
}

const keyText = (k: Uint8Array): string => Buffer.from(k).toString('latin1')

/**
 * Joins revisions and WAL requests, newest first per key: a put pairs with the newest unmatched
 * revision at or before the previous pairing that has its value and lease, a delete with a
 * tombstone. Returns the events oldest first.
 */
export function joinHistory(revs: { key: Uint8Array; r: FoundRevision; out: HistoryRevision }[], reqs: FoundRequest[]): HistoryEvent[] {
  const byKey = new Map<string, { revs: number[]; reqs: number[] }>()
  const slot = (k: Uint8Array) => {
    const t = keyText(k)
    let s = byKey.get(t)
    if (!s) byKey.set(t, (s = { revs: [], reqs: [] }))
    return s
  }
  revs.forEach((x, i) => slot(x.key).revs.push(i))
  reqs.forEach((x, i) => slot(x.key).reqs.push(i))
  const pairOfReq = new Map<number, number>()
  for (const s of byKey.values()) {
    let ceiling = s.revs.length // revisions below this position are still free
    for (let j = s.reqs.length - 1; j >= 0; j--) {
      const q = reqs[s.reqs[j]!]!
      if (!q.out.applied) continue
      for (let p = ceiling - 1; p >= 0; p--) {
        const r = revs[s.revs[p]!]!
        const fits = q.out.op === 'deleteRange'
          ? r.r.rev.tombstone
          : !r.r.rev.tombstone && r.out.valueSha256 === q.out.valueSha256 && r.r.kv.lease === q.leaseId && Buffer.compare(r.r.kv.value, q.value!) === 0
        if (fits) { pairOfReq.set(s.reqs[j]!, s.revs[p]!); ceiling = p; break }
      }
    }
  }
  // Order: anchors (joined pairs) by WAL index; a lone revision sits before the first anchor with
  // a higher revision; a lone request at its index.
  const anchors = [...pairOfReq.entries()].map(([qi, ri]) => ({ idx: reqs[qi]!.out.index, rev: revs[ri]!.r.rev }))
  anchors.sort((a, b) => (a.idx < b.idx ? -1 : a.idx > b.idx ? 1 : 0))
  const revIsPaired = new Set(pairOfReq.values())
  type Keyed = { e: HistoryEvent; idx: bigint; sub: number; main: bigint; rsub: bigint }
  const list: Keyed[] = []
  const INF = 1n << 62n
  revs.forEach((x, i) => {
    if (revIsPaired.has(i)) return
    const a = anchors.find((an) => an.rev.main > x.r.rev.main || (an.rev.main === x.r.rev.main && an.rev.sub > x.r.rev.sub))
    list.push({ e: { key: formatBytes(x.key, 'auto'), revision: x.out }, idx: a ? a.idx : INF, sub: 0, main: x.r.rev.main, rsub: x.r.rev.sub })
  })
  reqs.forEach((q, i) => {
    const ri = pairOfReq.get(i)
    const e: HistoryEvent = { key: formatBytes(q.key, 'auto'), wal: q.out }
    if (ri !== undefined) e.revision = revs[ri]!.out
    else e.note = q.out.applied
      ? (q.out.txn ? 'no revision: txn branch not taken, or the revision was compacted' : q.out.op === 'deleteRange' ? 'no revision: nothing to delete, or the tombstone was compacted' : 'no revision: compacted')
      : 'not applied to the db yet (index above its consistent index)'
    const rv = ri !== undefined ? revs[ri]!.r.rev : undefined
    list.push({ e, idx: q.out.index, sub: 1, main: rv?.main ?? 0n, rsub: rv?.sub ?? 0n })
  })
  list.sort((a, b) => (a.idx !== b.idx ? (a.idx < b.idx ? -1 : 1) : a.sub !== b.sub ? a.sub - b.sub : a.main !== b.main ? (a.main < b.main ? -1 : 1) : a.rsub < b.rsub ? -1 : a.rsub > b.rsub ? 1 : 0))
  return list.map((x) => x.e)
}

/** Sources the index can provide (app/index-query.ts implements them). */
export interface HistorySources {
  /** Why a source was not used (filled while answering). */
  notes?: string[]
  /** Releases what the sources hold open (called once the answer is complete). */
  close?: () => void
  revisions?: (f: BoltFile, q: KeyQuery) => Iterable<FoundRevision> | null
  walRequests?: (q: KeyQuery, ctx: Parameters<typeof requestsIn>[3]) => { requests: FoundRequest[]; wal: NonNullable<HistoryResult['wal']> } | null
}

/**
 * Runs `read` on one view of the db with the revisions of `q`: from the index when it answers for
 * this very view, else from one scan of the `key` bucket (app/history-scan.ts, loaded only then: a
 * query the index answers loads neither the bbolt walk nor the WAL reader).
 */
async function withRevisions<T>(path: string, q: KeyQuery, noIndex: boolean | undefined, sources: HistorySources,
  read: (f: BoltFile, s: DbSummary, revs: Iterable<FoundRevision>) => T): Promise<{ db: DbFileInfo; result: T; source: 'index' | 'scan' }> {
  if (!noIndex && sources.revisions) {
    const v = withDb(path, (f) => {
      const s = readSummary(f)
      const fromIndex = sources.revisions!(f, q)
      return fromIndex ? { value: read(f, s, fromIndex) } : null
    })
    if (v.result) return { db: v.db, result: v.result.value, source: 'index' }
  }
  const { scanRevisions } = await import('./history-scan.js')
  const v = withDb(path, (f) => read(f, readSummary(f), scanRevisions(f, q)))
  return { ...v, source: 'scan' }
}

/** The core of `history`. */
export async function keyHistory(path: string, keyArg: string, opts: HistoryOptions = {}, sources: HistorySources = {}): Promise<HistoryResult> {
  try {
    return await keyHistoryWith(path, keyArg, opts, sources)
  } finally {
    sources.close?.()
  }
}

async function keyHistoryWith(path: string, keyArg: string, opts: HistoryOptions, sources: HistorySources): Promise<HistoryResult> {
  const t0 = performance.now()
  const q: KeyQuery = { key: parseUserKey(keyArg, opts.hex), prefix: !!opts.prefix }
  if (q.key.length === 0 && !q.prefix) throw new UsageError('the key is empty', 'give a key, or --prefix with a prefix ("" with --prefix: every key)')
  const limit = opts.limit === undefined ? DEFAULT_HISTORY_LIMIT : opts.limit > 0 ? opts.limit : Infinity
  const mode: BytesMode = opts.showValues ? (opts.valueFormat ?? 'auto') : 'redacted'
  const notes: string[] = []
  const { db, result, source } = await withRevisions(path, q, opts.noIndex, sources, (_f, s, found) => {
    const revs: { key: Uint8Array; r: FoundRevision; out: HistoryRevision }[] = []
    let more = false
    for (const r of found) {
      if (revs.length >= limit) { more = true; break }
      revs.push({ key: r.kv.key.slice(), r: { rev: r.rev, kv: { ...r.kv, value: r.kv.value.slice() } }, out: revisionOut(r, mode) })
    }
    return { s, revs, more }
  })
  const { s, revs, more } = result
  if (more) notes.push(`only the first ${limit} revisions (--limit 0 for all)`)
  let wal: HistoryResult['wal'] = null
  let reqs: FoundRequest[] = []
  if (!opts.noWal) {
    const keysInDb = new Map(revs.map((r) => [keyText(r.key), r.key])).values()
    const ctx = { mode, consistentIndex: s.consistentIndex, keysInDb: [...keysInDb] }
    const dir = db.path.endsWith('/member/snap/db') ? db.path.slice(0, -'/member/snap/db'.length) : null
    if (!dir && !opts.walDir) notes.push('no WAL: the path is a db file (give the data dir, or --wal-dir)')
    else {
      const w = (opts.noIndex ? null : sources.walRequests?.(q, ctx)) ?? (await import('./history-scan.js')).scanWalRequests(dir ?? opts.walDir!, opts.walDir, q, ctx)
      // Committed is known once the log's HardState has been read.
      for (const x of w.requests) x.out.committed = w.wal.commit !== undefined && x.out.index <= w.wal.commit
      reqs = w.requests
      wal = { ...w.wal, requests: reqs.length }
      const note = walEndNote(w.wal)
      if (note) notes.push(note)
    }
  }
  const events = joinHistory(revs, reqs)
  notes.push(...(sources.notes ?? []))
  return {
    ...db, key: formatBytes(q.key, 'auto'), prefix: q.prefix, revision: s.revision, compactRevision: s.compactRevision,
    consistentIndex: s.consistentIndex, source, wal, events, more, notes, elapsedMs: Math.round((performance.now() - t0) * 10) / 10,
  }
}

/** `db get <dir> key <key> --rev R`: the key as `etcdctl get --rev R` returns it. */
export interface GetAtRevisionResult extends DbFileInfo {
  key: FormattedBytes
  /** The revision asked for (0: the current one, as etcd). */
  atRevision: bigint
  /** The db's revision (etcdctl's header.revision). */
  revision: bigint
  compactRevision: bigint
  /** The key's KeyValue at that revision, or null when it did not exist (etcdctl prints nothing, count 0). */
  kv: null | { key: FormattedBytes; createRevision: bigint; modRevision: bigint; version: bigint; lease: string; value: FormattedBytes; valueSha256: string; valueClass: string }
  source: 'index' | 'scan'
}

export async function getAtRevision(path: string, keyArg: string, rev: bigint, opts: Pick<HistoryOptions, 'hex' | 'showValues' | 'valueFormat' | 'noIndex'> = {}, sources: HistorySources = {}): Promise<GetAtRevisionResult> {
  try {
    return await getAtRevisionWith(path, keyArg, rev, opts, sources)
  } finally {
    sources.close?.()
  }
}

async function getAtRevisionWith(path: string, keyArg: string, rev: bigint, opts: Pick<HistoryOptions, 'hex' | 'showValues' | 'valueFormat' | 'noIndex'>, sources: HistorySources): Promise<GetAtRevisionResult> {
  const key = parseUserKey(keyArg, opts.hex)
  const mode: BytesMode = opts.showValues ? (opts.valueFormat ?? 'auto') : 'redacted'
  const { db, result, source } = await withRevisions(path, { key, prefix: false }, opts.noIndex, sources, (_f, s, found) => {
    const at = rev === 0n ? s.revision : rev
    // etcd: kvstore_txn.go rangeKeys.
    if (at > s.revision) throw new UsageError(`revision ${rev} is a future revision (the db is at ${s.revision})`, 'etcd answers "mvcc: required revision is a future revision"')
    if (at < s.compactRevision) throw new UsageError(`revision ${rev} has been compacted (compacted at ${s.compactRevision})`, 'etcd answers "mvcc: required revision has been compacted"')
    let best: FoundRevision | null = null
    for (const r of found) {
      if (r.rev.main > at) break
      best = { rev: r.rev, kv: { ...r.kv, value: r.kv.value.slice() } }
    }
    return { s, best }
  })
  const { s, best } = result
  const kv = !best || best.rev.tombstone ? null : (() => {
    const o = revisionOut(best, mode)
    return { key: formatBytes(best.kv.key, 'auto'), createRevision: o.createRevision, modRevision: o.modRevision, version: o.version, lease: o.lease, value: o.value, valueSha256: o.valueSha256, valueClass: o.valueClass }
  })()
  return { ...db, key: formatBytes(key, 'auto'), atRevision: rev, revision: s.revision, compactRevision: s.compactRevision, kv, source }
}
