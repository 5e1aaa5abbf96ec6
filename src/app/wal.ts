/**
 * The fast WAL library API for other commands (`status`, `check`, `snap`): identity, HardState,
 * index range, snapshot records, segments, end-of-log classification and conf changes, without
 * decoding the payloads of normal entries. Cost is one sequential pass with the CRC chain (about
 * the speed of CRC-32C over the used part of the segments; preallocated zeros are never read).
 */
import { existsSync } from 'node:fs'
import { join, relative } from 'node:path'
import { openFile } from '../io/byte-source.js'
import { resolveDataDir, type DataDirLayout } from '../io/datadir.js'
import { listWalDir, openSegments, type WalDirListing } from '../io/wal-files.js'
import { readLog, type LogState, type SegmentStats, type SnapshotRecord } from '../format/wal/log.js'
import { LogLinks, metadataConflict, type MetadataRecord } from '../format/wal/links.js'
import { endOfFindings, walFinding, type WalEndStatus, type WalFinding } from '../format/wal/findings.js'
import { decodePayload, EntryType, kindOf, type HardState } from '../format/raft/entry.js'
import { hardStateOut, idHex, type HardStateOut } from '../format/ids.js'
import { InputError } from '../errors.js'
import { IrrRequests } from '../format/raft/schemas.js'
import type { LogSegment } from '../format/wal/log.js'
import type { DecodedEntry, EntryPayload, EntryTypeName, Request, RequestOp, WalSnapshot } from '../format/raft/entry.js'
import { decodeHardState, decodeMetadata, decodeWalSnapshot } from '../format/raft/entry.js'
import { decodeWal } from '../format/wal/decoder.js'
import { RecordType } from '../format/wal/record.js'
import { scanSegment } from '../io/wal-scan.js'

export interface WalReadOptions {
  /** Separate WAL location (etcd's --wal-dir). */
  walDir?: string
  /** Keep going after corruption and report every finding. */
  tolerant?: boolean
  /** Check the CRC chain (default true). */
  verifyCrc?: boolean
  /** Reused read buffer size (default 4 MiB). */
  chunkBytes?: number
}

/** A conf change entry, as the summary reports it. */
export interface ConfChangeSummary {
  index: bigint
  term: bigint
  /** 'confChange' | 'confChangeV2' */
  entryType: string
  /** ConfChangeAddNode, ConfChangeRemoveNode, ConfChangeUpdateNode, ConfChangeAddLearnerNode */
  type: string
  nodeId: bigint
  nodeIdHex: string
  /** raft request id (ConfChange.id) */
  id?: bigint
  name?: string
  peerURLs?: string[]
  clientURLs?: string[]
  isLearner?: boolean
  isPromote?: boolean
  /** Index <= last HardState.commit. */
  committed: boolean
  /** A later entry with the same index replaced this one. */
  replaced?: boolean
}

export interface WalSummary {
  layout: DataDirLayout
  memberId?: string
  clusterId?: string
  memberIdDec?: bigint
  clusterIdDec?: bigint
  hardState?: HardState
  firstIndex?: bigint
  lastIndex?: bigint
  minTerm?: bigint
  maxTerm?: bigint
  entryCount: number
  entryTypes: LogState['entryTypes']
  snapshots: SnapshotRecord[]
  segments: SegmentStats[]
  files: Pick<WalDirListing, 'tmp' | 'broken' | 'unknown'>
  /** clean | torn-tail | corrupt (the worst finding decides; see docs/wal.md). */
  end: WalEndStatus
  /** Where the valid log ends. */
  lastValid?: { file: string; offset: number }
  findings: WalFinding[]
  confChanges: ConfChangeSummary[]
}

/** Lists the WAL dir and opens its segments; shared by the summary and the full reader. */
export function openWal(dir: string, opts: WalReadOptions) {
  const layout = resolveDataDir(dir, { walDir: opts.walDir })
  const listing = listWalDir(layout.walDir)
  if (listing.segments.length === 0) {
    throw new InputError(`${layout.walDir}: no WAL segments (*.wal)${listing.tmp.length ? ` (only ${listing.tmp.map((t) => t.name).join(', ')})` : ''}`, layout.walDir, 'no-wal',
      'etcd would treat this member as new (no WAL); check the path or --wal-dir')
  }
  const display = (f: { path: string }) => relative(dir, f.path) || f.path
  const opened = openSegments(listing.segments, display)
  return { layout, listing, opened }
}

/** Directory-level findings: seq gaps, leftover files. */
export function listingFindings(listing: WalDirListing, display: (name: string) => string): WalFinding[] {
  const out: WalFinding[] = []
  for (const g of listing.gaps) {
    out.push(walFinding('seq-gap', display(g.next.name), -1,
      `wal: file sequence numbers do not increase continuously: ${g.after.name} (seq ${g.after.seq}) is followed by ${g.next.name} (seq ${g.next.seq})`))
  }
  for (const t of listing.tmp) out.push(walFinding('tmp-file', display(t.name), -1, `wal: ${t.name} (${t.size} bytes) is the preallocated next segment; etcd ignores it`))
  for (const b of listing.broken) out.push(walFinding('broken-file', display(b.name), -1, `wal: ${b.name} (${b.size} bytes) is a copy made by a WAL repair (torn tail truncated); keep it for analysis`))
  for (const u of listing.unknown) out.push(walFinding('unknown-file', display(u.name), -1, `wal: ${u.name} is not a WAL file; etcd ignores it`))
  return out
}

/**
 * Reads the WAL of a data dir (or member/ or wal/ dir) and returns its summary. Throws InputError
 * for paths that are not WAL dirs; every problem in the bytes is a finding.
 */
export function readWalSummary(dir: string, opts: WalReadOptions = {}): WalSummary {
  const { layout, listing, opened } = openWal(dir, opts)
  const display = (name: string) => relative(dir, `${layout.walDir}/${name}`) || name
  const dirFindings = listingFindings(listing, display)
  const confs: ConfChangeSummary[] = []
  let state: LogState
  try {
    const log = readLog(opened.segments, { tolerant: opts.tolerant, verifyCrc: opts.verifyCrc, chunkBytes: opts.chunkBytes, onlyUnusual: true })
    state = log.state
    for (const item of log.items) {
      if (item.kind !== 'entry') continue
      const e = item.entry
      if (e.replaces) {
        for (const c of confs) if (c.index >= e.index) c.replaced = true
      }
      if (e.entryType === EntryType.Normal) continue
      const p = decodePayload(e.entryType, e.data)
      if (p.kind === 'confChange') {
        const c = p.confChange
        confs.push({ index: e.index, term: e.term, entryType: 'confChange', type: c.type, nodeId: c.nodeId, nodeIdHex: idHex(c.nodeId), id: c.id, ...c.member && memberFields(c.member), committed: false })
      } else if (p.kind === 'confChangeV2') {
        for (const ch of p.confChangeV2.changes) {
          confs.push({ index: e.index, term: e.term, entryType: 'confChangeV2', type: ch.type, nodeId: ch.nodeId, nodeIdHex: idHex(ch.nodeId), ...p.confChangeV2.member && memberFields(p.confChangeV2.member), committed: false })
        }
      }
    }
  } finally {
    opened.close()
  }
  const commit = state.hardState?.commit ?? 0n
  for (const c of confs) c.committed = c.index <= commit
  const findings = [...dirFindings, ...state.findings]
  return {
    layout,
    memberId: state.metadata?.nodeIdHex,
    clusterId: state.metadata?.clusterIdHex,
    memberIdDec: state.metadata?.nodeId,
    clusterIdDec: state.metadata?.clusterId,
    hardState: state.hardState,
    firstIndex: state.firstIndex,
    lastIndex: state.lastIndex,
    minTerm: state.minTerm,
    maxTerm: state.maxTerm,
    entryCount: state.entryCount,
    entryTypes: state.entryTypes,
    snapshots: state.snapshots,
    segments: state.segments,
    files: { tmp: listing.tmp, broken: listing.broken, unknown: listing.unknown },
    end: endStatus(state, findings),
    lastValid: state.end?.lastValid,
    findings,
    confChanges: confs,
  }
}

function memberFields(m: { name?: string; peerURLs?: string[]; clientURLs?: string[]; isLearner?: boolean; isPromote?: boolean }) {
  const o: Partial<ConfChangeSummary> = {}
  if (m.name !== undefined) o.name = m.name
  if (m.peerURLs) o.peerURLs = m.peerURLs
  if (m.clientURLs) o.clientURLs = m.clientURLs
  if (m.isLearner !== undefined) o.isLearner = m.isLearner
  if (m.isPromote !== undefined) o.isPromote = m.isPromote
  return o
}

/** Overall verdict: any error finding → corrupt; else a torn-tail finding → torn-tail; else clean. */
export function endStatus(state: Pick<LogState, 'end'>, findings: readonly { severity: string; code: string }[]): WalEndStatus {
  return endOfFindings(findings, state.end?.status)
}

// ---------------------------------------------------------------------------------------------
// `etcd-inspect wal`: the full result (every entry decoded once into the union, then presented).
// ---------------------------------------------------------------------------------------------

export interface WalOptions extends WalReadOptions {
  /** Inclusive bounds on the raft index. */
  startIndex?: bigint
  endIndex?: bigint
  /** Entry types / request kinds to keep (see docs/wal.md). */
  types?: string[]
  /** Keep entries touching this exact key (puts, deletes, ranges, txn compares and ops, v2 paths). */
  key?: string
  /** Keep entries touching keys with this prefix. */
  prefix?: string
  /** Keep conf changes for this member ID. */
  member?: bigint
  /** Start after the newest WAL snapshot record at or below the HardState commit (what etcd does at boot). */
  fromSnapshot?: boolean
  /** Print put values (printable text as text, else hex) instead of length + sha256 (the render layer's wal-entry.ts; the parallel path steps aside). */
  showValues?: boolean
  /**
   * Continue output another reader started (app/wal-parallel.ts): no header or directory findings,
   * and the entries before the `skip`th entry of `segment` are read and counted but not yielded.
   */
  resume?: { segment: number; skip: number }
  /**
   * Mark entries that a later entry with the same index replaced (`replaced`, not `committed`). It
   * is known only further on in the log, so a framing pass finds the replaced entries first (a
   * second reader pass only when the log holds overwrites at all). The ndjson contract leaves it out.
   */
  markReplaced?: boolean
  /**
   * Entries keep their bytes: decoded from a copy of the entry data, not from views of the
   * reader's buffer (which the next read overwrites). For callers that hold entries (runWal).
   */
  ownBytes?: boolean
}

/**
 * One decoded entry as `wal` streams it: the entry union (format/raft/entry.ts) plus where it is
 * and what the rest of the log made of it. Presentation (JSON shape, redaction, value classes) is
 * wal-entry.ts of the render layer.
 */
export interface WalEntry extends DecodedEntry {
  file: string
  offset: number
  /** index <= last HardState.commit (false for an entry a later one replaced) */
  committed: boolean
  /** entries (index, term) this one replaced: uncommitted entries overwritten by a new leader */
  replaces?: { index: bigint; term: bigint; file: string; offset: number }[]
  /** a later entry with the same index replaced this one (only with `markReplaced`) */
  replaced?: boolean
}

export interface WalResultSummary {
  end: WalEndStatus
  entries: number
  shown: number
  byType: Record<string, number>
  byKind: Record<string, number>
  firstIndex?: bigint
  lastIndex?: bigint
  minTerm?: bigint
  maxTerm?: bigint
  hardState?: HardStateOut
  uncommitted: { count: number; from?: bigint; to?: bigint }
  replaced: number
  errors: number
  warnings: number
  lastValid?: { file: string; offset: number }
}

export interface WalResult {
  version: 1
  dir: string
  walDir: string
  memberId?: string
  clusterId?: string
  hardState?: HardStateOut
  fromSnapshot?: { index: bigint; term: bigint }
  segments: SegmentStats[]
  files: Pick<WalDirListing, 'tmp' | 'broken' | 'unknown'>
  snapshots: SnapshotRecord[]
  entries: WalEntry[]
  findings: WalFinding[]
  summary: WalResultSummary
}

/** Items of the streaming variant, in order: entries and findings, then one summary. */
export type WalStreamItem =
  | { kind: 'entry'; entry: WalEntry }
  | { kind: 'finding'; finding: WalFinding }
  | { kind: 'header'; header: Omit<WalResult, 'entries' | 'findings' | 'summary' | 'segments' | 'snapshots'> }
  | { kind: 'summary'; result: Omit<WalResult, 'entries'> }

/** The full result (all selected entries in memory). Use `streamWal` for large logs. */
export function runWal(dir: string, opts: WalOptions = {}): WalResult {
  const entries: WalEntry[] = []
  let last: Omit<WalResult, 'entries'> | undefined
  for (const item of streamWal(dir, { ...opts, markReplaced: true, ownBytes: true })) {
    if (item.kind === 'entry') entries.push(item.entry)
    else if (item.kind === 'summary') last = item.result
  }
  const r = last!
  return { version: 1, dir: r.dir, walDir: r.walDir, memberId: r.memberId, clusterId: r.clusterId, hardState: r.hardState, fromSnapshot: r.fromSnapshot,
    segments: r.segments, files: r.files, snapshots: r.snapshots, entries, findings: r.findings, summary: r.summary }
}

/**
 * Streaming variant: one pre-pass over the framing only (no CRC, no payloads) learns the final
 * HardState and the snapshot records, so every streamed entry can say whether it is committed;
 * then the checked pass yields entries one by one. Memory stays flat.
 */
export function* streamWal(dir: string, opts: WalOptions = {}): Generator<WalStreamItem, void, undefined> {
  const { layout, listing, opened } = openWal(dir, opts)
  const pre = prePass(opened.segments, opts.fromSnapshot ?? false)
  const replaced = opts.markReplaced ? replacedEntries(opened.segments, opts) : undefined
  const replacedAt = replaced?.size ? replaced : undefined
  const commit = pre.hardState?.commit
  let fromSnapshot: { index: bigint; term: bigint } | undefined
  if (opts.fromSnapshot) {
    // etcd: wal.ValidSnapshotEntries keeps snapshot records with index <= commit; boot uses the newest.
    for (const s of pre.snapshots) if (commit !== undefined && s.index <= commit && (!fromSnapshot || s.index >= fromSnapshot.index)) fromSnapshot = { index: s.index, term: s.term }
  }
  const display = (name: string) => relative(dir, `${layout.walDir}/${name}`) || name
  const walDir = layout.walDir
  const files = { tmp: listing.tmp, broken: listing.broken, unknown: listing.unknown }
  if (!opts.resume) yield { kind: 'header', header: { version: 1, dir, walDir, memberId: pre.memberId, clusterId: pre.clusterId, hardState: hardStateOut(pre.hardState), fromSnapshot, files } }
  const findings = listingFindings(listing, display)
  const resume = opts.resume
  if (!resume) for (const f of findings) yield { kind: 'finding', finding: f }
  let resumeSeg = -1
  let resumeSkipped = 0
  const filter = makeFilter(opts, fromSnapshot)
  const byType: Record<string, number> = {}
  const byKind: Record<string, number> = {}
  let shown = 0
  let state: LogState
  let uncommitted = { count: 0, from: undefined as bigint | undefined, to: undefined as bigint | undefined }
  try {
    const log = readLog(opened.segments, { tolerant: opts.tolerant, verifyCrc: opts.verifyCrc, chunkBytes: opts.chunkBytes })
    state = log.state
    for (const item of log.items) {
      if (item.kind === 'finding') {
        yield item
        continue
      }
      const e = item.entry
      // One object per entry, built whole (a spread copy of a decoded entry cost ~1 µs an entry on the hot path).
      const decoded: WalEntry = { type: entryTypeName(e.entryType), entryType: e.entryType, term: e.term, index: e.index, dataBytes: e.data.length,
        payload: decodePayload(e.entryType, opts.ownBytes ? e.data.slice() : e.data), file: e.file, offset: e.offset, committed: false }
      byType[decoded.type] = (byType[decoded.type] ?? 0) + 1
      const k = kindOf(decoded.payload)
      byKind[k] = (byKind[k] ?? 0) + 1
      const committed = commit !== undefined && e.index <= commit
      if (!committed) {
        uncommitted.count++
        if (uncommitted.from === undefined || e.index < uncommitted.from) uncommitted.from = e.index
        if (uncommitted.to === undefined || e.index > uncommitted.to) uncommitted.to = e.index
      }
      if (!filter(decoded)) continue
      shown++
      if (resume && e.segment <= resume.segment) {
        if (e.segment < resume.segment) continue
        if (resumeSeg !== e.segment) {
          resumeSeg = e.segment
          resumeSkipped = 0
        }
        if (resumeSkipped < resume.skip) {
          resumeSkipped++
          continue
        }
      }
      const out = decoded
      out.committed = committed
      if (e.replaces?.length) out.replaces = e.replaces
      if (replacedAt?.has(`${e.file}@${e.offset}`)) {
        // the index is committed, but with the entry that replaced this one
        out.replaced = true
        out.committed = false
      }
      yield { kind: 'entry', entry: out }
    }
  } finally {
    opened.close()
  }
  const all = [...findings, ...state.findings]
  const summary: WalResultSummary = {
    end: endStatus(state, all), entries: state.entryCount, shown, byType, byKind,
    firstIndex: state.firstIndex, lastIndex: state.lastIndex, minTerm: state.minTerm, maxTerm: state.maxTerm, hardState: hardStateOut(state.hardState),
    uncommitted, replaced: state.replacedCount,
    errors: all.filter((f) => f.severity === 'error').length, warnings: all.filter((f) => f.severity === 'warning').length,
    lastValid: state.end?.lastValid,
  }
  yield { kind: 'summary', result: { version: 1, dir, walDir, memberId: state.metadata?.nodeIdHex, clusterId: state.metadata?.clusterIdHex, hardState: hardStateOut(state.hardState),
    fromSnapshot, segments: state.segments, files, snapshots: state.snapshots, findings: all, summary } }
}

/** What the pre-pass learns. */
export interface PrePass {
  hardState?: HardState
  snapshots: WalSnapshot[]
  memberId?: string
  clusterId?: string
}

/**
 * The framing-only pre-pass of `streamWal` (and of the parallel `wal`): no CRC, no entry payloads; just the last HardState,
 * the snapshot records (only when `snapshots` is asked for) and the identity. Bad bytes are left to
 * the checked pass to report. The framing of a segment does not depend on the others when the CRC
 * is not checked, so the identity comes from the first segment(s) up to the first metadata record,
 * and the last HardState from the last segment that holds one (etcd writes one at the start of
 * every segment): usually one segment is read instead of all of them.
 */
export function prePass(segments: readonly LogSegment[], snapshots: boolean): PrePass {
  const out: PrePass = { snapshots: [] }
  /**
   * Scans segments[from..to) (the last one keeps its last-segment rules); stops when `done` says
   * so. `chunkBytes`: the reader's window, small for a scan that stops at the head of a segment.
   */
  const scan = (from: number, to: number, onRecord: (type: number, data: Uint8Array) => boolean, chunkBytes?: number): void => {
    // decodeWal treats the last segment it is given as the last one: hand it the real tail when it is included.
    const list = to === segments.length ? segments.slice(from) : segments.slice(from, to)
    const lastIsReal = to === segments.length
    for (const ev of decodeWal(lastIsReal ? list : [...list, EMPTY_SEGMENT], { verifyCrc: false, tolerant: true, chunkBytes })) {
      if (ev.kind !== 'record') continue
      try {
        if (onRecord(ev.type, ev.data)) return
      } catch {}
    }
  }
  // The metadata record is the second of a segment: a 64 KiB window, not the default 4 MiB (the
  // buffer and the read cost ~15 ms before the first entry of `wal` is out).
  scan(0, segments.length, (type, data) => {
    if (type !== RecordType.Metadata) return false
    const m = decodeMetadata(data)
    out.memberId = idHex(m.nodeId)
    out.clusterId = idHex(m.clusterId)
    return true
  }, 64 * 1024)
  if (snapshots) {
    scan(0, segments.length, (type, data) => {
      if (type === RecordType.State) out.hardState = decodeHardState(data)
      else if (type === RecordType.Snapshot) out.snapshots.push(decodeWalSnapshot(data))
      return false
    })
    return out
  }
  // The frame-only scan (io/wal-scan.ts): the record reader's events cost 4–5x as much on a full
  // 64 MB last segment (~200 against ~40 ms), all of it before the first entry is out.
  for (let i = segments.length - 1; i >= 0 && out.hardState === undefined; i--) {
    const seg = segments[i]!
    out.hardState = scanSegment(seg.file, seg.source, { zeroTail: i === segments.length - 1 }).hardState ?? undefined
  }
  return out
}

/**
 * `file@offset` of every entry a later entry with the same or a lower index replaced. A framing scan
 * (no CRC, heads of big frames only) shows whether any index fails to increase; only then does the
 * checked reader run over the log to name the replaced entries (the bounded window above the commit).
 */
export function replacedEntries(segments: readonly LogSegment[], opts: WalReadOptions): Set<string> {
  const out = new Set<string>()
  let prevLast: bigint | null = null
  let regular = true
  for (const seg of segments) {
    const s = scanSegment(seg.file, seg.source)
    if (s.corrupt || s.overwrites.length > 0 || (prevLast !== null && s.minIndex !== null && s.minIndex <= prevLast)) {
      regular = false
      break
    }
    prevLast = s.lastIndex ?? prevLast
  }
  if (regular) return out
  const log = readLog(segments, { tolerant: opts.tolerant, verifyCrc: opts.verifyCrc, chunkBytes: opts.chunkBytes, onlyUnusual: true })
  for (const item of log.items) {
    if (item.kind === 'entry') for (const r of item.entry.replaces ?? []) out.add(`${r.file}@${r.offset}`)
  }
  return out
}

/** A zero-length stand-in so that decodeWal reads a non-last segment under non-last rules. */
const EMPTY_SEGMENT: LogSegment = { file: '', source: { byteLength: 0, readInto: () => 0 } }

function entryTypeName(t: number): EntryTypeName {
  return t === 0 ? 'normal' : t === 1 ? 'confChange' : t === 2 ? 'confChangeV2' : 'unknown'
}


const TYPE_GROUPS: Record<string, (kind: string, type: string, p: EntryPayload) => boolean> = {
  normal: (_k, t) => t === 'normal',
  conf: (_k, t) => t === 'confChange' || t === 'confChangeV2',
  irr: (_k, _t, p) => p.kind === 'irr',
  lease: (k) => k.startsWith('lease'),
  auth: (k) => k.startsWith('auth'),
  member: (k) => k === 'clusterMemberAttrSet' || k === 'confChange' || k === 'confChangeV2',
}

/** Known --type values (entry types, groups and request kinds). */
export const TYPE_NAMES = ['normal', 'confChange', 'confChangeV2', 'conf', 'noop', 'v2', 'irr', 'unknown', 'lease', 'auth', 'member',
  ...IrrRequests.map(([, k]) => k), 'empty']

function makeFilter(opts: WalOptions, fromSnapshot?: { index: bigint }): (e: DecodedEntry) => boolean {
  const key = opts.key !== undefined ? Buffer.from(opts.key) : undefined
  const prefix = opts.prefix !== undefined ? Buffer.from(opts.prefix) : undefined
  return (e) => {
    if (opts.startIndex !== undefined && e.index < opts.startIndex) return false
    if (opts.endIndex !== undefined && e.index > opts.endIndex) return false
    if (fromSnapshot && e.index <= fromSnapshot.index) return false
    if (opts.types?.length) {
      const k = kindOf(e.payload)
      if (!opts.types.some((t) => t === k || t === e.type || TYPE_GROUPS[t]?.(k, e.type, e.payload))) return false
    }
    if (opts.member !== undefined) {
      const p = e.payload
      if (p.kind === 'confChange') { if (p.confChange.nodeId !== opts.member) return false }
      else if (p.kind === 'confChangeV2') { if (!p.confChangeV2.changes.some((c) => c.nodeId === opts.member)) return false }
      else return false
    }
    if (key || prefix) {
      if (!touches(e.payload, key, prefix)) return false
    }
    return true
  }
}

function cmp(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b)
}
function startsWith(a: Uint8Array, p: Uint8Array): boolean {
  return a.length >= p.length && Buffer.compare(a.subarray(0, p.length), p) === 0
}
/** Does [key, rangeEnd) (etcd range semantics) touch `key` or any key with `prefix`? */
function rangeTouches(k: Uint8Array, end: Uint8Array | undefined, key?: Uint8Array, prefix?: Uint8Array): boolean {
  if (!end || end.length === 0) return key ? cmp(k, key) === 0 : startsWith(k, prefix!)
  const fromKey = end.length === 1 && end[0] === 0 // "\0": every key >= k
  if (key) return cmp(key, k) >= 0 && (fromKey || cmp(key, end) < 0)
  // prefix: [prefix, prefixEnd) overlaps [k, end)
  const pEnd = prefixEnd(prefix!)
  return (fromKey || pEnd === undefined || cmp(prefix!, end) < 0) && (pEnd === undefined || cmp(k, pEnd) < 0)
}
function prefixEnd(p: Uint8Array): Uint8Array | undefined {
  const e = Uint8Array.from(p)
  for (let i = e.length - 1; i >= 0; i--) {
    if (e[i]! < 0xff) {
      e[i]!++
      return e.subarray(0, i + 1)
    }
  }
  return undefined
}
function touches(p: EntryPayload, key?: Uint8Array, prefix?: Uint8Array): boolean {
  if (p.kind === 'v2Request') {
    const path = Buffer.from(p.request.path)
    return key ? cmp(path, key) === 0 : startsWith(path, prefix!)
  }
  if (p.kind !== 'irr') return false
  return reqTouches(p.request, key, prefix)
}
function reqTouches(r: Request | RequestOp, key?: Uint8Array, prefix?: Uint8Array): boolean {
  switch (r.kind) {
    case 'put': return rangeTouches(r.key, undefined, key, prefix)
    case 'deleteRange': return rangeTouches(r.key, r.rangeEnd, key, prefix)
    case 'range': return rangeTouches(r.key, r.rangeEnd, key, prefix)
    case 'txn':
      return r.compare.some((c) => rangeTouches(c.key, c.rangeEnd, key, prefix)) ||
        r.success.some((o) => reqTouches(o, key, prefix)) || r.failure.some((o) => reqTouches(o, key, prefix))
    case 'v2': {
      const path = Buffer.from(r.path)
      return key ? cmp(path, key) === 0 : startsWith(path, prefix!)
    }
    default: return false
  }
}

// ---------------------------------------------------------------------------------------------
// `etcd-inspect wal verify`: integrity only.
// ---------------------------------------------------------------------------------------------

export interface VerifySegment {
  file: string
  size: number
  records: number
  entries: number
  firstIndex?: bigint
  lastIndex?: bigint
  status: 'ok' | 'torn-tail' | 'corrupt' | 'not-read'
  end?: string
  lastValidOffset?: number
}

export interface VerifyResult {
  version: 1
  dir: string
  walDir: string
  memberId?: string
  clusterId?: string
  hardState?: HardStateOut
  segments: VerifySegment[]
  findings: WalFinding[]
  verdict: WalEndStatus
}

/**
 * `wal verify`. The common case, a regular log, is checked by a tight per-segment scan with the
 * CRC chain (io/wal-scan.ts: no event per record) and the links between segments (each CRC record
 * carries the previous segment's final value). Anything the scan cannot vouch for, from a torn
 * tail to an overwritten index, sends the whole log through the WAL library's reader, so findings
 * are always the reader's exact ones. `engine: 'reader'` forces that path (tests compare the two).
 */
export function verifyWal(dir: string, opts: WalReadOptions & { engine?: 'auto' | 'reader' } = {}): VerifyResult {
  if (!opts.tolerant && opts.verifyCrc !== false && opts.engine !== 'reader') {
    const fast = verifyByScan(dir, opts)
    if (fast) return fast
  }
  const s = readWalSummary(dir, { ...opts, verifyCrc: true })
  const segments: VerifySegment[] = s.segments.map((g) => {
    const fs = s.findings.filter((f) => f.file === g.file)
    const status: VerifySegment['status'] = g.end === undefined ? 'not-read'
      : fs.some((f) => f.severity === 'error') ? 'corrupt' : fs.some((f) => f.code === 'torn-tail') ? 'torn-tail' : 'ok'
    return { file: g.file, size: g.size, records: g.records, entries: g.entries, firstIndex: g.firstIndex, lastIndex: g.lastIndex, status, end: g.end, lastValidOffset: g.lastValidOffset }
  })
  return { version: 1, dir, walDir: s.layout.walDir, memberId: s.memberId, clusterId: s.clusterId, hardState: hardStateOut(s.hardState), segments, findings: s.findings, verdict: s.end }
}

/** The scan path of `verifyWal`; null when the log is not regular enough for it to be exact. */
export function verifyByScan(dir: string, opts: WalReadOptions): VerifyResult | null {
  const { layout, listing, opened } = openWal(dir, opts)
  const display = (name: string) => relative(dir, `${layout.walDir}/${name}`) || name
  const findings = listingFindings(listing, display)
  // Only the informational ones (.tmp, .broken) leave the verdict to the records.
  if (findings.some((f) => f.severity !== 'info')) {
    opened.close()
    return null
  }
  const segments: VerifySegment[] = []
  let hardState: HardState | undefined
  // The rules between segments (format/wal/links.ts), as the reader checks them.
  const links = new LogLinks()
  let meta: Uint8Array | null = null
  try {
    const n = opened.segments.length
    for (let i = 0; i < n; i++) {
      const seg = opened.segments[i]!
      const scan = scanSegment(seg.file, seg.source, { crc: true, zeroTail: i === n - 1 })
      if (scan.corrupt || scan.irregular || scan.findings.length > 0 || scan.metadata === null) return null
      let snapBeforeFirst: bigint | null = null
      for (const r of scan.snapshots) if (r.pos < scan.firstEntryPos && (snapBeforeFirst === null || r.index > snapBeforeFirst)) snapBeforeFirst = r.index
      const broken = links.add({ file: seg.file, head: true, nameIndex: seg.nameIndex, crcRecord: scan.crcRecord, metadata: scan.metadata,
        firstIndex: scan.firstIndex ?? undefined, lastIndex: scan.lastIndex ?? undefined, firstOffset: scan.firstEntryOffset,
        snapBeforeFirst, snapshots: scan.snapshots, crcEnd: scan.crcEnd })
      if (broken !== null) return null
      meta ??= scan.metadata
      if (scan.hardState) hardState = scan.hardState
      segments.push({ file: seg.file, size: seg.source.byteLength, records: scan.records, entries: scan.entries,
        firstIndex: scan.firstIndex ?? undefined, lastIndex: scan.lastIndex ?? undefined, status: 'ok', end: scan.end, lastValidOffset: scan.lastValidOffset })
    }
  } finally {
    opened.close()
  }
  if (links.startGap(hardState?.commit)) return null
  let m: { nodeId: bigint; clusterId: bigint }
  try {
    m = decodeMetadata(meta!)
  } catch {
    return null
  }
  return { version: 1, dir, walDir: layout.walDir, memberId: idHex(m.nodeId), clusterId: idHex(m.clusterId), hardState: hardStateOut(hardState), segments, findings, verdict: 'clean' }
}

// ---------------------------------------------------------------------------------------------
// Identity for `replace`: the metadata record heading the segments, through the checked reader.
// ---------------------------------------------------------------------------------------------

/** Member and cluster ID of a data dir, from the WAL metadata record (RECOVERY.md §1). */
export interface WalIdentity {
  memberId: bigint
  clusterId: bigint
  memberIdHex: string
  clusterIdHex: string
  /** Path of the segment it was read from (the first one). */
  segment: string
}

/** Paths of the WAL segments of a data dir (`<dataDir>/member/wal` or `walDir`), in log order; [] without a WAL dir. */
export function walSegmentPaths(dataDir: string, walDir?: string): string[] {
  const dir = walDir ?? join(dataDir, 'member', 'wal')
  if (!existsSync(dir)) return []
  return listWalDir(dir).segments.map((s) => s.path)
}

/** Bytes read from the head of a segment: the CRC and metadata records (a few hundred bytes). */
const HEAD_CHUNK = 64 * 1024

/** Why a segment head does not identify its dir: a finding from the table, with file and offset. */
export type WalHeadProblem = WalFinding

/**
 * The identity in the metadata record that heads a segment, read with the checked reader
 * (decodeWal over the one frame reader): frames bounds-checked (a short frame is a problem, never
 * clamped), the CRC record adopted and the metadata record's CRC verified against it, so a
 * damaged or forged head never identifies a dir. Reads only the head (the generator stops at the
 * metadata record). Either the identity or the problem (file and offset). Throws InputError on I/O.
 */
export function readSegmentHead(path: string): { identity: WalIdentity; metadata: MetadataRecord } | { problem: WalHeadProblem } {
  const src = openFile(path)
  try {
    for (const ev of decodeWal([{ file: path, source: src }], { chunkBytes: HEAD_CHUNK })) {
      // Anything the reader finds before the metadata record (a torn or short frame included) disqualifies the head.
      if (ev.kind === 'finding') {
        // etcd writes a segment's head whole before it renames the segment into place: a head is never torn.
        const f = ev.finding
        return { problem: f.code === 'torn-tail' ? walFinding('missing-metadata', path, f.offset, `${f.detail}, before the metadata record (a segment head is written whole before the segment is renamed into place: it is never torn)`) : f }
      }
      if (ev.kind !== 'record') continue
      if (ev.type === RecordType.Crc && ev.status === 'adopted') continue
      if (ev.type !== RecordType.Metadata || ev.status !== 'ok') {
        return { problem: walFinding('missing-metadata', path, ev.offset, `wal: record at ${ev.offset} is a ${ev.type === RecordType.Crc ? 'second CRC' : `type ${ev.type}`} record (${ev.status}), not the checked metadata record that follows the CRC record`) }
      }
      try {
        const m = decodeMetadata(ev.data, path, ev.offset + 8 + (ev.recBytes - (ev.dataEnd - ev.dataStart)))
        return {
          identity: { memberId: m.nodeId, clusterId: m.clusterId, memberIdHex: idHex(m.nodeId), clusterIdHex: idHex(m.clusterId), segment: path },
          metadata: { bytes: ev.data.slice(), file: path, offset: ev.offset },
        }
      } catch (err) {
        return { problem: walFinding('bad-protobuf', path, ev.offset, `wal: the metadata record at ${ev.offset} passes its CRC but does not decode: ${err instanceof Error ? err.message : String(err)}`, { variant: 'payload' }) }
      }
    }
    return { problem: walFinding('missing-metadata', path, 0, 'wal: the segment ends before a metadata record') }
  } finally {
    src.close()
  }
}

/** `readSegmentHead`'s identity, or undefined. */
export function readSegmentIdentity(path: string): WalIdentity | undefined {
  const h = readSegmentHead(path)
  return 'identity' in h ? h.identity : undefined
}

/**
 * The identity of a data dir's WAL: the checked metadata record of the first segment, or with
 * `allSegments` of every segment, which must all agree (etcd: "conflicting metadata found").
 * `problem`: the first head that is damaged (file and offset). Neither: no WAL segment, or heads
 * that disagree.
 */
export function checkWalIdentity(dataDir: string, opts: { walDir?: string; allSegments?: boolean } = {}): { identity?: WalIdentity; problem?: WalHeadProblem } {
  const segs = walSegmentPaths(dataDir, opts.walDir)
  if (segs.length === 0) return {}
  const first = readSegmentHead(segs[0]!)
  if ('problem' in first) return first
  if (!opts.allSegments) return { identity: first.identity }
  for (const s of segs.slice(1)) {
    const h = readSegmentHead(s)
    if ('problem' in h) return h
    // etcd's rule (links.ts metadataConflict: byte for byte, as ReadAll), not a comparison of decoded IDs.
    if (metadataConflict(first.metadata, h.metadata)) return {}
  }
  return { identity: first.identity }
}

/** `checkWalIdentity`'s identity: undefined when there is no WAL or a head does not identify the dir. */
export function readWalIdentity(dataDir: string, opts: { walDir?: string; allSegments?: boolean } = {}): WalIdentity | undefined {
  return checkWalIdentity(dataDir, opts).identity
}
