/**
 * `etcd-inspect compare <data-dir> <data-dir>...` (issue 13): several members' data dirs side by
 * side — identity and progress from the offline collector (`collectStatus`), etcd's HashKV at a
 * revision every member holds (format/backend/hash.ts `hashByRev`, = `etcdctl endpoint hashkv
 * --rev R`), where members diverge, and which dir to restore from after quorum loss (rules in
 * docs/compare.md). Read-only: dbs are read through `withDb` like every `db` command.
 */
import { dirname, join } from 'node:path'
import { InspectError, UsageError } from '../errors.js'
import type { BoltFile } from '../format/bbolt/file.js'
import { bucket, iterate, type Entry } from '../format/bbolt/walk.js'
import { compareBytes } from '../format/bbolt/element.js'
import { hashByRev, mvccKey } from '../format/backend/hash.js'
import { decodeKeyValue } from '../format/backend/proto.js'
import { decodeRevision, encodeRevision } from '../format/backend/revision.js'
import { formatBytes, type FormattedBytes } from '../format/value.js'
import { sha256Prefix } from '../format/digest.js'
import { readLog } from '../format/wal/log.js'
import { listWalDir, openSegments } from '../io/wal-files.js'
import { createHasher } from './crc-pool.js'
import { withDb } from './db.js'
import { collectStatus } from './status.js'
import type { ConnectionOptions } from '../cluster/connection.js'
import type { StatusResult } from './status-types.js'

/** What a dir is, relative to the others. */
export type CompareRole = 'member' | 'empty' | 'no-wal' | 'other-cluster' | 'removed' | 'unreadable'

/** How a member's data relates to the reference (the restore source's group). */
export type CompareState = 'consistent' | 'behind' | 'diverged' | 'not-compared'

/** A key whose value differs at the first differing revision, as each member has it then. */
export interface DifferingKey {
  key: FormattedBytes
  /** One per member compared (reference first): null when the key does not exist there at that revision. */
  members: { dataDir: string; modRevision: bigint | null; deleted: boolean; value: FormattedBytes | null }[]
}

/** Where a member's `key` bucket first differs from the reference's. */
export interface Divergence {
  /** The reference member's dir. */
  against: string
  /** Lowest revision whose stored changes differ (null: the difference is at or below the compaction revision). */
  firstRevision: bigint | null
  detail: string
  keys: DifferingKey[]
}

export interface CompareMember {
  path: string
  dataDir: string
  role: CompareRole
  /** Why this role (other cluster, removed, empty, unreadable). */
  roleDetail: string | null
  memberId: string | null
  clusterId: string | null
  /** The member's name as its own db lists it ('' when never started). */
  name: string | null
  hardState: { term: bigint; commit: bigint } | null
  lastIndex: bigint | null
  /** Term of the last WAL entry. */
  lastTerm: bigint | null
  consistentIndex: bigint | null
  revision: bigint | null
  compactRevision: bigint | null
  /** Membership as this member's db sees it. */
  members: { id: string; name: string; peerURLs: string[]; clientURLs: string[]; isLearner: boolean }[] | null
  removedMembers: string[] | null
  etcdVersion: string | null
  /** HashKV at `result.hash.revision` (null: not computed, see `hashNote`). */
  hash: number | null
  /** Revisions hashed (rows of the `key` bucket). */
  hashedRevisions: number | null
  hashNote: string | null
  state: CompareState
  /** Revisions the most advanced consistent member has and this one lacks. */
  lacks: { from: bigint; to: bigint; count: bigint } | null
  divergence: Divergence | null
  /** `endpoint status` and `hashkv` of this member when it answered live (connection flags). */
  live: LiveMember | null
  /** Findings from `status` with severity error. */
  errors: string[]
}

/** A live member as `etcdctl endpoint status` and `endpoint hashkv` see it. */
export interface LiveMember {
  endpoint: string
  memberId: string
  clusterId: string
  version: string
  revision: bigint
  raftIndex: bigint
  raftTerm: bigint
  raftAppliedIndex: bigint
  hash: number | null
  hashRevision: bigint | null
  compactRevision: bigint | null
  error: string | null
}

export type CompareVerdict = 'CONSISTENT' | 'BEHIND' | 'DIVERGED' | 'NOT_ONE_CLUSTER'

export interface RestorePlan {
  /** The dir to restore from. */
  source: string
  name: string
  memberId: string
  reasons: string[]
  /** What each other member would lose relative to the source. */
  losses: { dataDir: string; lose: string }[]
  warnings: string[]
  /** Commands in order; `kind: start` runs in the foreground (run it under your service manager). */
  commands: { kind: 'restore' | 'start' | 'member-add'; cmd: string; note: string }[]
}

export interface CompareResult {
  resultVersion: 1
  verdict: CompareVerdict
  /** Why the verdict, one line each. */
  reasons: string[]
  clusterId: string | null
  hash: { revision: bigint | null; note: string; agree: boolean | null }
  members: CompareMember[]
  restore: RestorePlan | null
  /** Every endpoint asked with connection flags (also attached to the matching member). */
  live: LiveMember[]
  elapsedMs: number
}

export interface CompareOptions {
  /** Hash revision (default: the highest revision every member holds above every compaction). */
  rev?: bigint
  /** Where the restore commands put new data dirs (default: beside the source dir). */
  restoreDir?: string
  /** --initial-cluster-token of the restored cluster. */
  restoreToken?: string
  /** Hash worker threads (default by db size). */
  threads?: number
  skipLockCheck?: boolean
  /** Connection flags: add the live members' `endpoint status` and `hashkv` at the hash revision. */
  connection?: ConnectionOptions
}

const maxB = (xs: bigint[]): bigint => xs.reduce((a, b) => (b > a ? b : a))
const minB = (xs: bigint[]): bigint => xs.reduce((a, b) => (b < a ? b : a))

/** Compares the data dirs; never writes to them. */
export async function compareDirs(dirs: string[], opts: CompareOptions = {}): Promise<CompareResult> {
  const started = performance.now()
  if (dirs.length < 2) throw new UsageError('compare needs at least two data dirs', 'pass every member\'s data dir')
  const rows: { m: CompareMember; st: StatusResult | null }[] = []
  for (const dir of dirs) rows.push(await readMember(dir, opts))

  // One cluster: the cluster ID most dirs carry (ties: the first given).
  const counts = new Map<string, number>()
  for (const { m } of rows) if (m.role === 'member' && m.clusterId) counts.set(m.clusterId, (counts.get(m.clusterId) ?? 0) + 1)
  let clusterId: string | null = null
  for (const { m } of rows) if (m.clusterId && m.role === 'member' && (clusterId === null || counts.get(m.clusterId)! > counts.get(clusterId)!)) clusterId = m.clusterId
  for (const { m } of rows) {
    if (m.role === 'member' && m.clusterId !== clusterId) {
      m.role = 'other-cluster'
      m.roleDetail = `cluster ${m.clusterId}, not ${clusterId} (${counts.get(clusterId!)} of ${rows.length} dirs)`
    }
  }
  // Removed: by itself (WAL or db), or by most of the other members of the cluster compared. One
  // member alone does not count: a member forced into a new cluster (--force-new-cluster) lists
  // every other member as removed.
  const same = rows.filter((o) => o.m.role === 'member')
  const removed: [CompareMember, string][] = []
  for (const { m, st } of same) {
    const others = same.filter((o) => o.m !== m)
    const by = others.filter((o) => o.m.removedMembers?.includes(m.memberId!))
    if (st!.members.selfRemovedInDb) removed.push([m, 'its own db lists it in members_removed'])
    else if (st!.members.selfRemovedInWal?.committed) removed.push([m, `its WAL holds a committed RemoveNode of it at index ${st!.members.selfRemovedInWal.index}`])
    else if (by.length > 0 && by.length * 2 > others.length) removed.push([m, `${by.map((o) => o.m.dataDir).join(', ')} list${by.length === 1 ? 's' : ''} it in members_removed`])
  }
  for (const [m, why] of removed) { m.role = 'removed'; m.roleDetail = why }
  const members0 = rows.map((r) => r.m).filter((m) => m.role === 'member')
  // A db without a WAL (a restored or copied db, a dir whose WAL is lost) has no identity, but its
  // db opened: it is hashed and compared like a member (an operator comparing restored copies
  // expects it), never chosen as the reference or the restore source while member dirs exist.
  const dbOnly = rows.map((r) => r.m).filter((m) => m.role === 'no-wal' && m.revision !== null)
  // The dirs that pick the hash revision and the reference group: the members, else the db-only dirs.
  const pool = members0.length ? members0 : dbOnly
  const cands = [...members0, ...dbOnly]
  for (const m of rows.map((r) => r.m)) if (!cands.includes(m)) { m.state = 'not-compared'; m.hashNote = `not compared: ${m.role}` }
  const what = members0.length ? 'member' : 'db'

  // The hash revision.
  let rev: bigint | null = null
  let note = ''
  if (pool.length > 0) {
    const cmax = maxB(pool.map((m) => m.compactRevision ?? 0n))
    const above = pool.filter((m) => (m.revision ?? 0n) > cmax)
    if (opts.rev !== undefined) {
      rev = opts.rev
      note = `--rev ${rev}`
    } else if (above.length > 0) {
      rev = minB(above.map((m) => m.revision!))
      note = above.length === pool.length
        ? `the highest revision every ${what} holds (above every compaction: ${cmax})`
        : `the highest revision the ${what}s above the compaction revision ${cmax} hold`
    } else {
      note = `no ${what} holds a revision above the compaction revision ${cmax}`
    }
    if (rev !== null) {
      for (const m of cands) {
        const c = m.compactRevision ?? 0n
        if (rev <= c) { m.hashNote = `revision ${rev} is compacted here (compaction revision ${c}: etcd answers ErrCompacted)`; continue }
        if (rev > (m.revision ?? 0n)) { m.hashNote = `revision ${rev} is beyond this member's revision ${m.revision} (etcd answers ErrFutureRev)`; continue }
        // Synchronous inside the view, so withDb's re-read of the metas covers the whole walk
        // (both hashers' digest() return a number).
        const h = withDb(m.dataDir, (f) => {
          const { hasher } = createHasher(f, opts.threads)
          try {
            const r = hashByRev(f, rev!, c, hasher)
            return { hash: r.hash as number, revisions: r.revisions }
          } catch (e) {
            hasher.close?.()
            throw e
          }
        }).result
        m.hash = h.hash
        m.hashedRevisions = h.revisions
      }
    }
  }

  // Groups by hash; the reference group: most members, then the most up-to-date raft log, then revision.
  const hashed = cands.filter((m) => m.hash !== null)
  const groups = new Map<number, CompareMember[]>()
  for (const m of hashed.filter((x) => pool.includes(x))) groups.set(m.hash!, [...(groups.get(m.hash!) ?? []), m])
  const logKey = (m: CompareMember): [bigint, bigint, bigint] => [m.lastTerm ?? 0n, m.lastIndex ?? 0n, m.revision ?? 0n]
  const better = (a: CompareMember, b: CompareMember): boolean => {
    const x = logKey(a)
    const y = logKey(b)
    for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! > y[i]!
    return false
  }
  const best = (g: CompareMember[]): CompareMember => g.reduce((a, b) => (better(b, a) ? b : a))
  let refGroup: CompareMember[] | null = null
  for (const g of groups.values()) {
    if (!refGroup || g.length > refGroup.length || (g.length === refGroup.length && better(best(g), best(refGroup)))) refGroup = g
  }
  // The source: in the reference group, the most applied data (consistent index, revision, commit, last index).
  const dataKey = (m: CompareMember): bigint[] => [m.consistentIndex ?? 0n, m.revision ?? 0n, m.hardState?.commit ?? 0n, m.lastIndex ?? 0n]
  const moreData = (a: CompareMember, b: CompareMember): boolean => {
    const x = dataKey(a)
    const y = dataKey(b)
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! > y[i]!
    return false
  }
  const reference = refGroup ? refGroup.reduce((a, b) => (moreData(b, a) ? b : a)) : pool.length ? pool.reduce((a, b) => (moreData(b, a) ? b : a)) : null
  // db-only dirs join the group whose hash they share.
  if (refGroup) for (const m of dbOnly) if (!refGroup.includes(m) && m.hash === refGroup[0]!.hash) refGroup.push(m)
  const source = reference

  for (const m of cands) {
    const top = source?.revision ?? null
    if (refGroup?.includes(m) || (m.hash === null && m === source)) {
      m.state = top !== null && m.revision !== null && m.revision < top ? 'behind' : 'consistent'
    } else if (m.hash !== null && source) {
      m.state = 'diverged'
    } else {
      // Not hashed: compacted past it or beyond it; its revision tells whether it is behind.
      m.state = top !== null && m.revision !== null && m.revision < top ? 'behind' : 'not-compared'
    }
    if (m.state === 'behind' && top !== null) m.lacks = { from: m.revision! + 1n, to: top, count: top - m.revision! }
  }
  for (const m of cands) {
    if (m.state !== 'diverged' || !source || rev === null) continue
    const from = maxB([source.compactRevision ?? 0n, m.compactRevision ?? 0n]) + 1n
    m.divergence = findDivergence(source.dataDir, m.dataDir, from, maxB([source.revision ?? 0n, m.revision ?? 0n]))
  }

  const live = opts.connection ? await collectLive(opts.connection, rev) : []
  for (const l of live) {
    const m = rows.find((r) => r.m.memberId === l.memberId && r.m.clusterId === l.clusterId)?.m
    if (m) m.live = l
  }

  // Verdict.
  const members = rows.map((r) => r.m)
  const reasons: string[] = []
  let verdict: CompareVerdict = 'CONSISTENT'
  const other = members.filter((m) => m.role === 'other-cluster')
  const diverged = members.filter((m) => m.state === 'diverged')
  const behind = members.filter((m) => m.state === 'behind')
  if (other.length) {
    verdict = 'NOT_ONE_CLUSTER'
    reasons.push(`${other.map((m) => m.dataDir).join(', ')}: from another cluster (${other.map((m) => m.clusterId ?? '?').join(', ')}; most dirs: ${clusterId})`)
  }
  if (diverged.length) {
    if (verdict === 'CONSISTENT') verdict = 'DIVERGED'
    for (const m of diverged) reasons.push(`${m.dataDir}: diverged from ${m.divergence?.against}${m.divergence?.firstRevision != null ? ` at revision ${m.divergence.firstRevision}` : ''} (hash ${hex8(m.hash)} vs ${hex8(source?.hash ?? null)} at revision ${rev})`)
  }
  if (behind.length) {
    if (verdict === 'CONSISTENT') verdict = 'BEHIND'
    for (const m of behind) reasons.push(`${m.dataDir}: behind, lacks revisions ${m.lacks!.from}..${m.lacks!.to} (${m.lacks!.count})`)
  }
  const views = new Map<string, string[]>()
  for (const m of cands) {
    const v = (m.members ?? []).map((p) => p.name || p.id).sort().join(',')
    views.set(v, [...(views.get(v) ?? []), m.dataDir])
  }
  if (views.size > 1) reasons.push(`membership views differ: ${[...views].map(([v, ds]) => `${ds.join(', ')}: ${v || '(none)'}`).join('; ')}`)
  for (const m of members) if (m.role !== 'member' && m.role !== 'other-cluster') reasons.push(`${m.dataDir}: ${m.role}${m.roleDetail ? ` (${m.roleDetail})` : ''}`)
  if (verdict === 'CONSISTENT') reasons.unshift(members0.length ? `all ${members0.length} members${dbOnly.length ? ` and ${dbOnly.length} db-only dir(s)` : ''} agree at revision ${rev}` : `all ${dbOnly.length} dbs agree at revision ${rev}`)
  const agree = hashed.length === 0 ? null : new Set(hashed.map((m) => m.hash)).size === 1 && hashed.length === cands.length

  return {
    resultVersion: 1,
    verdict,
    reasons,
    clusterId,
    hash: { revision: rev, note, agree },
    members,
    // A restore plan names the source member and its peers: only a member dir (with a WAL) says who it is.
    restore: source && source.role === 'member' ? restorePlan(source, members, opts) : null,
    live,
    elapsedMs: Math.round(performance.now() - started),
  }
}

const hex8 = (h: number | null): string => (h === null ? '-' : h.toString(16).padStart(8, '0'))

async function readMember(dir: string, opts: CompareOptions): Promise<{ m: CompareMember; st: StatusResult | null }> {
  const m: CompareMember = {
    path: dir, dataDir: dir, role: 'member', roleDetail: null, memberId: null, clusterId: null, name: null, hardState: null,
    lastIndex: null, lastTerm: null, consistentIndex: null, revision: null, compactRevision: null, members: null, removedMembers: null,
    etcdVersion: null, hash: null, hashedRevisions: null, hashNote: null, state: 'not-compared', lacks: null, divergence: null, live: null, errors: [],
  }
  let st: StatusResult
  try {
    // The WAL framing only: what compare takes from it (identity, HardState, last index, conf
    // changes) is in the record headers; a CRC pass over the last segment read all its bytes.
    st = await collectStatus(dir, { skipLockCheck: opts.skipLockCheck, walRead: 'frames' })
  } catch (e) {
    if (!(e instanceof InspectError)) throw e
    m.role = 'unreadable'
    m.roleDetail = e.message
    return { m, st: null }
  }
  m.dataDir = st.dataDir
  m.memberId = st.memberId
  m.clusterId = st.clusterId
  m.hardState = st.hardState ? { term: st.hardState.term, commit: st.hardState.commit } : null
  m.lastIndex = st.lastIndex
  m.consistentIndex = st.consistentIndex
  m.revision = st.revision
  m.compactRevision = st.compactRevision
  m.members = st.members.db?.map((x) => ({ id: x.id, name: x.name, peerURLs: x.peerURLs, clientURLs: x.clientURLs, isLearner: x.isLearner })) ?? null
  m.removedMembers = st.members.dbRemoved?.map((x) => x.id) ?? null
  m.name = m.members?.find((x) => x.id === st.memberId)?.name ?? null
  m.etcdVersion = st.version.clusterVersion ?? st.version.etcdGuess
  m.errors = st.findings.filter((f) => f.severity === 'error').map((f) => f.detail)
  if (st.state === 'empty') { m.role = 'empty'; m.roleDetail = 'no WAL and no db: never started here, or its data is gone' }
  else if (st.state === 'no-wal') { m.role = 'no-wal'; m.roleDetail = 'a db but no WAL: no member identity (etcd would bootstrap a new member from flags); its db is still hashed and compared' }
  else if (st.integrity.db.status !== 'ok' && st.integrity.db.status !== 'not-checked') { m.role = 'unreadable'; m.roleDetail = `db ${st.integrity.db.status}: ${st.integrity.db.detail}` }
  else if (st.revision === null) { m.role = 'unreadable'; m.roleDetail = 'the db revision could not be read' }
  if (st.walDir && m.role === 'member') m.lastTerm = lastEntryTerm(st.walDir)
  return { m, st }
}

/**
 * Term of the last entry in the WAL: the newest segments read until one holds an entry. Framing
 * only, like compare's status read (the CRC check is `status`'s and `wal verify`'s, docs/compare.md).
 */
function lastEntryTerm(walDir: string): bigint | null {
  const segs = listWalDir(walDir).segments
  for (let i = segs.length - 1; i >= 0; i--) {
    const opened = openSegments([segs[i]!])
    try {
      const log = readLog(opened.segments, { onlyUnusual: true, verifyCrc: false })
      for (const _ of log.items) { /* drain: the state fills as the log is read */ }
      const t = log.state.segments[0]?.lastTerm
      if (t !== undefined) return t
    } catch {
      return null
    } finally {
      opened.close()
    }
  }
  return null
}

/** A value as it is compared: loaded in full (one at a time). */
function valueOf(e: Entry): Uint8Array {
  return e.value.length === e.vsize ? e.value : e.page.slice(e.vpos, e.vsize, 'value')
}

/**
 * Walks the two `key` buckets in lock-step from revision `from` (above both compactions): the
 * bucket is ordered by revision, so the first revision key or value that differs is the first
 * revision the members disagree on, found in one pass (a binary search over HashByRev would take
 * log2(R) passes). Then the user keys changed at that revision, as each member has them there.
 */
export function findDivergence(refDir: string, dir: string, from: bigint, to: bigint): Divergence {
  return withDb(refDir, (a) => withDb(dir, (b) => {
    const first = firstDifferingRevision(a, b, from, to)
    if (first === null) {
      return { against: refDir, firstRevision: null, keys: [],
        detail: `no stored change in revisions ${from}..${to} differs: the difference is in what compaction kept at or below revision ${from - 1n}` }
    }
    const keys = new Map<string, Uint8Array>()
    for (const f of [a, b]) for (const e of rowsAt(f, first)) { const k = mvccKey(e, f); keys.set(Buffer.from(k).toString('hex'), k) }
    const sa = stateAt(a, first, keys)
    const sb = stateAt(b, first, keys)
    const out: DifferingKey[] = []
    for (const [hex, key] of keys) {
      const x = sa.get(hex) ?? null
      const y = sb.get(hex) ?? null
      if (x && y && x.deleted === y.deleted && x.modRevision === y.modRevision && x.digest === y.digest) continue
      const view = (s: KeyState | null, d: string) => ({ dataDir: d, modRevision: s?.modRevision ?? null, deleted: s?.deleted ?? false, value: s?.value ?? null })
      out.push({ key: formatBytes(key, 'auto'), members: [view(x, refDir), view(y, dir)] })
    }
    return { against: refDir, firstRevision: first, keys: out, detail: `revision ${first} differs: ${out.length} key(s) differ there` }
  }).result).result
}

function keyBucket(f: BoltFile) {
  const b = bucket(f, 'key')
  return b ? b.bucket : null
}

function firstDifferingRevision(a: BoltFile, b: BoltFile, from: bigint, to: bigint): bigint | null {
  const ka = keyBucket(a)
  const kb = keyBucket(b)
  const start = encodeRevision(from)
  const ia = ka ? iterate(a, ka, { name: 'key', values: false, start }) : null
  const ib = kb ? iterate(b, kb, { name: 'key', values: false, start }) : null
  const next = (it: Generator<Entry> | null, f: BoltFile): { e: Entry; main: bigint } | null => {
    const r = it?.next()
    if (!r || r.done) return null
    const main = decodeRevision(r.value.key, f.file, r.value.pageOffset + r.value.at).main
    return main > to ? null : { e: r.value, main }
  }
  for (;;) {
    const x = next(ia, a)
    const y = next(ib, b)
    if (!x && !y) return null
    if (!x || !y) return (x ?? y)!.main
    if (compareBytes(x.e.key, y.e.key) !== 0 || compareBytes(valueOf(x.e), valueOf(y.e)) !== 0) return x.main < y.main ? x.main : y.main
  }
}

function* rowsAt(f: BoltFile, main: bigint): Generator<Entry> {
  const kb = keyBucket(f)
  if (!kb) return
  for (const e of iterate(f, kb, { name: 'key', values: false, start: encodeRevision(main) })) {
    if (decodeRevision(e.key, f.file, e.pageOffset + e.at).main !== main) return
    yield e
  }
}

interface KeyState { modRevision: bigint; deleted: boolean; digest: string | null; value: FormattedBytes | null }

/** The newest revision <= `rev` of each of `keys` (hex of the user key). One pass over the bucket up to `rev`. */
function stateAt(f: BoltFile, rev: bigint, keys: Map<string, Uint8Array>): Map<string, KeyState> {
  const out = new Map<string, KeyState>()
  const kb = keyBucket(f)
  if (!kb) return out
  const lens = new Set([...keys.values()].map((k) => k.length))
  for (const e of iterate(f, kb, { name: 'key', values: false })) {
    const r = decodeRevision(e.key, f.file, e.pageOffset + e.at)
    if (r.main > rev) break
    const k = mvccKey(e, f)
    if (!lens.has(k.length)) continue
    const hex = Buffer.from(k).toString('hex')
    if (!keys.has(hex)) continue
    if (r.tombstone) { out.set(hex, { modRevision: r.main, deleted: true, digest: null, value: null }); continue }
    const kv = decodeKeyValue(valueOf(e), f.file, e.page.offset + e.vpos)
    out.set(hex, { modRevision: kv.modRevision, deleted: false, digest: sha256Prefix(kv.value), value: formatBytes(kv.value, 'redacted') })
  }
  return out
}

/** Shell-quotes an argument when it needs it. */
export function sh(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`
}

function restorePlan(src: CompareMember, all: CompareMember[], opts: CompareOptions): RestorePlan {
  const reasons: string[] = []
  const warnings: string[] = []
  const peers = src.members ?? []
  const self = peers.find((p) => p.id === src.memberId)
  const name = src.name || self?.name || `member-${src.memberId}`
  const group = all.filter((m) => m.state === 'consistent' || m.state === 'behind')
  const cands = all.filter((m) => m.role === 'member')
  reasons.push(`same cluster (${src.clusterId}), not removed, db readable`)
  if (cands.some((m) => m.state === 'diverged')) {
    reasons.push(`its data agrees with ${group.length - 1} other member(s) at the hash revision; the diverged member(s) are a minority or hold the less up-to-date raft log`)
  } else if (cands.length > 1) {
    reasons.push(`every compared member agrees with it at the hash revision`)
  }
  reasons.push(`most applied data: consistent index ${src.consistentIndex}, revision ${src.revision}, HardState commit ${src.hardState?.commit ?? '-'}, last WAL entry ${src.lastIndex ?? '-'} (term ${src.lastTerm ?? '-'})`)
  if (src.hardState && src.consistentIndex !== null && src.hardState.commit > src.consistentIndex) {
    warnings.push(`its WAL has committed entries ${src.consistentIndex + 1n}..${src.hardState.commit} that its db has not applied: a snapshot restore of the db loses them (restarting this member alone with --force-new-cluster would replay them)`)
  }
  if (src.errors.length) warnings.push(`status findings on the source: ${src.errors.join('; ')}`)
  const losses: RestorePlan['losses'] = []
  for (const m of cands) {
    if (m === src) continue
    if (m.state === 'diverged') {
      const from = m.divergence?.firstRevision
      losses.push({ dataDir: m.dataDir, lose: from != null && m.revision !== null && m.revision >= from
        ? `its revisions ${from}..${m.revision} (${m.revision - from + 1n}), which the cluster never agreed on`
        : `its diverged data (${m.divergence?.detail ?? 'hash differs'})` })
    } else if ((m.revision ?? 0n) > (src.revision ?? 0n)) {
      losses.push({ dataDir: m.dataDir, lose: `revisions ${src.revision! + 1n}..${m.revision} (not compared: ${m.hashNote ?? m.state})` })
    } else {
      losses.push({ dataDir: m.dataDir, lose: 'nothing: every revision it holds is in the source' })
    }
  }
  const token = opts.restoreToken ?? 'etcd-cluster-restored'
  const base = opts.restoreDir ?? dirname(src.dataDir)
  const newDir = (n: string): string => join(base, `${n}.restored`)
  const peerUrls = (self?.peerURLs ?? [])
  const clientUrls = (self?.clientURLs ?? [])
  if (!peerUrls.length) warnings.push('the source db does not list its own peer URLs: fill in --initial-advertise-peer-urls by hand')
  const pu = peerUrls.join(',') || '<peer-url>'
  const cu = clientUrls.join(',') || '<client-url>'
  let cluster = peerUrls.length ? peerUrls.map((u) => `${name}=${u}`).join(',') : `${name}=<peer-url>`
  const commands: RestorePlan['commands'] = []
  commands.push({ kind: 'restore', note: `a one-member cluster from ${src.dataDir}'s db (copied, not changed); the db has no snapshot trailer, hence --skip-hash-check`,
    cmd: ['etcdctl', 'snapshot', 'restore', sh(join(src.dataDir, 'member', 'snap', 'db')), '--skip-hash-check', '--name', sh(name),
      '--initial-cluster', sh(cluster), '--initial-cluster-token', sh(token), '--initial-advertise-peer-urls', sh(pu), '--data-dir', sh(newDir(name))].join(' ') })
  commands.push({ kind: 'start', note: 'start it (with your usual TLS and listen flags); the old data dirs stay untouched',
    cmd: ['etcd', '--name', sh(name), '--data-dir', sh(newDir(name)), '--listen-peer-urls', sh(pu), '--initial-advertise-peer-urls', sh(pu),
      '--listen-client-urls', sh(cu), '--advertise-client-urls', sh(cu)].join(' ') })
  for (const p of peers) {
    if (p.id === src.memberId) continue
    const n = p.name || `member-${p.id}`
    const ppu = p.peerURLs.join(',')
    const pcu = p.clientURLs.join(',') || '<client-url>'
    cluster += ',' + p.peerURLs.map((u) => `${n}=${u}`).join(',')
    commands.push({ kind: 'member-add', note: `add ${n} back (one at a time: each addition must be started before the next)`,
      cmd: ['etcdctl', '--endpoints', sh(clientUrls[0] ?? '<client-url>'), 'member', 'add', sh(n), `--peer-urls=${sh(ppu)}`].join(' ') })
    commands.push({ kind: 'start', note: `start ${n} on an empty data dir (its old dir is kept for reference)`,
      cmd: ['etcd', '--name', sh(n), '--data-dir', sh(newDir(n)), '--initial-cluster', sh(cluster), '--initial-cluster-state', 'existing',
        '--initial-cluster-token', sh(token), '--listen-peer-urls', sh(ppu), '--initial-advertise-peer-urls', sh(ppu),
        '--listen-client-urls', sh(pcu), '--advertise-client-urls', sh(pcu)].join(' ') })
  }
  return { source: src.dataDir, name, memberId: src.memberId ?? '', reasons, losses, warnings, commands }
}

/** `endpoint status` and `endpoint hashkv --rev rev` of every endpoint; a failure is recorded per endpoint. */
export async function collectLive(conn: ConnectionOptions, rev: bigint | null): Promise<LiveMember[]> {
  // The gRPC client (etcd3, @grpc/grpc-js: ~150 ms of module loading) only when there are endpoints to ask.
  const [{ withClients }, { endpointStatus }, { endpointHashKV }] = await Promise.all([import('../cluster/connection.js'), import('../cluster/status.js'), import('../cluster/hashkv.js')])
  return withClients(conn, async (f) => Promise.all(f.configured().map(async (c): Promise<LiveMember> => {
    const l: LiveMember = { endpoint: c.endpoint, memberId: '', clusterId: '', version: '', revision: 0n, raftIndex: 0n, raftTerm: 0n,
      raftAppliedIndex: 0n, hash: null, hashRevision: null, compactRevision: null, error: null }
    try {
      const st = await endpointStatus(c)
      Object.assign(l, { memberId: st.header.memberIdHex, clusterId: st.header.clusterIdHex, version: st.version, revision: st.header.revision,
        raftIndex: st.raftIndex, raftTerm: st.raftTerm, raftAppliedIndex: st.raftAppliedIndex })
      if (rev !== null) {
        const h = await endpointHashKV(c, rev)
        l.hash = h.hash
        l.hashRevision = rev
        l.compactRevision = h.compactRevision
      }
    } catch (e) {
      l.error = e instanceof Error ? e.message : String(e)
    }
    return l
  })))
}
