/**
 * The fast WAL library API for other commands (`status`, `check`, `snap`): identity, HardState,
 * index range, snapshot records, segments, end-of-log classification and conf changes, without
 * decoding the payloads of normal entries. Cost is one sequential pass with the CRC chain (about
 * the speed of CRC-32C over the used part of the segments; preallocated zeros are never read).
 */
import { relative } from 'node:path'
import { resolveDataDir, type DataDirLayout } from '../io/datadir.js'
import { listWalDir, openSegments, type WalDirListing } from '../io/wal-files.js'
import { readLog, type LogState, type SegmentStats, type SnapshotRecord } from '../format/wal/log.js'
import type { WalEndStatus, WalFinding } from '../format/wal/decoder.js'
import { decodePayload, EntryType, type HardState } from '../format/raft/entry.js'
import { idHex } from '../format/ids.js'
import { InputError } from '../errors.js'

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
    out.push({ severity: 'error', code: 'seq-gap', file: display(g.next.name), offset: -1,
      detail: `wal: file sequence numbers do not increase continuously: ${g.after.name} (seq ${g.after.seq}) is followed by ${g.next.name} (seq ${g.next.seq})`,
      hint: 'a segment is missing; etcd will not start from a snapshot before the gap: replace this member (etcd-inspect replace plan)' })
  }
  for (const t of listing.tmp) out.push({ severity: 'info', code: 'tmp-file', file: display(t.name), offset: -1, detail: `wal: ${t.name} (${t.size} bytes) is the preallocated next segment; etcd ignores it` })
  for (const b of listing.broken) out.push({ severity: 'info', code: 'broken-file', file: display(b.name), offset: -1, detail: `wal: ${b.name} (${b.size} bytes) is a copy made by a WAL repair (torn tail truncated); keep it for analysis` })
  for (const u of listing.unknown) out.push({ severity: 'warning', code: 'unknown-file', file: display(u.name), offset: -1, detail: `wal: ${u.name} is not a WAL file; etcd ignores it` })
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
    const log = readLog(opened.segments, { tolerant: opts.tolerant, verifyCrc: opts.verifyCrc, chunkBytes: opts.chunkBytes })
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
export function endStatus(state: Pick<LogState, 'end'>, findings: readonly WalFinding[]): WalEndStatus {
  if (findings.some((f) => f.severity === 'error') || state.end?.status === 'corrupt') return 'corrupt'
  if (findings.some((f) => f.code === 'torn-tail') || state.end?.status === 'torn-tail') return 'torn-tail'
  return 'clean'
}
