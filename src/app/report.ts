/**
 * `etcd-inspect report <dir> -o report.html`: the facts of one data dir gathered for a single
 * self-contained HTML page (issue 15). Nothing new is read here: the verdict, identity, invariants
 * and db members come from `collectStatus`, the `.snap` files from `runSnap`, the db's space from
 * the `db` library, and the WAL timeline from ONE pass over `streamWal` (the engine of
 * `etcd-inspect wal`, so the page's counts are `wal`'s summary) folded into a bounded number of
 * index buckets: memory and page size stay flat however long the log is.
 */
import { collectStatus, type StatusResult } from './status.js'
import { runSnap, type SnapResult } from './snap.js'
import { streamWal, type WalResultSummary, type WalStreamItem } from './wal.js'
import { kindOf } from '../format/raft/entry.js'
import { collectDbSpace, type DbSpaceResult } from './db-space.js'
import type { SnapshotRecord, SegmentStats } from '../format/wal/log.js'
import type { WalEndStatus } from '../format/wal/decoder.js'
import { InspectError } from '../errors.js'
import { idHex } from '../format/ids.js'

/** Default number of index buckets of the timeline (a bar each; at most twice this while folding). */
export const DEFAULT_TIMELINE_BUCKETS = 200
/** Markers kept per kind (elections, conf changes, compactions, snapshot records, findings); the rest are counted. */
export const DEFAULT_MARKER_CAP = 300

/** Entries with raft indexes [from, to] (inclusive). */
export interface TimelineBucket {
  from: bigint
  to: bigint
  entries: number
  /** EntryNormal / EntryConfChange / EntryConfChangeV2 / unknown, as `wal`'s byType. */
  byType: Record<string, number>
  /** Request kinds, as `wal`'s byKind (put, txn, deleteRange, compaction, leaseGrant, noop, ...). */
  byKind: Record<string, number>
  /** Entry payload bytes. */
  dataBytes: number
  minTerm: bigint
  maxTerm: bigint
  /** Entries above the HardState commit. */
  uncommitted: number
  /** Entries that replaced earlier ones (a new leader overwrote an uncommitted tail). */
  replacing: number
  /** Term changes between consecutive entries (elections that appended entries). */
  termChanges: number
}

/** A marker on the timeline: one event at one raft index. */
export interface TimelineMark {
  index: bigint
  term: bigint
  label: string
  committed?: boolean
}

/** A capped list of markers: `items` (in log order) and how many more there were. */
export interface MarkList<T> {
  items: T[]
  total: number
}

export interface TimelineFinding {
  severity: 'error' | 'warning' | 'info'
  code: string
  file: string
  offset: number
  detail: string
  hint?: string
  /** The last entry index read before the finding (where to mark it); null: before any entry. */
  afterIndex: bigint | null
}

export interface WalTimeline {
  /** Index width of one bucket (a power of two). */
  bucketWidth: bigint
  buckets: TimelineBucket[]
  /** Number of entries, by type and kind: equal to `wal`'s summary. */
  entries: number
  byType: Record<string, number>
  byKind: Record<string, number>
  firstIndex: bigint | null
  lastIndex: bigint | null
  commit: bigint | null
  uncommitted: WalResultSummary['uncommitted']
  /** First entry of each term seen (the first one is the term the log starts in). */
  terms: MarkList<TimelineMark>
  confChanges: MarkList<TimelineMark & { change: string; nodeIdHex: string }>
  compactions: MarkList<TimelineMark & { revision: string | null }>
  /** WAL snapshot records (etcd writes one per snapshot it saves). */
  snapshotRecords: MarkList<{ index: bigint; term: bigint; file: string; offset: number }>
  findings: MarkList<TimelineFinding>
  segments: Pick<SegmentStats, 'file' | 'size' | 'entries' | 'firstIndex' | 'lastIndex' | 'end' | 'lastValidOffset'>[]
  end: WalEndStatus
  lastValid: { file: string; offset: number } | null
  /** `wal`'s summary as the stream ended (the page's counts are checked against it). */
  summary: WalResultSummary
}

/** The space section: `db space`'s result (null when there is no db or it could not be read: `detail`). */
export interface ReportSpace {
  space: DbSpaceResult | null
  detail: string
}

export interface ReportResult {
  resultVersion: 1
  generatedAt: string
  toolVersion: string
  path: string
  status: StatusResult
  /** null when the dir has no WAL (or the WAL could not be opened: `walError`). */
  timeline: WalTimeline | null
  walError: string | null
  snap: SnapResult | null
  snapError: string | null
  space: ReportSpace
}

export interface ReportOptions {
  walDir?: string
  /** Keep reading the WAL past bad records (as `wal --tolerant`). */
  tolerant?: boolean
  /** Timeline buckets (default 200). */
  buckets?: number
  markerCap?: number
  toolVersion?: string
  /** Skip the /proc/locks check (tests). */
  skipLockCheck?: boolean
}

/** Gathers everything the report shows. Read-only, like every inspection command. */
export async function collectReport(dir: string, opts: ReportOptions = {}): Promise<ReportResult> {
  const status = await collectStatus(dir, { ...(opts.walDir ? { walDir: opts.walDir } : {}), ...(opts.skipLockCheck ? { skipLockCheck: true } : {}) })
  let timeline: WalTimeline | null = null
  let walError: string | null = null
  if (status.walDir && status.sizes.walSegments > 0) {
    try {
      timeline = buildTimeline(streamWal(dir, { walDir: opts.walDir, tolerant: opts.tolerant ?? false }), { buckets: opts.buckets, markerCap: opts.markerCap })
    } catch (err) {
      if (!(err instanceof InspectError)) throw err
      walError = err.message
    }
  } else {
    walError = status.integrity.wal.detail
  }
  let snap: SnapResult | null = null
  let snapError: string | null = null
  if (status.snapDir) {
    try {
      // The WAL side of `snap` is already on the page (timeline): do not read the log again.
      snap = await runSnap(dir, { noWal: true })
    } catch (err) {
      if (!(err instanceof InspectError)) throw err
      snapError = err.message
    }
  }
  return {
    resultVersion: 1, generatedAt: new Date().toISOString(), toolVersion: opts.toolVersion ?? 'unknown', path: dir,
    status, timeline, walError, snap, snapError, space: collectSpace(status.dbFile),
  }
}

/** Space: `db space` (live / history / tombstones by prefix, free pages, the compaction forecast). */
function collectSpace(dbFile: string | null): ReportSpace {
  if (!dbFile) return { space: null, detail: 'no member/snap/db' }
  try {
    return { space: collectDbSpace(dbFile), detail: 'etcd-inspect db space' }
  } catch (err) {
    if (!(err instanceof InspectError)) throw err
    return { space: null, detail: err.message }
  }
}

/**
 * Folds the `streamWal` items into the timeline. Buckets start one index wide and double (pairs
 * merge) whenever the log outgrows `buckets`, so the result has at most `buckets` bars whatever
 * the log's length, and the pass keeps no entry.
 */
export function buildTimeline(items: Iterable<WalStreamItem>, opts: { buckets?: number; markerCap?: number } = {}): WalTimeline {
  const max = Math.max(2, opts.buckets ?? DEFAULT_TIMELINE_BUCKETS)
  const cap = opts.markerCap ?? DEFAULT_MARKER_CAP
  let base: bigint | null = null
  let width = 1
  let slots: (TimelineBucket | undefined)[] = []
  const mark = <T>(): MarkList<T> => ({ items: [], total: 0 })
  const push = <T>(l: MarkList<T>, x: T): void => {
    l.total++
    if (l.items.length < cap) l.items.push(x)
  }
  const terms = mark<TimelineMark>()
  const confChanges = mark<TimelineMark & { change: string; nodeIdHex: string }>()
  const compactions = mark<TimelineMark & { revision: string | null }>()
  const findings = mark<TimelineFinding>()
  let prevTerm: bigint | null = null
  let lastSeen: bigint | null = null
  let result: Extract<WalStreamItem, { kind: 'summary' }>['result'] | undefined
  let header: Extract<WalStreamItem, { kind: 'header' }>['header'] | undefined

  const fold = (): void => {
    // Double the width: bucket i and i+1 become bucket i/2.
    const next: (TimelineBucket | undefined)[] = []
    for (let i = 0; i < slots.length; i++) {
      const b = slots[i]
      if (!b) continue
      const j = i >> 1
      const into = next[j]
      next[j] = into ? merge(into, b) : b
    }
    width *= 2
    slots = next
    for (let j = 0; j < slots.length; j++) {
      const b = slots[j]
      if (b) {
        b.from = base! + BigInt(j * width)
        b.to = b.from + BigInt(width - 1)
      }
    }
  }

  for (const item of items) {
    if (item.kind === 'header') {
      header = item.header
      continue
    }
    if (item.kind === 'summary') {
      result = item.result
      continue
    }
    if (item.kind === 'finding') {
      const f = item.finding
      push(findings, { severity: f.severity, code: f.code, file: f.file, offset: f.offset, detail: f.detail, ...(f.hint ? { hint: f.hint } : {}), afterIndex: lastSeen })
      continue
    }
    const e = item.entry
    if (base === null) base = e.index
    // An index below the first one (an overwrite reaching back) is counted in the first bucket.
    const off = e.index < base ? 0 : Number(e.index - base)
    let slot = Math.floor(off / width)
    while (slot >= max) {
      fold()
      slot = Math.floor(off / width)
    }
    let b = slots[slot]
    if (!b) {
      const from = base + BigInt(slot * width)
      b = { from, to: from + BigInt(width - 1), entries: 0, byType: {}, byKind: {}, dataBytes: 0, minTerm: e.term, maxTerm: e.term, uncommitted: 0, replacing: 0, termChanges: 0 }
      slots[slot] = b
    }
    b.entries++
    b.byType[e.type] = (b.byType[e.type] ?? 0) + 1
    const p = e.payload
    const kind = kindOf(p)
    b.byKind[kind] = (b.byKind[kind] ?? 0) + 1
    b.dataBytes += e.dataBytes
    if (e.term < b.minTerm) b.minTerm = e.term
    if (e.term > b.maxTerm) b.maxTerm = e.term
    if (!e.committed) b.uncommitted++
    if (e.replaces?.length) b.replacing++
    if (prevTerm === null || e.term !== prevTerm) {
      if (prevTerm !== null) b.termChanges++
      push(terms, { index: e.index, term: e.term, label: prevTerm === null ? `log starts in term ${e.term}` : `term ${prevTerm} → ${e.term}`, committed: e.committed })
      prevTerm = e.term
    }
    if (p.kind === 'confChange') {
      const c = p.confChange
      push(confChanges, { index: e.index, term: e.term, change: c.type, nodeIdHex: idHex(c.nodeId), committed: e.committed, label: `${c.type} ${idHex(c.nodeId)}` })
    } else if (p.kind === 'confChangeV2') {
      const changes = p.confChangeV2.changes
      const change = changes.map((c) => c.type).join('+') || 'ConfChangeV2'
      const node = changes.map((c) => idHex(c.nodeId)).join(',')
      push(confChanges, { index: e.index, term: e.term, change, nodeIdHex: node, committed: e.committed, label: `${change} ${node}` })
    }
    if (p.kind === 'irr' && p.request.kind === 'compaction') {
      const rev = p.request.revision
      push(compactions, { index: e.index, term: e.term, revision: rev === undefined ? null : String(rev), committed: e.committed, label: `compact to revision ${rev ?? '?'}` })
    }
    lastSeen = e.index
  }
  if (!result) throw new Error('WAL stream ended without a summary')
  const s = result.summary
  const snapshotRecords = mark<{ index: bigint; term: bigint; file: string; offset: number }>()
  for (const r of result.snapshots as SnapshotRecord[]) push(snapshotRecords, { index: r.index, term: r.term, file: r.file, offset: r.offset })
  return {
    bucketWidth: BigInt(width),
    buckets: slots.filter((b): b is TimelineBucket => b !== undefined),
    entries: s.entries,
    byType: s.byType,
    byKind: s.byKind,
    firstIndex: s.firstIndex ?? null,
    lastIndex: s.lastIndex ?? null,
    commit: (s.hardState ?? header?.hardState)?.commit ?? null,
    uncommitted: s.uncommitted,
    terms, confChanges, compactions, snapshotRecords, findings,
    segments: result.segments.map((g) => ({ file: g.file, size: g.size, entries: g.entries, firstIndex: g.firstIndex, lastIndex: g.lastIndex, end: g.end, lastValidOffset: g.lastValidOffset })),
    end: s.end,
    lastValid: s.lastValid ?? null,
    summary: s,
  }
}

function merge(a: TimelineBucket, b: TimelineBucket): TimelineBucket {
  a.entries += b.entries
  for (const [k, n] of Object.entries(b.byType)) a.byType[k] = (a.byType[k] ?? 0) + n
  for (const [k, n] of Object.entries(b.byKind)) a.byKind[k] = (a.byKind[k] ?? 0) + n
  a.dataBytes += b.dataBytes
  if (b.minTerm < a.minTerm) a.minTerm = b.minTerm
  if (b.maxTerm > a.maxTerm) a.maxTerm = b.maxTerm
  a.uncommitted += b.uncommitted
  a.replacing += b.replacing
  a.termChanges += b.termChanges
  return a
}
