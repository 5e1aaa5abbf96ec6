/**
 * What etcd's `ReadAll` makes of the record stream (etcd-io/etcd@v3.6.0:server/storage/wal/wal.go):
 * metadata must be byte-identical in every segment, the last HardState wins, snapshot records are
 * collected, and a later entry with an index already seen replaces it and everything after it
 * (uncommitted entries overwritten by a new leader). Reported here as findings instead of errors,
 * plus what etcd does not check: index gaps, segment names that do not match their entries, an
 * overwrite at or below the persisted commit index.
 *
 * Pure: consumes `decodeWal` events; entry payloads are not decoded here (the caller decides).
 */
import { DecodeError } from '../../errors.js'
import { decodeWal, type DecodeWalOptions, type SegmentInput, type WalEndEvent, type WalFinding, type WalSegmentEndEvent } from './decoder.js'
import { RecordType } from './record.js'
import { decodeEntryHeader, decodeHardState, decodeMetadata, decodeWalSnapshot, type HardState, type Metadata, type WalSnapshot } from '../raft/entry.js'
import { idHex } from '../ids.js'

/** A segment to read, with what its name says (seq and first expected index). */
export interface LogSegment extends SegmentInput {
  seq?: bigint
  nameIndex?: bigint
}

/** An entry record as located in the log; `data` views the reader's buffer (valid until next). */
export interface LogEntry {
  segment: number
  file: string
  offset: number
  entryType: number
  term: bigint
  index: bigint
  data: Uint8Array
  /** Entries this one replaced (same or higher index, seen earlier). */
  replaces?: { index: bigint; term: bigint; file: string; offset: number }[]
}

/** Per-segment facts. */
export interface SegmentStats {
  file: string
  seq?: bigint
  nameIndex?: bigint
  size: number
  records: number
  entries: number
  firstIndex?: bigint
  lastIndex?: bigint
  firstTerm?: bigint
  lastTerm?: bigint
  /** How reading this segment ended (undefined: not reached). */
  end?: WalSegmentEndEvent['end']
  lastValidOffset?: number
  /** A zero word ended the segment: the preallocated tail (bytes from the word to EOF). */
  zeroTail: boolean
  zeroTailBytes: number
}

export interface SnapshotRecord extends WalSnapshot {
  file: string
  offset: number
}

/** Everything known once the log has been read. */
export interface LogState {
  metadata?: Metadata & { nodeIdHex: string; clusterIdHex: string }
  hardState?: HardState
  hardStates: number
  snapshots: SnapshotRecord[]
  segments: SegmentStats[]
  findings: WalFinding[]
  firstIndex?: bigint
  lastIndex?: bigint
  minTerm?: bigint
  maxTerm?: bigint
  entryCount: number
  entryTypes: { normal: number; confChange: number; confChangeV2: number; unknown: number }
  replacedCount: number
  end?: WalEndEvent
}

export type LogItem = { kind: 'entry'; entry: LogEntry } | { kind: 'finding'; finding: WalFinding }

/**
 * Reads the log. Yields entries (header decoded, payload as a view) and findings in order; the
 * returned `state` object is filled as reading proceeds and complete when the generator ends.
 */
export function readLog(segments: readonly LogSegment[], opts: DecodeWalOptions = {}): { state: LogState; items: Generator<LogItem, void, undefined> } {
  const state: LogState = {
    hardStates: 0, snapshots: [], findings: [], entryCount: 0, replacedCount: 0,
    entryTypes: { normal: 0, confChange: 0, confChangeV2: 0, unknown: 0 },
    segments: segments.map((s) => ({ file: s.file, seq: s.seq, nameIndex: s.nameIndex, size: s.source.byteLength, records: 0, entries: 0, zeroTail: false, zeroTailBytes: 0 })),
  }
  return { state, items: run(segments, opts, state) }
}

function* run(segments: readonly LogSegment[], opts: DecodeWalOptions, st: LogState): Generator<LogItem, void, undefined> {
  let metaBytes: Uint8Array | undefined
  let metaFile = ''
  // Entries above the persisted commit can still be replaced; keep only those (bounded window).
  let window: { index: bigint; term: bigint; file: string; offset: number }[] = []
  let lastIndex: bigint | undefined
  let lastSnapIndex: bigint | undefined
  let commit = 0n
  let prevSegLast: bigint | undefined

  const push = (f: WalFinding): LogItem => {
    st.findings.push(f)
    return { kind: 'finding', finding: f }
  }

  for (const ev of decodeWal(segments, opts)) {
    switch (ev.kind) {
      case 'finding':
        yield push(ev.finding)
        break
      case 'segment-start': {
        const seg = segments[ev.segment]!
        const prev = ev.segment > 0 ? st.segments[ev.segment - 1] : undefined
        prevSegLast = prev?.lastIndex ?? prevSegLast
        if (seg.nameIndex !== undefined && prevSegLast !== undefined && seg.nameIndex !== prevSegLast + 1n) {
          yield push({ severity: 'warning', code: 'index-discontinuity', file: seg.file, offset: -1,
            detail: `wal: segment name says first index ${seg.nameIndex} but the previous segments end at index ${prevSegLast}`,
            hint: 'entries between segments may be missing; compare with the snapshot index' })
        }
        break
      }
      case 'segment-end': {
        const s = st.segments[ev.segment]!
        s.end = ev.end
        s.lastValidOffset = ev.lastValidOffset
        s.zeroTail = ev.end === 'zero-tail'
        s.zeroTailBytes = ev.zeroTailBytes
        break
      }
      case 'end':
        st.end = ev
        break
      case 'record': {
        const s = st.segments[ev.segment]!
        s.records++
        const dataOff = ev.offset + 8 + (ev.recBytes - ev.data.length) // approximate: data sits at the end of the record
        try {
          switch (ev.type) {
            case RecordType.Metadata: {
              if (metaBytes === undefined) {
                metaBytes = ev.data.slice()
                metaFile = ev.file
                const m = decodeMetadata(ev.data, ev.file, dataOff)
                st.metadata = { ...m, nodeIdHex: idHex(m.nodeId), clusterIdHex: idHex(m.clusterId) }
              } else if (!bytesEqual(metaBytes, ev.data)) {
                let what = 'different bytes'
                try {
                  const m = decodeMetadata(ev.data)
                  what = `member ${idHex(m.nodeId)} cluster ${idHex(m.clusterId)}`
                } catch {}
                yield push({ severity: 'error', code: 'metadata-conflict', file: ev.file, offset: ev.offset,
                  detail: `wal: conflicting metadata found: ${what}, but ${metaFile} says member ${st.metadata?.nodeIdHex ?? '?'} cluster ${st.metadata?.clusterIdHex ?? '?'}`,
                  hint: 'segments from different members are mixed in this WAL dir; etcd will not start: find the stray segment by its metadata' })
              }
              break
            }
            case RecordType.State: {
              // gogo writes an empty HardState only never: Save skips empty states; accept anyway.
              const hs = decodeHardState(ev.data, ev.file, dataOff)
              st.hardState = hs
              st.hardStates++
              if (hs.commit > commit) {
                commit = hs.commit
                if (window.length > 0 && window[0]!.index <= commit) window = window.filter((w) => w.index > commit)
              }
              break
            }
            case RecordType.Snapshot: {
              const sn = decodeWalSnapshot(ev.data, ev.file, dataOff)
              st.snapshots.push({ ...sn, file: ev.file, offset: ev.offset })
              if (lastSnapIndex === undefined || sn.index > lastSnapIndex) lastSnapIndex = sn.index
              break
            }
            case RecordType.Entry: {
              const h = decodeEntryHeader(ev.data, 0, ev.data.length, ev.file, dataOff)
              const e: LogEntry = { segment: ev.segment, file: ev.file, offset: ev.offset, entryType: h.type, term: h.term, index: h.index, data: h.data }
              if (lastIndex !== undefined && h.index <= lastIndex) {
                const replaced = window.filter((w) => w.index >= h.index)
                window = window.filter((w) => w.index < h.index)
                e.replaces = replaced
                st.replacedCount += replaced.length
                if (h.index <= commit) {
                  yield push({ severity: 'warning', code: 'overwrite-below-commit', file: ev.file, offset: ev.offset, index: h.index,
                    detail: `raft: entry ${h.index} (term ${h.term}) rewrites an index at or below the persisted commit ${commit}`,
                    hint: 'raft never rewrites committed entries: this WAL holds conflicting histories' })
                }
              } else if (lastIndex !== undefined && h.index > lastIndex + 1n && !(lastSnapIndex !== undefined && lastSnapIndex + 1n >= h.index)) {
                yield push({ severity: 'warning', code: 'index-gap', file: ev.file, offset: ev.offset, index: h.index,
                  detail: `raft: entry ${h.index} follows entry ${lastIndex}: ${h.index - lastIndex - 1n} entries missing (etcd: "wal: slice bounds out of range")`,
                  hint: 'entries are missing from the log; etcd 3.4/3.5 refuse to read it' })
              }
              lastIndex = h.index
              if (h.index > commit) window.push({ index: h.index, term: h.term, file: ev.file, offset: ev.offset })
              st.entryCount++
              if (h.type === 0) st.entryTypes.normal++
              else if (h.type === 1) st.entryTypes.confChange++
              else if (h.type === 2) st.entryTypes.confChangeV2++
              else st.entryTypes.unknown++
              if (st.firstIndex === undefined || h.index < st.firstIndex) st.firstIndex = h.index
              st.lastIndex = h.index
              if (st.minTerm === undefined || h.term < st.minTerm) st.minTerm = h.term
              if (st.maxTerm === undefined || h.term > st.maxTerm) st.maxTerm = h.term
              s.entries++
              if (s.firstIndex === undefined) {
                s.firstIndex = h.index
                s.firstTerm = h.term
                if (s.nameIndex !== undefined && h.index > s.nameIndex + 1n) {
                  yield push({ severity: 'warning', code: 'index-discontinuity', file: ev.file, offset: ev.offset, index: h.index,
                    detail: `wal: first entry ${h.index} is more than one above the index ${s.nameIndex} in the segment name` })
                }
              }
              s.lastIndex = h.index
              s.lastTerm = h.term
              yield { kind: 'entry', entry: e }
              break
            }
          }
        } catch (err) {
          if (!(err instanceof DecodeError)) throw err
          yield push({ severity: 'error', code: 'bad-protobuf', file: ev.file, offset: ev.offset,
            detail: `wal: ${['', 'metadata', 'entry', 'state', 'crc', 'snapshot'][ev.type] ?? 'record'} record at ${ev.offset} passes its CRC but does not decode: ${err.detail}`,
            hint: 'etcd panics on such a record (MustUnmarshal); the writer was buggy or the bytes were forged' })
        }
        break
      }
    }
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
