/**
 * The facts `snap` and `status` need from the WAL and the bbolt db, as small interfaces.
 * The WAL and db libraries (src/format/wal, src/format/bbolt, src/format/backend) produce them;
 * this module is the one place that adapts their summaries to these shapes, so the two commands
 * never depend on a decoder's internals. Everything here is read-only.
 */
import { readdirSync, statSync } from 'node:fs'
import { basename, join } from 'node:path'
import { InspectError } from '../errors.js'
import { readDbSummary } from './db-summary.js'
import { readWalSummary } from './wal.js'

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
  findings?: { severity: 'error' | 'warning' | 'info'; code: string; file?: string; offset?: number; detail: string; hint?: string }[]
  /** WAL snapshot records carry a conf state (written from etcd 3.5). */
  snapshotConfState?: boolean
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

export type WalFactsReader = (walDir: string) => Promise<WalFacts>
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
  for (const name of readdirSync(walDir).sort()) {
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

/**
 * The WAL reader used by default: the WAL library's summary (one sequential pass with the CRC
 * chain; only conf-change payloads are decoded).
 */
export const readWalFacts: WalFactsReader = async (walDir) => {
  const s = readWalSummary(walDir, { walDir })
  const segments: WalSegmentName[] = s.segments.flatMap((g) =>
    g.seq === undefined || g.nameIndex === undefined ? [] : [{ name: basename(g.file), seq: g.seq, index: g.nameIndex, size: g.size }])
  const firstError = s.findings.find((f) => f.severity === 'error')
  const torn = s.findings.find((f) => f.code === 'torn-tail')
  const endFinding = s.end === 'corrupt' ? firstError : s.end === 'torn-tail' ? torn : undefined
  return {
    walDir: s.layout.walDir,
    segments,
    metadata: s.memberIdDec !== undefined && s.clusterIdDec !== undefined ? { nodeId: s.memberIdDec, clusterId: s.clusterIdDec } : null,
    hardState: s.hardState ?? null,
    firstIndex: s.firstIndex ?? null,
    lastIndex: s.lastIndex ?? null,
    snapshots: s.snapshots.map((r) => ({ index: r.index, term: r.term })),
    // An entry overwritten by a later leader never took effect.
    confChanges: s.confChanges.filter((c) => !c.replaced && confChangeKinds[c.type] !== undefined).map((c) => ({
      index: c.index, term: c.term, type: confChangeKinds[c.type]!, nodeId: c.nodeId, ...(c.peerURLs ? { peerURLs: c.peerURLs } : {}),
    })),
    end: {
      status: s.end === 'clean' ? 'ok' : s.end,
      ...(endFinding ? { file: endFinding.file, ...(endFinding.offset >= 0 ? { offset: endFinding.offset } : {}), code: endFinding.code, detail: endFinding.detail } : {}),
    },
    findings: s.findings.filter((f) => f.severity !== 'info').map((f) => ({
      severity: f.severity, code: f.code, file: f.file, ...(f.offset >= 0 ? { offset: f.offset } : {}), detail: f.detail, ...(f.hint ? { hint: f.hint } : {}),
    })),
    snapshotConfState: s.snapshots.some((r) => r.confState !== undefined),
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
