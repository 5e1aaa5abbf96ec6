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
import { decodeWal, type DecodeWalOptions, type SegmentInput, type WalEndEvent, type WalSegmentEndEvent } from './decoder.js'
import { walFinding, type WalFinding } from './findings.js'
import { bootSnapshotIndex, bytesEqual, firstEntryFollowsName, logStartGap, metadataConflict, nameFollows } from './links.js'

export { bootSnapshotIndex, bytesEqual, logStartGap } from './links.js'
import { RecordType } from './record.js'
import { decodeEntryHeaderInto, decodeHardState, decodeMetadata, decodeWalSnapshot, type EntryHeaderPos, type HardState, type Metadata, type WalSnapshot } from '../raft/entry.js'
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
  readonly data: Uint8Array
  /** Entries this one replaced (same or higher index, seen earlier). */
  replaces?: { index: bigint; term: bigint; file: string; offset: number }[]
}

class LogEntryView implements LogEntry {
  replaces?: { index: bigint; term: bigint; file: string; offset: number }[]
  constructor(
    readonly segment: number, readonly file: string, readonly offset: number, readonly entryType: number,
    readonly term: bigint, readonly index: bigint, private readonly buf: Uint8Array, private readonly start: number, private readonly end: number,
  ) {}
  get data(): Uint8Array {
    return this.buf.subarray(this.start, this.end)
  }
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
  /** The first metadata record's bytes (the one every later segment must equal). */
  metadataBytes?: Uint8Array
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
export interface ReadLogOptions extends DecodeWalOptions {
  /** Yield only unusual entries (see `run`). */
  onlyUnusual?: boolean
  /**
   * The segments are where etcd starts reading at boot (the whole log, or from the segment of the
   * boot snapshot): check that the first entry follows the boot snapshot (`logStartGap`). Off for
   * a reader of the last segment alone. Default true.
   */
  logStart?: boolean
}

export function readLog(segments: readonly LogSegment[], opts: ReadLogOptions = {}): { state: LogState; items: Generator<LogItem, void, undefined> } {
  const state: LogState = {
    hardStates: 0, snapshots: [], findings: [], entryCount: 0, replacedCount: 0,
    entryTypes: { normal: 0, confChange: 0, confChangeV2: 0, unknown: 0 },
    segments: segments.map((s) => ({ file: s.file, seq: s.seq, nameIndex: s.nameIndex, size: s.source.byteLength, records: 0, entries: 0, zeroTail: false, zeroTailBytes: 0 })),
  }
  return { state, items: run(segments, opts, state) }
}

/**
 * `onlyUnusual`: yield only conf-change (and other non-normal) entries and entries that replaced
 * others; the state is still complete. The summary API uses it to skip per-entry work.
 */
function* run(segments: readonly LogSegment[], opts: ReadLogOptions, st: LogState): Generator<LogItem, void, undefined> {
  const onlyUnusual = opts.onlyUnusual ?? false
  let metaBytes: Uint8Array | undefined
  let metaFile = ''
  // Entries above the persisted commit can still be replaced; keep only those (bounded window),
  // as parallel arrays from `wHead` on (no object per entry: this runs for nearly every entry).
  const wIdx: bigint[] = []
  const wTerm: bigint[] = []
  const wFile: string[] = []
  const wOff: number[] = []
  let wHead = 0
  const wTruncate = (n: number) => {
    wIdx.length = n
    wTerm.length = n
    wFile.length = n
    wOff.length = n
  }
  let lastIndex: bigint | undefined
  let lastSnapIndex: bigint | undefined
  let commit = 0n
  let prevSegLast: bigint | undefined
  const h: EntryHeaderPos = { type: 0, term: 0n, index: 0n, dataStart: 0, dataEnd: 0 }
  let firstEntry: { index: bigint; file: string; offset: number } | undefined

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
        if (!nameFollows(seg.nameIndex, prevSegLast)) {
          yield push(walFinding('index-discontinuity', seg.file, -1,
            `wal: segment name says first index ${seg.nameIndex} but the previous segments end at index ${prevSegLast}`))
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
        const dataOff = ev.offset + 8 + (ev.recBytes - (ev.dataEnd - ev.dataStart))
        try {
          switch (ev.type) {
            case RecordType.Metadata: {
              if (metaBytes === undefined) {
                metaBytes = ev.data.slice()
                metaFile = ev.file
                st.metadataBytes = metaBytes
                const m = decodeMetadata(ev.data, ev.file, dataOff)
                st.metadata = { ...m, nodeIdHex: idHex(m.nodeId), clusterIdHex: idHex(m.clusterId) }
              } else {
                const conflict = metadataConflict({ bytes: metaBytes, file: metaFile, offset: -1 }, { bytes: ev.data, file: ev.file, offset: ev.offset })
                if (conflict) yield push(conflict)
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
                while (wHead < wIdx.length && wIdx[wHead]! <= commit) wHead++
                if (wHead > 4096 && wHead * 2 > wIdx.length) {
                  wIdx.splice(0, wHead)
                  wTerm.splice(0, wHead)
                  wFile.splice(0, wHead)
                  wOff.splice(0, wHead)
                  wHead = 0
                }
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
              decodeEntryHeaderInto(ev.buf, ev.dataStart, ev.dataEnd, ev.file, dataOff - ev.dataStart, h)
              const e = onlyUnusual && h.type === 0 && !(lastIndex !== undefined && h.index <= lastIndex) ? undefined
                : new LogEntryView(ev.segment, ev.file, ev.offset, h.type, h.term, h.index, ev.buf, h.dataStart, h.dataEnd)
              if (lastIndex !== undefined && h.index <= lastIndex) {
                let p = wIdx.length
                while (p > wHead && wIdx[p - 1]! >= h.index) p--
                const replaced: { index: bigint; term: bigint; file: string; offset: number }[] = []
                for (let i = p; i < wIdx.length; i++) replaced.push({ index: wIdx[i]!, term: wTerm[i]!, file: wFile[i]!, offset: wOff[i]! })
                wTruncate(p)
                e!.replaces = replaced
                st.replacedCount += replaced.length
                if (h.index <= commit) {
                  yield push(walFinding('overwrite-below-commit', ev.file, ev.offset,
                    `raft: entry ${h.index} (term ${h.term}) rewrites an index at or below the persisted commit ${commit}`, { index: h.index }))
                }
              } else if (lastIndex !== undefined && h.index > lastIndex + 1n && !(lastSnapIndex !== undefined && lastSnapIndex + 1n >= h.index)) {
                yield push(walFinding('index-gap', ev.file, ev.offset,
                  `raft: entry ${h.index} follows entry ${lastIndex}: ${h.index - lastIndex - 1n} entries missing (etcd: "wal: slice bounds out of range")`, { index: h.index }))
              }
              lastIndex = h.index
              if (h.index > commit) {
                wIdx.push(h.index)
                wTerm.push(h.term)
                wFile.push(ev.file)
                wOff.push(ev.offset)
              }
              if (st.entryCount++ === 0) firstEntry = { index: h.index, file: ev.file, offset: ev.offset }
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
                if (!firstEntryFollowsName(h.index, s.nameIndex, lastSnapIndex)) {
                  yield push(walFinding('index-discontinuity', ev.file, ev.offset,
                    `wal: first entry ${h.index} is more than one above the index ${s.nameIndex} in the segment name and no snapshot record covers the gap`, { variant: 'firstEntry', index: h.index }))
                }
              }
              s.lastIndex = h.index
              s.lastTerm = h.term
              if (e) yield { kind: 'entry', entry: e }
              break
            }
          }
        } catch (err) {
          if (!(err instanceof DecodeError)) throw err
          yield push(walFinding('bad-protobuf', ev.file, ev.offset,
            `wal: ${['', 'metadata', 'entry', 'state', 'crc', 'snapshot'][ev.type] ?? 'record'} record at ${ev.offset} passes its CRC but does not decode: ${err.detail}`, { variant: 'payload' }))
        }
        break
      }
    }
  }
  if (opts.logStart ?? true) {
    const gap = logStartGap(firstEntry, bootSnapshotIndex(st.snapshots, st.hardState?.commit))
    if (gap) yield push(gap)
  }
}
