/**
 * The facts `snap` and `status` need from the WAL and the bbolt db, as small interfaces.
 * The WAL and db libraries (src/format/wal, src/format/bbolt, src/format/backend) produce them;
 * this module is the one place that adapts their summaries to these shapes, so the two commands
 * never depend on a decoder's internals. Everything here is read-only.
 */
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { InspectError } from '../errors.js'
import { readDbSummary } from './db-summary.js'

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

/** The WAL reader used by default. */
export const readWalFacts: WalFactsReader = async () => {
  throw new SourceUnavailableError('WAL')
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
