/**
 * The facts `snap` and `status` need from the WAL and the bbolt db, as small interfaces.
 * The WAL and db libraries (src/format/wal, src/format/bbolt, src/format/backend) produce them;
 * this module is the one place that adapts their summaries to these shapes, so the two commands
 * never depend on a decoder's internals. Everything here is read-only.
 */
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { InputError, InspectError } from '../errors.js'
import { readDbSummary } from './db-summary.js'
import type { Finding } from './finding.js'
import { listWalDir, openSegments, type WalDirListing } from '../io/wal-files.js'
import { openFile } from '../io/byte-source.js'
import { listNames } from '../io/dir.js'
import { scanSegment, type SegmentScan } from '../io/wal-scan.js'
import { readLog, type LogState } from '../format/wal/log.js'
import { bootSnapshotIndex, logStartGap, metadataConflict } from '../format/wal/links.js'
import { endOfFindings, walFinding, type WalFinding } from '../format/wal/findings.js'
import { decodeMetadata, decodePayload, EntryType } from '../format/raft/entry.js'
import { idHex } from '../format/ids.js'

/** A WAL segment by name: `%016x-%016x.wal` = seq-index (FORMATS.md §2.1). */
export interface WalSegmentName {
  name: string
  seq: bigint
  /** Raft index of the first entry expected in the file. */
  index: bigint
  size: number
}

/** A membership change entry found in the WAL. */
export interface WalConfChange {
  index: bigint
  term: bigint
  type: 'add' | 'remove' | 'update' | 'add-learner'
  nodeId: bigint
  peerURLs?: string[]
}

/** What the WAL says, from one fast pass that does not decode entry payloads it does not need. */
export interface WalFacts {
  walDir: string
  segments: WalSegmentName[]
  /** Metadata record (identical in every segment). */
  metadata: { nodeId: bigint; clusterId: bigint } | null
  /** The last HardState record. */
  hardState: { term: bigint; vote: bigint; commit: bigint } | null
  firstIndex: bigint | null
  lastIndex: bigint | null
  /** Every walpb.Snapshot record, in log order (the first segment starts with {0, 0}). */
  snapshots: { index: bigint; term: bigint }[]
  confChanges: WalConfChange[]
  /** How the log ends: clean, torn tail in the last segment (repairable), or corruption. */
  end: { status: 'ok' | 'torn-tail' | 'corrupt'; file?: string; offset?: number; code?: string; detail?: string }
  /** Every error and warning the WAL reader found (seq gaps, CRC mismatches, torn tail, ...). */
  findings?: Finding[]
  /** WAL snapshot records carry a conf state (written from etcd 3.5). */
  snapshotConfState?: boolean
  /** Which segments were read (all, or from the one covering the hinted snapshot index). */
  range?: { fromSegment: string; segmentsRead: number; segmentsTotal: number }
  /**
   * The segments whose records were CRC-checked (from `fromSegment` to the end); the others in
   * `range` were frame-checked only (length words, record and entry headers). Undefined: all of `range`.
   */
  crcChecked?: { fromSegment: string; segments: number }
}

/** What the bbolt db says (etcd schema), from a read of its meta page and a few buckets. */
export interface DbFacts {
  file: string
  size: number
  consistentIndex: bigint | null
  term: bigint | null
  revision: bigint | null
  compactRevision: bigint | null
  members: { id: bigint; name: string; peerURLs: string[]; clientURLs: string[]; isLearner: boolean }[]
  removedMembers: bigint[]
  storageVersion: string | null
  clusterVersion: string | null
  /** Structural check summary if it was cheap enough to run. */
  check: { ok: boolean; detail: string } | null
  /** The bbolt meta page in use and why (a fallback to the older meta means the newer one is damaged). */
  meta: { index: 0 | 1; txid: bigint; reason: string; fellBack: boolean } | null
}

export type WalFactsReader = (walDir: string, hint?: WalReadHint) => Promise<WalFacts>
export type DbFactsReader = (dbFile: string) => Promise<DbFacts>

/** Thrown by a reader whose library is not available in this build. */
export class SourceUnavailableError extends InspectError {
  constructor(what: string) {
    super(`${what} reader is not available in this build`, 'unavailable', 'update etcd-inspect')
  }
}

/** Lists `%016x-%016x.wal` segments by name (no decoding), sorted by name = by seq. */
export function listWalSegments(walDir: string): WalSegmentName[] {
  const out: WalSegmentName[] = []
  for (const name of listNames(walDir).sort()) {
    const m = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/.exec(name)
    if (!m) continue
    let size = 0
    try {
      size = statSync(join(walDir, name)).size
    } catch {
      continue
    }
    out.push({ name, seq: BigInt('0x' + m[1]), index: BigInt('0x' + m[2]), size })
  }
  return out
}

const confChangeKinds: Record<string, WalConfChange['type']> = {
  ConfChangeAddNode: 'add', ConfChangeRemoveNode: 'remove', ConfChangeUpdateNode: 'update', ConfChangeAddLearnerNode: 'add-learner',
}

/** Where to start reading the WAL (status/check): see `readWalFacts`. */
export interface WalReadHint {
  /**
   * A raft index known to be <= the last snapshot index (the newest `.snap` index, the db's
   * consistent index). Reading starts at the newest segment whose first index is <= it, as etcd
   * does at boot (wal.go searchIndex); older segments are not read unless no snapshot record is
   * found from there. Undefined: read every segment.
   */
  fromIndex?: bigint
  /**
   * `readWalFactsFast` only: false = frame-check the last segment too, no CRC (`compare`: identity
   * and progress, not integrity). The CRC pass reads every byte of the last segment; with large
   * values that is most of the read (64 MB of 1 MiB values: ~350 of ~600 ms).
   */
  crcLastSegment?: boolean
}

/**
 * The WAL reader used by default: the WAL library's streaming log reader (CRC chain checked,
 * only conf-change payloads decoded) over the segments from the hinted one to the end.
 */
export const readWalFacts: WalFactsReader = async (walDir, hint = {}) => {
  const listing = listWalDir(walDir)
  const all = listing.segments
  if (all.length === 0) {
    throw new InputError(`${walDir}: no WAL segments (*.wal)`, walDir, 'no-wal', 'etcd would treat this member as new (no WAL); check the path or --wal-dir')
  }
  let start = 0
  if (hint.fromIndex !== undefined) {
    for (let i = all.length - 1; i >= 0; i--) {
      if (all[i]!.index <= hint.fromIndex) {
        start = i
        break
      }
    }
  }
  let facts = readRange(walDir, listing, start)
  // The hint was past the last valid snapshot record (an orphaned .snap, a db ahead of the WAL):
  // the range holds no record with index <= commit, so read everything.
  const commit = facts.hardState?.commit
  if (start > 0 && !facts.snapshots.some((r) => commit === undefined || r.index <= commit)) facts = readRange(walDir, listing, 0)
  return facts
}

/** Reads `segs` with the WAL library's log reader (CRC chain checked); conf changes not overwritten later. */
function readLogged(segs: WalDirListing['segments'], logStart = true): { state: LogState; confs: WalConfChange[] } {
  const opened = openSegments(segs)
  const confs: (WalConfChange & { replaced?: boolean })[] = []
  let state: LogState
  try {
    const log = readLog(opened.segments, { logStart })
    state = log.state
    for (const item of log.items) {
      if (item.kind !== 'entry') continue
      const e = item.entry
      if (e.replaces) for (const c of confs) if (c.index >= e.index) c.replaced = true
      if (e.entryType === EntryType.Normal) continue
      const p = decodePayload(e.entryType, e.data)
      const changes = p.kind === 'confChange' ? [{ type: p.confChange.type, nodeId: p.confChange.nodeId, member: p.confChange.member }]
        : p.kind === 'confChangeV2' ? p.confChangeV2.changes.map((ch) => ({ type: ch.type, nodeId: ch.nodeId, member: p.confChangeV2.member })) : []
      for (const ch of changes) {
        const type = confChangeKinds[ch.type]
        if (!type) continue
        confs.push({ index: e.index, term: e.term, type, nodeId: ch.nodeId, ...(ch.member?.peerURLs ? { peerURLs: ch.member.peerURLs } : {}) })
      }
    }
  } finally {
    opened.close()
  }
  // An entry overwritten by a later leader never took effect.
  return { state, confs: confs.filter((c) => !c.replaced).map(({ replaced: _r, ...c }) => c) }
}

type Findings = NonNullable<WalFacts['findings']>

function gapFindings(listing: WalDirListing, read: Set<string>): Findings {
  const findings: Findings = []
  for (const g of listing.gaps) {
    const inRange = read.has(g.next.name) && read.has(g.after.name)
    findings.push(factsFinding(walFinding('seq-gap', g.next.name, -1,
      `wal: file sequence numbers do not increase continuously: ${g.after.name} (seq ${g.after.seq}) is followed by ${g.next.name} (seq ${g.next.seq})`
        + (inRange ? '' : ' (before the segment etcd starts reading from)'),
      { severity: inRange ? 'error' : 'warning', variant: inRange ? 'inRange' : 'outOfRange' })))
  }
  return findings
}

/** A WAL finding in the shape `status`/`check` print (no offset when it is about the whole file). */
function factsFinding(f: WalFinding): Finding {
  return { severity: f.severity, code: f.code, file: f.file, ...(f.offset >= 0 ? { offset: f.offset } : {}), detail: f.detail, ...(f.hint ? { hint: f.hint } : {}) }
}

function logFindings(findings: readonly WalFinding[]): Findings {
  return findings.filter((f) => f.severity !== 'info').map(factsFinding)
}

function endOf(findings: Findings, logEnd: LogState['end'] | undefined, extraCorrupt: boolean): WalFacts['end'] {
  const end = extraCorrupt ? 'corrupt' : endOfFindings(findings, logEnd?.status)
  const endFinding = end === 'corrupt' ? findings.find((f) => f.severity === 'error') : end === 'torn-tail' ? findings.find((f) => f.code === 'torn-tail') : undefined
  return {
    status: end === 'clean' ? 'ok' : end,
    ...(endFinding ? { file: endFinding.file, ...(endFinding.offset !== undefined ? { offset: endFinding.offset } : {}), code: endFinding.code, detail: endFinding.detail } : {}),
  }
}

function readRange(walDir: string, listing: WalDirListing, start: number): WalFacts {
  const segs = listing.segments.slice(start)
  const { state, confs } = readLogged(segs)
  const findings = gapFindings(listing, new Set(segs.map((g) => g.name)))
  findings.push(...logFindings(state.findings))
  const first = listing.segments[0]!
  return {
    walDir,
    segments: listing.segments.map((g) => ({ name: g.name, seq: g.seq, index: g.index, size: g.size })),
    metadata: state.metadata ? { nodeId: state.metadata.nodeId, clusterId: state.metadata.clusterId } : null,
    hardState: state.hardState ?? null,
    // Unread older segments: their first entry is the one the oldest segment's name announces
    // (segment 0 is named index 0 and starts at entry 1).
    firstIndex: start === 0 ? state.firstIndex ?? null : first.index === 0n ? 1n : first.index,
    lastIndex: state.lastIndex ?? null,
    snapshots: state.snapshots.map((r) => ({ index: r.index, term: r.term })),
    confChanges: confs,
    end: endOf(findings, state.end, false),
    findings,
    snapshotConfState: state.snapshots.some((r) => r.confState !== undefined),
    range: { fromSegment: segs[0]!.name, segmentsRead: segs.length, segmentsTotal: listing.segments.length },
    crcChecked: { fromSegment: segs[0]!.name, segments: segs.length },
  }
}

/** What the fast reader needs from the last segment. */
interface LastSegment {
  metadata?: { nodeId: bigint; clusterId: bigint }
  /** The metadata record's bytes (compared with the older segments'). */
  metadataBytes?: Uint8Array
  hardState?: LogState['hardState']
  firstIndex?: bigint
  lastIndex?: bigint
  snapshots: { index: bigint; term: bigint; confState?: unknown }[]
  confs: WalConfChange[]
  findings: Findings
  end: LogState['end']
  /** The segment's first entry record (the log's, when it is the only segment read). */
  firstEntry?: { index: bigint; offset: number }
}

/**
 * The last segment, CRC chain checked: a tight frame scan with CRC (io/wal-scan.ts) when the
 * segment is regular (the usual case); otherwise the WAL library's reader, for its exact findings
 * (torn tail, CRC mismatch, overwritten entries, index gaps).
 */
function readLast(seg: WalDirListing['segments'][number], crc = true): LastSegment {
  const src = openFile(seg.path)
  let scan: SegmentScan
  try {
    scan = scanSegment(seg.name, src, { crc, zeroTail: true })
  } finally {
    src.close()
  }
  let metadata: LastSegment['metadata']
  let regular = !scan.corrupt && !scan.irregular && scan.findings.length === 0 && scan.overwrites.length === 0 && scan.metadata !== null
    && !(scan.firstIndex !== null && scan.firstIndex > seg.index + 1n)
  if (regular) {
    try {
      metadata = decodeMetadata(scan.metadata!)
    } catch {
      regular = false
    }
  }
  if (!regular) {
    // The boot-range rule (logStartGap) needs the older segments too: readWalFactsFast applies it.
    const { state, confs } = readLogged([seg], false)
    return {
      ...(state.metadata ? { metadata: { nodeId: state.metadata.nodeId, clusterId: state.metadata.clusterId } } : {}),
      ...(state.metadataBytes ? { metadataBytes: state.metadataBytes } : {}),
      hardState: state.hardState, firstIndex: state.firstIndex, lastIndex: state.lastIndex,
      snapshots: state.snapshots, confs, findings: logFindings(state.findings), end: state.end,
      firstEntry: state.segments[0]?.firstIndex !== undefined
        ? { index: state.segments[0].firstIndex, offset: scan.firstIndex === state.segments[0].firstIndex ? scan.firstEntryOffset : -1 } : undefined,
    }
  }
  const confs: WalConfChange[] = []
  for (const c of scan.confChanges) {
    const type = confChangeKinds[c.type]
    if (type) confs.push({ index: c.index, term: c.term, type, nodeId: c.nodeId, ...(c.peerURLs ? { peerURLs: c.peerURLs } : {}) })
  }
  return {
    metadata, metadataBytes: scan.metadata!, hardState: scan.hardState ?? undefined, firstIndex: scan.minIndex ?? undefined, lastIndex: scan.lastIndex ?? undefined,
    snapshots: scan.snapshots.map((r) => ({ index: r.index, term: r.term, ...(r.confState ? { confState: true } : {}) })),
    confs, findings: [], end: undefined,
    firstEntry: scan.firstIndex !== null ? { index: scan.firstIndex, offset: scan.firstEntryOffset } : undefined,
  }
}

/**
 * The fast WAL reader of `status` and `check` (the default): its cost is bounded by one segment,
 * not by the size of the WAL. The last segment is read with the CRC chain checked (from its own
 * CRC record: torn tail and corruption where a crash leaves them); older segments are walked
 * newest-first with a frame-only scan (io/wal-scan.ts: no CRC, entry headers only, conf changes
 * decoded) until one holds a WAL snapshot record <= commit and covers `hint.fromIndex`, the range
 * etcd reads at boot. `readWalFacts` (every segment, or the boot range, CRC-checked) stays the
 * reference; `test/status-fast.test.ts` compares the two.
 */
export const readWalFactsFast: WalFactsReader = async (walDir, hint = {}) => {
  const listing = listWalDir(walDir)
  const all = listing.segments
  if (all.length === 0) {
    throw new InputError(`${walDir}: no WAL segments (*.wal)`, walDir, 'no-wal', 'etcd would treat this member as new (no WAL); check the path or --wal-dir')
  }
  const lastI = all.length - 1
  const crcLast = hint.crcLastSegment ?? true
  const state = readLast(all[lastI]!, crcLast)
  const lastConfs = state.confs
  let hardState = state.hardState ?? null
  let lastIndex = state.lastIndex ?? null
  let metadata = state.metadata ? { nodeId: state.metadata.nodeId, clusterId: state.metadata.clusterId } : null
  const commit = (): bigint | undefined => hardState?.commit
  const valid = (snaps: readonly { index: bigint }[]): boolean => snaps.some((r) => commit() === undefined || r.index <= commit()!)
  // Older segments, newest first.
  const scans: SegmentScan[] = []
  let found = valid(state.snapshots)
  let start = lastI
  let stoppedAtDamage = false
  while (start > 0 && !stoppedAtDamage
    && !(found && hardState !== null && lastIndex !== null && (hint.fromIndex === undefined || all[start]!.index <= hint.fromIndex))) {
    const seg = all[start - 1]!
    const src = openFile(seg.path)
    let scan: SegmentScan
    try {
      scan = scanSegment(seg.name, src)
    } finally {
      src.close()
    }
    scans.push(scan)
    start--
    hardState ??= scan.hardState
    lastIndex ??= scan.lastIndex
    if (valid(scan.snapshots)) found = true
    stoppedAtDamage = scan.corrupt
  }
  scans.reverse() // log order
  const findings = gapFindings(listing, new Set(all.slice(start).map((g) => g.name)))
  for (const s of scans) findings.push(...logFindings(s.findings))
  // Metadata is identical in every segment (format/wal/links.ts metadataConflict), in log order.
  let firstMeta: { bytes: Uint8Array; file: string; offset: number } | undefined
  for (const r of [...scans.map((s) => ({ bytes: s.metadata, file: s.file })), { bytes: state.metadataBytes ?? null, file: all[lastI]!.name }]) {
    if (!r.bytes) continue
    const rec = { bytes: r.bytes, file: r.file, offset: -1 }
    if (!firstMeta) firstMeta = rec
    else {
      const conflict = metadataConflict(firstMeta, rec)
      if (conflict) findings.push(factsFinding(conflict))
    }
    if (!metadata) {
      try {
        metadata = decodeMetadata(r.bytes)
      } catch {}
    }
  }
  findings.push(...state.findings)
  // The first entry read must follow the boot snapshot (format/wal/log.ts logStartGap).
  const oldestScan = scans.find((s) => s.firstIndex !== null)
  const firstEntry = oldestScan ? { index: oldestScan.firstIndex!, file: oldestScan.file, offset: oldestScan.firstEntryOffset }
    : state.firstEntry ? { ...state.firstEntry, file: all[lastI]!.name } : undefined
  const bootSnaps = [...scans.flatMap((s) => s.snapshots), ...state.snapshots]
  const gap = logStartGap(firstEntry, bootSnapshotIndex(bootSnaps, hardState?.commit ?? undefined))
  if (gap) findings.push(factsFinding(gap))
  // Conf changes in log order; one is void when a later entry rewrote its index (a new leader).
  const confs: WalConfChange[] = []
  const mins = [...scans.map((s) => s.minIndex), state.firstIndex ?? null]
  for (let k = 0; k < scans.length; k++) {
    const s = scans[k]!
    let later: bigint | null = null
    for (const m of mins.slice(k + 1)) if (m !== null && (later === null || m < later)) later = m
    for (const c of s.confChanges) {
      const type = confChangeKinds[c.type]
      if (!type) continue
      if (s.overwrites.some((o) => o.pos > c.pos && o.index <= c.index)) continue
      if (later !== null && later <= c.index) continue
      confs.push({ index: c.index, term: c.term, type, nodeId: c.nodeId, ...(c.peerURLs ? { peerURLs: c.peerURLs } : {}) })
    }
  }
  confs.push(...lastConfs)
  let first: bigint | null = null
  if (start === 0) for (const m of mins) if (m !== null && (first === null || m < first)) first = m
  const oldest = all[0]!
  const snapshots = [...scans.flatMap((s) => s.snapshots), ...state.snapshots.map((r) => ({ index: r.index, term: r.term, confState: r.confState !== undefined }))]
  return {
    walDir,
    segments: all.map((g) => ({ name: g.name, seq: g.seq, index: g.index, size: g.size })),
    metadata,
    hardState,
    firstIndex: start === 0 ? first : oldest.index === 0n ? 1n : oldest.index,
    lastIndex,
    snapshots: snapshots.map((r) => ({ index: r.index, term: r.term })),
    confChanges: confs,
    end: endOf(findings, state.end, scans.some((s) => s.corrupt)),
    findings,
    snapshotConfState: snapshots.some((r) => r.confState),
    range: { fromSegment: all[start]!.name, segmentsRead: lastI - start + 1, segmentsTotal: all.length },
    crcChecked: { fromSegment: all[lastI]!.name, segments: crcLast ? 1 : 0 },
  }
}

/** The db reader used by default: the bbolt library's fast summary (meta page + small buckets). */
export const readDbFacts: DbFactsReader = async (dbFile) => {
  const s = readDbSummary(dbFile)
  return {
    file: s.path,
    size: s.size,
    consistentIndex: s.consistentIndex,
    term: s.term ?? null,
    revision: s.revision,
    compactRevision: s.compactRevision,
    members: s.members.map((m) => ({ id: m.id, name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs, isLearner: m.isLearner })),
    removedMembers: s.removedMembers.flatMap((m) => (m.id === null ? [] : [m.id])),
    storageVersion: s.storageVersion ?? null,
    clusterVersion: s.clusterVersion ?? null,
    check: null,
    meta: { index: s.metaIndex, txid: s.txid, reason: s.metaReason, fellBack: /fell back/.test(s.metaReason) },
  }
}
