/**
 * The rules that tie WAL segments (and chunks of them) together, as etcd-io/etcd@v3.6.0:
 * server/storage/wal/wal.go ReadAll and its file naming (`%016x-%016x.wal` = seq-index) imply:
 * each segment's CRC record carries the chain of the records before it, every segment holds the
 * same metadata, a segment's name announces the index of the entry after the previous segment's
 * last, entries follow one another (a snapshot record lets a log start past a segment's name),
 * and the log's first entry follows the boot snapshot (log.ts `logStartGap`).
 *
 * One home for them: `nameFollows`/`firstEntryFollowsName` are the rules the record reader
 * (log.ts) applies as it goes; `LogLinks` folds per-piece summaries (a segment scanned by
 * io/wal-scan.ts for `wal verify`, a chunk presented by a worker for `wal -w ndjson`) in log order
 * and says which rule a piece breaks. Pure.
 */
import { walFinding, type WalFinding } from './findings.js'
import { decodeMetadata } from '../raft/entry.js'
import { idHex } from '../ids.js'

/**
 * The snapshot etcd boots from, as far as the WAL shows it: the newest snapshot record with index
 * <= commit (wal.go ValidSnapshotEntries; boot then takes the newest `.snap` among them), else the
 * empty {0, 0} snapshot etcd starts from without one.
 */
export function bootSnapshotIndex(snapshots: readonly { index: bigint }[], commit: bigint | undefined): bigint {
  let s = 0n
  for (const r of snapshots) if (r.index <= (commit ?? 0n) && r.index > s) s = r.index
  return s
}

/**
 * etcd's ReadAll from snapshot S keeps `ents[:e.Index-S-1]` for each entry past S, so the first
 * entry after S must be S+1: a log whose first entry is further on (segments purged without the
 * snapshot that covered them, a 2.x member copied without its snap dir) fails with "wal: slice
 * bounds out of range". The one home of that rule: the reader, the verify scan, the parallel
 * chunker, `status`'s sources and `snap`'s coverage all ask it. Undefined when the log is fine.
 */
export function logStartGap(first: { index: bigint; file: string; offset: number } | undefined, snapIndex: bigint): WalFinding | undefined {
  if (first === undefined || first.index <= snapIndex + 1n) return undefined
  return walFinding('log-start-gap', first.file, first.offset,
    `raft: the log's first entry is ${first.index} but it must continue from ${snapIndex === 0n ? 'index 0 (no usable snapshot record at or below the commit)' : `the snapshot at index ${snapIndex}`}, with entry ${snapIndex + 1n}: ${first.index - snapIndex - 1n} entries are missing (etcd: "wal: slice bounds out of range")`,
    { index: first.index })
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** A segment named for index `nameIndex` follows segments whose last entry is `prevLast`. */
export function nameFollows(nameIndex: bigint | undefined, prevLast: bigint | undefined): boolean {
  return nameIndex === undefined || prevLast === undefined || nameIndex === prevLast + 1n
}

/**
 * The first entry of a segment may start past the index its name announces only where a
 * snapshot record (the newest before it, `snapIndex`) covers the gap (a member that joined from
 * a snapshot, a log whose older segments were purged).
 */
export function firstEntryFollowsName(first: bigint, nameIndex: bigint | undefined, snapIndex: bigint | undefined): boolean {
  return nameIndex === undefined || first <= nameIndex + 1n || (snapIndex !== undefined && first <= snapIndex + 1n)
}

/** What one piece of the log says about its links (a segment, or a chunk of whole frames of one). */
export interface LinkPiece {
  file: string
  /** The piece starts at offset 0 of its segment. */
  head: boolean
  /** The index the segment's name announces. */
  nameIndex?: bigint
  /** (head) The value of the segment's CRC record; null: it does not start with one. */
  crcRecord: number | null
  /** (head) The bytes of the segment's metadata record, when the piece holds it. */
  metadata: Uint8Array | null
  /** The piece's first and last entry indexes (undefined: no entry). */
  firstIndex?: bigint
  lastIndex?: bigint
  /** File offset of the first entry's frame. */
  firstOffset: number
  /** The newest snapshot-record index before the piece's first entry (null: none). */
  snapBeforeFirst: bigint | null
  /** Every snapshot record of the piece. */
  snapshots: readonly { index: bigint }[]
  /** The chain value after the piece's last record. */
  crcEnd: number
}

/** A segment's metadata record and where it was read (offset -1: somewhere in the file's head). */
export interface MetadataRecord { bytes: Uint8Array; file: string; offset: number }

/** etcd's ReadAll rule: every segment's metadata record is the same, byte for byte. */
export function sameMetadata(a: Uint8Array, b: Uint8Array): boolean {
  return bytesEqual(a, b)
}

function metadataLabel(b: Uint8Array): string {
  try {
    const m = decodeMetadata(b)
    return `member ${idHex(m.nodeId)} cluster ${idHex(m.clusterId)}`
  } catch {
    return 'undecodable bytes'
  }
}

/**
 * The finding for a metadata record that differs from the first one read (wal.go ReadAll:
 * "conflicting metadata found"), else undefined. Every reader reports the conflict through this.
 */
export function metadataConflict(first: MetadataRecord, other: MetadataRecord): WalFinding | undefined {
  if (sameMetadata(first.bytes, other.bytes)) return undefined
  return walFinding('metadata-conflict', other.file, other.offset,
    `wal: conflicting metadata found: ${metadataLabel(other.bytes)}, but ${first.file} says ${metadataLabel(first.bytes)}`)
}

/**
 * Which rule a piece breaks. The callers do not report it: they hand the log to the record reader
 * (log.ts), whose findings are the exact ones; this only says why.
 */
export type LinkBreak = 'no-crc-record' | 'chain-break' | 'metadata-differs' | 'name-not-following' | 'index-not-following' | 'first-entry-past-name'

/** Folds pieces in log order; `add` names the first rule a piece breaks (null: it links). */
export class LogLinks {
  private chain = 0
  private meta: Uint8Array | null = null
  private prevLast: bigint | undefined
  private snapIndex: bigint | undefined
  /** The current segment has had an entry (its first-entry rules were checked). */
  private entered = false
  /** The metadata record every segment carries (the first one seen). */
  get metadata(): Uint8Array | null {
    return this.meta
  }

  /** The log's first entry. */
  firstEntry: { index: bigint; file: string; offset: number } | undefined
  readonly snapshots: { index: bigint }[] = []

  add(p: LinkPiece): LinkBreak | null {
    if (p.head) {
      this.entered = false
      if (p.crcRecord === null) return 'no-crc-record'
      // A reader adopts the first CRC record it meets while its chain value is still 0.
      if (this.chain !== 0 && p.crcRecord !== this.chain) return 'chain-break'
      if (p.metadata !== null) {
        if (this.meta === null) this.meta = p.metadata
        else if (!sameMetadata(this.meta, p.metadata)) return 'metadata-differs'
      }
      if (!nameFollows(p.nameIndex, this.prevLast)) return 'name-not-following'
    }
    if (p.firstIndex !== undefined) {
      if (this.prevLast !== undefined && p.firstIndex !== this.prevLast + 1n) return 'index-not-following'
      if (!this.entered) {
        let si = this.snapIndex
        if (p.snapBeforeFirst !== null && (si === undefined || p.snapBeforeFirst > si)) si = p.snapBeforeFirst
        if (!firstEntryFollowsName(p.firstIndex, p.nameIndex, si)) return 'first-entry-past-name'
        this.entered = true
      }
      this.firstEntry ??= { index: p.firstIndex, file: p.file, offset: p.firstOffset }
      this.prevLast = p.lastIndex
    }
    for (const r of p.snapshots) {
      if (this.snapIndex === undefined || r.index > this.snapIndex) this.snapIndex = r.index
      this.snapshots.push(r)
    }
    this.chain = p.crcEnd
    return null
  }

  /** The log-start rule over the pieces added so far, given the persisted commit. */
  startGap(commit: bigint | undefined): WalFinding | undefined {
    return logStartGap(this.firstEntry, bootSnapshotIndex(this.snapshots, commit))
  }
}
