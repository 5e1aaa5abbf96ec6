/**
 * The entries of one chunk of a WAL segment, for the parallel `wal` (app/wal-parallel.ts). A chunk
 * is a run of whole frames (walpb.Record, raftpb.Entry; etcd-io/etcd@v3.6.0:server/storage/wal) cut
 * by the main thread; it carries the CRC chain as the stored CRC of the record before it, so chunks
 * are checked independently and the main thread only links their ends. Each entry goes to a
 * ChunkEntrySink (the writer of the output format, from the render layer, wired in by the worker
 * entry workers/wal-chunk.ts): a normal entry first as raw bytes (the writer takes the dominant put
 * shape from them), else decoded like the reader path decodes it. The output is byte-identical to
 * `streamWal`'s (test/format/wal-parallel.test.ts compares every line of every fixture).
 *
 * The loop only vouches for regular data. At the first thing the reader would report or treat
 * specially (CRC mismatch, odd frame, index not following the previous one, undecodable record, …)
 * it stops and says how many entries it presented: the caller resumes the reader path from there,
 * so findings are always the reader's.
 */
import { DecodeError } from '../errors.js'
import { CrcChain } from '../format/wal/chain.js'
import { Frame, FrameCursor } from '../format/wal/frame.js'
import { decodeRecordInto, RecordType, type RecordPos } from '../format/wal/record.js'
import type { SnapshotRecord } from '../format/wal/log.js'
import { bytesEqual } from '../format/wal/links.js'
import {
  decodeEntryHeaderInto, decodeHardState, decodePayload, decodeWalSnapshot, kindOf, plainHardState, type EntryHeaderPos, type EntryTypeName, type HardState,
} from '../format/raft/entry.js'
import type { WalEntry } from './wal.js'

export interface ChunkJob {
  id: number
  /** Segment position in the log (0 = oldest). */
  segment: number
  /** Display name, as in results. */
  file: string
  /** The chunk starts at offset 0 of its segment (its first record must be the CRC record). */
  first: boolean
  /** File offset of the chunk's first byte. */
  base: number
  /** Number of bytes of whole frames in `bytes`. */
  length: number
  /** The stored CRC of the record before the chunk (the chain), when not `first`. */
  crc: number
  /** HardState.commit of the whole log (the reader path's pre-pass), for `committed`. */
  commit?: bigint
}

export interface ChunkOutcome {
  id: number
  /** The loop stopped early: `presented` entries were emitted; the reader path takes over after them. */
  irregular: string | null
  presented: number
  records: number
  entries: number
  crcRecord: number | null
  metadata: Uint8Array | null
  /** Largest snapshot-record index before the first entry of the chunk. */
  snapBeforeFirst: bigint | null
  firstIndex?: bigint
  /** File offset of the first entry's frame (-1: no entry). */
  firstOffset: number
  firstTerm?: bigint
  lastIndex?: bigint
  lastTerm?: bigint
  minTerm?: bigint
  maxTerm?: bigint
  crcEnd: number
  hardState?: HardState
  snapshots: SnapshotRecord[]
  byType: Record<string, number>
  byKind: Record<string, number>
  uncommitted: { count: number; from?: bigint; to?: bigint }
}

const ENTRY_TYPES: EntryTypeName[] = ['normal', 'confChange', 'confChangeV2']
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/** Where presentChunk hands the entries of a chunk, in log order (the render layer's wal-line.ts writes them). */
export interface ChunkEntrySink {
  /**
   * A normal entry whose data is buf[s, e) of the chunk (`offset` is its frame's file offset):
   * true when the sink took it from the bytes; false to get it decoded through `entry`.
   */
  raw(s: number, e: number, index: number, term: number, offset: number, committed: boolean): boolean
  /** Any other entry, decoded. */
  entry(e: WalEntry): void
  /** Forget every entry handed over since the chunk began (presentChunk goes over it again). */
  restart(): void
}

/**
 * Per-chunk state of the small readers below: one per `presentChunk` call, passed along instead of
 * module-level slots (the readers return a value and leave where they stopped in `lenEnd`, the
 * entry header in `e*`, without allocating per call).
 */
class ChunkCursor {
  lenEnd = 0
  eType = 0
  eTerm = 0
  eIndex = 0
  eStart = 0
  eEnd = 0
}

/**
 * One `presentChunk` walk: what the chunk holds so far (`out`) and the counters of the loop. The
 * loop itself keeps only the dominant record, an entry the sink takes from its bytes; every other
 * record and entry goes through a method here. That keeps the loop's compiled code small and
 * free of branches that a log reaches late (a compaction request, the uncommitted tail): measured
 * on bench/wal's 1.09 M-entry log, V8 recompiled the loop 19 times (727 ms of compiling on 2
 * cores), each time one of those branches was reached for the first time in a worker.
 */
class ChunkWalk {
  readonly out: ChunkOutcome
  readonly c = new ChunkCursor()
  /** The chain carried in: the stored CRC of the record before the chunk (a segment head adopts its CRC record). */
  readonly chain: CrcChain
  private readonly h: EntryHeaderPos = { type: 0, term: 0n, index: 0n, dataStart: 0, dataEnd: 0 }
  prev = -1
  minTerm = 0
  maxTerm = 0
  /** out's counters while the loop runs (copied by `finish`): one object on the loop's path. */
  records = 0
  presented = 0
  /** Puts the sink took from their bytes since the last entry counted by type (byType/byKind in first-seen order). */
  nPut = 0
  private snapMax: bigint | null = null
  /** The data of the chunk's last HardState record (-1: none yet), decoded by `finish`. */
  private stateStart = -1
  private stateEnd = -1
  private uCount = 0
  private uFrom = -1
  private uTo = -1

  constructor(readonly job: ChunkJob, readonly sink: ChunkEntrySink, readonly buf: Uint8Array, scratch?: Int32Array) {
    this.out = {
      id: job.id, irregular: null, presented: 0, records: 0, entries: 0, crcRecord: null, metadata: null, snapBeforeFirst: null, firstOffset: -1,
      crcEnd: 0, snapshots: [], byType: {}, byKind: {}, uncommitted: { count: 0 },
      // set as the chunk is read; present from the start so the object keeps one shape
      firstIndex: undefined, firstTerm: undefined, lastIndex: undefined, lastTerm: undefined, minTerm: undefined, maxTerm: undefined, hardState: undefined,
    }
    this.chain = new CrcChain(job.first ? 0 : job.crc, scratch)
  }

  /** The outcome, or null when a deferred CRC does not match (presentChunk then checks record by record). */
  finish(why: string | null): ChunkOutcome | null {
    if (this.chain.settle(this.buf) >= 0) return null
    const out = this.out
    out.irregular = why
    // checked as it came (plainHardState or decoded), so this decodes
    if (this.stateStart >= 0) out.hardState = decodeHardState(this.buf.subarray(this.stateStart, this.stateEnd), this.job.file, this.job.base + this.stateStart)
    out.records = this.records
    out.presented = out.entries = this.presented
    out.crcEnd = this.chain.value
    if (this.nPut > 0) this.countPuts()
    if (this.prev >= 0) {
      out.lastIndex = BigInt(this.prev)
      out.lastTerm = BigInt(this.c.eTerm)
      out.minTerm = BigInt(this.minTerm)
      out.maxTerm = BigInt(this.maxTerm)
    }
    out.uncommitted.count = this.uCount
    if (this.uCount > 0) {
      out.uncommitted.from = BigInt(this.uFrom)
      out.uncommitted.to = BigInt(this.uTo)
    }
    return out
  }

  private countPuts(): void {
    const out = this.out
    out.byType.normal = (out.byType.normal ?? 0) + this.nPut
    out.byKind.put = (out.byKind.put ?? 0) + this.nPut
    this.nPut = 0
  }

  /**
   * The header of the entry at buf[s, e) when entryHead does not take it (another encoding, a
   * field order gogo does not write): read strictly into the cursor; null, or why the loop stops.
   * Throws DecodeError.
   */
  strictHead(buf: Uint8Array, s: number, e: number): string | null {
    const h = this.h
    decodeEntryHeaderInto(buf, s, e, this.job.file, this.job.base, h)
    if (h.index > MAX_SAFE || h.term > MAX_SAFE) return 'index or term beyond 2^53'
    const c = this.c
    c.eType = h.type
    c.eTerm = Number(h.term)
    c.eIndex = Number(h.index)
    c.eStart = h.dataStart
    c.eEnd = h.dataEnd
    return null
  }

  /** The chunk's first entry, at file offset `at`. */
  firstEntry(index: number, term: number, at: number): void {
    const out = this.out
    out.firstIndex = BigInt(index)
    out.firstOffset = at
    out.firstTerm = BigInt(term)
    out.snapBeforeFirst = this.snapMax
    this.minTerm = this.maxTerm = term
  }

  uncommitted(index: number): void {
    this.uCount++
    if (this.uFrom < 0 || index < this.uFrom) this.uFrom = index
    if (index > this.uTo) this.uTo = index
  }

  /** An entry the sink did not take from its bytes: decoded, counted and handed over. Throws DecodeError. */
  decoded(buf: Uint8Array, index: number, term: number, at: number, committed: boolean): void {
    const c = this.c
    const out = this.out
    const data = buf.subarray(c.eStart, c.eEnd)
    const type = ENTRY_TYPES[c.eType] ?? 'unknown'
    const d: WalEntry = { type, entryType: c.eType, term: BigInt(term), index: BigInt(index), dataBytes: data.length, payload: decodePayload(c.eType, data), file: this.job.file, offset: at, committed }
    if (this.nPut > 0) this.countPuts()
    out.byType[type] = (out.byType[type] ?? 0) + 1
    const k = kindOf(d.payload)
    out.byKind[k] = (out.byKind[k] ?? 0) + 1
    this.sink.entry(d)
  }

  /**
   * A HardState record past a segment's head (whose first record must be its CRC record: `other`):
   * null, or why the loop stops. etcd writes one per raft Ready (1 record in 16 on bench/wal): only
   * the chunk's last one is kept, so the plain ones are only checked here and `finish` decodes the
   * last. Throws DecodeError.
   */
  state(buf: Uint8Array, rec: RecordPos): string | null {
    const job = this.job
    const ds = rec.dataStart
    const de = rec.dataEnd
    if (!this.chain.check(buf, ds, de, rec.crc)) return 'CRC mismatch'
    if (!plainHardState(buf, ds, de)) decodeHardState(buf.subarray(ds, de), job.file, job.base + ds)
    this.stateStart = ds
    this.stateEnd = de
    return null
  }

  /**
   * Any record but an entry (CRC, metadata, state, snapshot, unknown), the chunk's `records`th,
   * whose frame is at file offset `at`: null, or why the loop stops. Throws DecodeError.
   */
  other(buf: Uint8Array, rec: RecordPos, at: number): string | null {
    const job = this.job
    const out = this.out
    const file = job.file
    const ds = rec.dataStart
    const de = rec.dataEnd
    if (rec.type === RecordType.Crc) {
      if (!job.first || this.records !== 0) return 'CRC record not first'
      out.crcRecord = rec.crc
      this.chain.crcRecord(rec.crc)
      return null
    }
    if (job.first && this.records === 0) return 'missing CRC record'
    if (rec.type === RecordType.State) return this.state(buf, rec)
    if (!this.chain.check(buf, ds, de, rec.crc)) return 'CRC mismatch'
    switch (rec.type) {
      case RecordType.Metadata:
        // Only at the head of a segment, before any entry; anything else is the reader's to judge.
        if (!job.first || this.prev >= 0) return 'metadata after the head'
        if (out.metadata === null) out.metadata = buf.slice(ds, de)
        else if (!bytesEqual(out.metadata, buf.subarray(ds, de))) return 'metadata differs'
        return null
      case RecordType.Snapshot: {
        const sn = decodeWalSnapshot(buf.subarray(ds, de), file, job.base + ds)
        out.snapshots.push({ ...sn, file, offset: at })
        if (this.snapMax === null || sn.index > this.snapMax) this.snapMax = sn.index
        return null
      }
      default:
        return 'unknown record type'
    }
  }
}

/**
 * Hands the entries of one chunk to `sink` in log order and returns what the chunk holds. Never
 * throws on bad bytes: it stops and reports `irregular` (the entries before it were handed over).
 */
export function presentChunk(job: ChunkJob, buf: Uint8Array, sink: ChunkEntrySink, scratch?: Int32Array): ChunkOutcome {
  // The entries' CRCs are checked all at once when the walk ends (one native call, format/crc32c.ts
  // crc32cBatch). A mismatch is rare (damage): the chunk is then walked again, each record checked
  // as it comes, so the walk stops exactly at the bad one and hands over only the entries before it.
  // (`scratch`: room for the deferred checks, reused from chunk to chunk by a worker)
  const out = walkChunk(job, buf, sink, true, scratch)
  if (out !== null) return out
  sink.restart()
  return walkChunk(job, buf, sink, false)!
}

function walkChunk(job: ChunkJob, buf: Uint8Array, sink: ChunkEntrySink, deferCrc: boolean, scratch?: Int32Array): ChunkOutcome | null {
  const commit = job.commit
  // Indexes are numbers on the hot path (an index >= 2^53 stops the loop: the reader path takes it).
  const commitN = commit === undefined ? -1 : commit > MAX_SAFE ? Infinity : Number(commit)
  const w = new ChunkWalk(job, sink, buf, scratch)
  const rec: RecordPos = { type: 0, crc: 0, dataStart: 0, dataEnd: 0 }
  const cur = FrameCursor.over(buf, job.base, job.length)
  // Entries the sink does not write from their bytes (a conf change, a txn, a compaction: rare in a
  // log of puts) and the records of a segment's head (CRC, metadata, snapshot) are taken here, out
  // of walkRun's loop. V8 gives a function its type feedback only after its first calls, and a
  // segment head's entries come before that: a call to them inside the compiled loop had none,
  // and the first compaction deep into the log threw the loop's code away and had it compiled
  // twice more in each thread (docs/wal.md, "session 11"). What walkRun would load before its
  // loop is handed in, for the same reason.
  const { c, chain } = w
  const { first, file, base } = job
  for (;;) {
    const r = walkRun(w, c, chain, sink, buf, first, file, base, cur, rec, deferCrc, commitN)
    if (r === END) return w.finish(w.records === 0 && job.first ? 'empty segment' : null)
    if (r === OTHER) {
      let why: string | null
      try {
        why = w.other(buf, rec, cur.offset)
      } catch (err) {
        if (err instanceof DecodeError) return w.finish('record data does not decode')
        throw err
      }
      if (why !== null) return w.finish(why)
      w.records++
      cur.advance()
      continue
    }
    if (r !== DECODE) return r
    const index = c.eIndex
    const term = c.eTerm
    try {
      w.decoded(buf, index, term, cur.offset, index <= commitN)
    } catch (err) {
      if (err instanceof DecodeError) return w.finish('record data does not decode')
      throw err
    }
    w.presented++
    if (term < w.minTerm) w.minTerm = term
    if (term > w.maxTerm) w.maxTerm = term
    w.records++
    cur.advance()
  }
}

/** walkRun's answers: an entry or a record (CRC, metadata, snapshot, unknown) that walkChunk takes (the cursor still on it), the chunk's end. */
const DECODE = 1
const OTHER = 2
const END = 3

/**
 * The chunk's frames from the cursor on: END at the end of the chunk, the outcome (w.finish) at
 * anything irregular, DECODE at an entry the sink does not write from its bytes (counted up to its
 * index check, not yet presented), OTHER at a record but an entry or a HardState past the head. Nothing after the loop: the first call runs long enough for
 * V8 to compile the loop on the fly, and code after it would have had no type feedback yet (both
 * threads threw the loop's code away at the end of their first chunk); the same for loads before
 * the loop, which run once before V8 gives the function its feedback: walkChunk hands them in.
 */
function walkRun(w: ChunkWalk, c: ChunkCursor, chain: CrcChain, sink: ChunkEntrySink, buf: Uint8Array, first: boolean, file: string, base: number,
  cur: FrameCursor, rec: RecordPos, deferCrc: boolean, commitN: number): ChunkOutcome | null | typeof DECODE | typeof OTHER | typeof END {
  for (;;) {
    const k = cur.next()
    if (k === Frame.End) return END
    if (k === Frame.PartialWord) return w.finish('partial length word')
    if (k === Frame.PastEnd) return w.finish('frame runs past the chunk')
    if (k !== Frame.Ok || cur.reservedBits !== 0 || !cur.whole()) return w.finish('odd frame')
    const s = cur.recStart
    const at = cur.offset
    try {
      decodeRecordInto(buf, s, s + cur.recBytes, file, base, rec)
    } catch (err) {
      if (err instanceof DecodeError) return w.finish('record does not decode')
      throw err
    }
    try {
      if (rec.type === RecordType.Entry && (w.records !== 0 || !first)) {
        const ds = rec.dataStart
        const de = rec.dataEnd
        if (deferCrc) chain.defer(ds, de, rec.crc)
        else if (!chain.check(buf, ds, de, rec.crc)) return w.finish('CRC mismatch')
        if (!entryHead(c, buf, ds, de)) {
          const why = w.strictHead(buf, ds, de)
          if (why !== null) return w.finish(why)
        }
        const index = c.eIndex
        const term = c.eTerm
        if (w.prev < 0) w.firstEntry(index, term, at)
        else if (index !== w.prev + 1) return w.finish('index does not follow')
        w.prev = index
        const committed = index <= commitN
        if (!committed) w.uncommitted(index)
        // (nothing but a constant returned here: see walkChunk)
        if (c.eType !== 0 || !sink.raw(c.eStart, c.eEnd, index, term, at, committed)) return DECODE
        w.nPut++
        w.presented++
        if (term < w.minTerm) w.minTerm = term
        if (term > w.maxTerm) w.maxTerm = term
      } else if (rec.type === RecordType.State && (w.records !== 0 || !first)) {
        const why = w.state(buf, rec)
        if (why !== null) return w.finish(why)
      } else return OTHER
    } catch (err) {
      if (err instanceof DecodeError) return w.finish('record data does not decode')
      throw err
    }
    w.records++
    cur.advance()
  }
}

/** A varint of at most 7 bytes (< 2^49) at b[q] before `end`: the value (lenEnd = next), or -1. */
function num(c: ChunkCursor, b: Uint8Array, q: number, end: number): number {
  let n = 0
  for (let i = 0, m = 1; i < 7 && q < end; i++, m *= 128) {
    const x = b[q++]!
    n += (x & 0x7f) * m
    if (x < 0x80) {
      c.lenEnd = q
      return n
    }
  }
  return -1
}

/**
 * raftpb.Entry as gogo writes it (08 type, 10 term, 18 index, then 22 data or nothing) into the
 * e* variables; false for any other encoding (decodeEntryHeaderInto then reads it strictly).
 */
function entryHead(c: ChunkCursor, b: Uint8Array, s: number, e: number): boolean {
  if (b[s] !== 0x08 || b[s + 1]! > 2 || b[s + 2] !== 0x10) return false
  const term = num(c, b, s + 3, e)
  if (term < 0 || b[c.lenEnd] !== 0x18) return false
  const index = num(c, b, c.lenEnd + 1, e)
  if (index < 0) return false
  const q = c.lenEnd
  if (q === e) {
    c.eStart = c.eEnd = q
  } else {
    if (b[q] !== 0x22) return false
    const l = num(c, b, q + 1, e)
    if (l < 0 || c.lenEnd + l !== e) return false
    c.eStart = c.lenEnd
    c.eEnd = e
  }
  c.eType = b[s + 1]!
  c.eTerm = term
  c.eIndex = index
  return true
}
