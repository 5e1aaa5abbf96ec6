/**
 * A frame-only scan of one WAL segment (the fast path of `status`/`check`): length words, the
 * `walpb.Record` header and, for entries, the `raftpb.Entry` header (type, term, index). No CRC is
 * computed and no payload is decoded except those `status` needs: state, snapshot and metadata
 * records (small) and conf-change entries (rare). Frames larger than `BIG_FRAME` are not read
 * whole: only their first bytes are, with positioned reads, so a segment of large values costs a
 * few thousand small reads instead of 64 MB. Layout: etcd-io/etcd@v3.6.0:server/storage/wal/
 * {encoder.go,decoder.go} (frame), walpb/record.proto, raftpb/raft.proto (Entry: gogo writes
 * 08 type, 10 term, 18 index, 22 data in that order). Read-only.
 *
 * Frames come from the one frame reader (format/wal/frame.ts `FrameCursor`); with `crc` the
 * records are checked with the one chain (format/wal/chain.ts, from the segment's own CRC record;
 * format/wal/links.ts ties segments together); findings come from format/wal/findings.ts. It does
 * not classify torn tails or report index gaps: it says `irregular`, and the caller asks the
 * record reader (format/wal/log.ts) for the exact findings.
 */
import { DecodeError } from '../errors.js'
import { CrcChain } from '../format/wal/chain.js'
import { Frame, FrameCursor, type RandomAccess } from '../format/wal/frame.js'
import { framingFinding, walFinding, type SegmentEnd, type WalFinding, type WalFindingCode } from '../format/wal/findings.js'
import { decodeRecordInto, RecordType, type RecordPos } from '../format/wal/record.js'
import { varintEnd } from '../format/protowire.js'
import {
  decodeEntryHeaderAt, decodeHardState, decodePayload, decodeWalSnapshot, EntryType, type HardState,
} from '../format/raft/entry.js'

/** Frames above this many bytes are not read whole (only their head). */
const BIG_FRAME = 64 * 1024
/** Bytes read from the head of a big frame: Record header (<= 28) + Entry header (<= 33). */
const HEAD_BYTES = 96
const CHUNK = 1024 * 1024
/** Read window for the length word that follows a big frame. */
const SMALL_WINDOW = 4096

/** A membership change found by the scan (payload decoded). */
export interface ScannedConfChange {
  /** Ordinal of the record in the segment (log order within the segment). */
  pos: number
  index: bigint
  term: bigint
  type: string
  nodeId: bigint
  peerURLs?: string[]
}

/** A finding, from the one table (format/wal/findings.ts). */
export type ScanFinding = WalFinding

export interface ScanOptions {
  /**
   * Check the CRC-32C chain from the segment's own CRC record, reading every frame whole (the
   * last segment); the segment may end in its preallocated zero tail. A mismatch or a frame cut
   * short only sets `irregular`/`corrupt`: torn-tail classification is the full reader's job.
   */
  crc?: boolean
  /**
   * A zero length word ends the segment quietly (its preallocated tail). Default: with `crc` (the
   * last segment); otherwise it is a warning, since etcd cuts older segments without one.
   */
  zeroTail?: boolean
}

/** What a frame-only scan of one segment found, in log order within the segment. */
export interface SegmentScan {
  file: string
  records: number
  /** Bytes of the first metadata record (a copy). */
  metadata: Uint8Array | null
  /** The last HardState record. */
  hardState: HardState | null
  snapshots: { index: bigint; term: bigint; confState: boolean; pos: number }[]
  entries: number
  /** Smallest entry index seen (the log's first index when this is the oldest segment read). */
  minIndex: bigint | null
  firstIndex: bigint | null
  lastIndex: bigint | null
  confChanges: ScannedConfChange[]
  /** Entries whose index is <= the previous entry's (a new leader overwrote uncommitted ones). */
  overwrites: { pos: number; index: bigint }[]
  /** Reading stopped at damage (a finding says where). */
  corrupt: boolean
  /**
   * Something the full reader would report or treat specially: a CRC mismatch (with `crc`), an
   * index that does not follow the previous entry, a non-canonical record. The caller then reads
   * the segment with the WAL library's reader for the exact findings.
   */
  irregular: boolean
  findings: ScanFinding[]
  /** With `crc`: the value stored in the segment's CRC record (the chain carried in), else null. */
  crcRecord: number | null
  /** With `crc`: the chain value after the last record read (what the next segment must carry in). */
  crcEnd: number
  /** How the scan ended: at EOF, at a zero length word, or at damage ('corrupt': a finding says where). */
  end: Extract<SegmentEnd, 'eof' | 'zero-tail' | 'corrupt'>
  /** Offset just past the last frame read whole or skipped. */
  lastValidOffset: number
  /** Bytes from the zero word to EOF. */
  zeroTailBytes: number
  /** Ordinal of the first entry record (-1: none). */
  firstEntryPos: number
  /** File offset of the first entry record's frame (-1: none). */
  firstEntryOffset: number
}

/** A canonical raftpb.HardState is at most 3 one-byte tags and 3 u64 varints. */
const STATE_MAX = 33

/** raftpb.HardState as gogo writes it (08 term 10 vote 18 commit, each once, nothing else): always decodes. */
function canonicalState(b: Uint8Array, s: number, e: number): boolean {
  if (b[s] !== 0x08) return false
  let q = varintEnd(b, s + 1, e)
  if (q < 0 || b[q] !== 0x10) return false
  q = varintEnd(b, q + 1, e)
  if (q < 0 || b[q] !== 0x18) return false
  return varintEnd(b, q + 1, e) === e
}

/** Reads a varint of at most 10 bytes at `p` (bounded by `end`) as bigint; returns [value, next] or null. */
function varint(buf: Uint8Array, p: number, end: number): { v: bigint; p: number } | null {
  let lo = 0
  let shift = 0
  let v = 0n
  for (let i = 0; i < 10; i++) {
    if (p >= end) return null
    const b = buf[p++]!
    if (shift < 28) lo |= (b & 0x7f) << shift
    else v |= BigInt(b & 0x7f) << BigInt(shift)
    shift += 7
    if (!(b & 0x80)) return { v: v | BigInt(lo >>> 0), p }
  }
  return null
}

/**
 * Scans one segment that is not the last one read with CRC (so a frame cut short is corruption,
 * never a torn tail). Never throws on bad bytes: problems are findings, and the scan stops there.
 */
export function scanSegment(file: string, source: RandomAccess, opts: ScanOptions = {}): SegmentScan {
  const out: SegmentScan = {
    file, records: 0, metadata: null, hardState: null, snapshots: [], entries: 0, minIndex: null, firstIndex: null, lastIndex: null,
    confChanges: [], overwrites: [], corrupt: false, irregular: false, findings: [],
    crcRecord: null, crcEnd: 0, end: 'corrupt', lastValidOffset: 0, zeroTailBytes: 0, firstEntryPos: -1, firstEntryOffset: -1,
  }
  const checkCrc = opts.crc ?? false
  const zeroTailOk = opts.zeroTail ?? checkCrc
  const chain = new CrcChain()
  // After a big frame, the next length word is read with a small window: reading the file in
  // 1 MiB chunks would read the big payloads the scan skips.
  const cur = new FrameCursor(CHUNK, SMALL_WINDOW).reset(source)
  const fail = (code: WalFindingCode, offset: number, detail: string, variant?: string) => {
    out.findings.push(walFinding(code, file, offset, detail, { variant }))
    out.corrupt = true
  }
  const rec: RecordPos = { type: 0, crc: 0, dataStart: 0, dataEnd: 0 }
  /** The last canonical HardState record's bytes (stateLen -1: none pending) and their file offset. */
  const state = new Uint8Array(STATE_MAX)
  let stateLen = -1
  let stateOff = 0
  // Entry indexes as numbers on the hot path (-1: none yet); the bigint path below keeps them in sync.
  let prevN = -1
  let firstN = -1
  let lastN = -1
  let minN = -1
  let big = false // an index >= 2^53 was seen: the number fields are no longer used
  let prevIndex: bigint | null = null
  const overwriteN = (index: number) => out.overwrites.push({ pos: out.records, index: BigInt(index) })
  const onEntry = (pos: number, type: number, term: bigint, index: bigint, data: () => Uint8Array) => {
    if (out.entries++ === 0) out.firstEntryPos = pos
    if (!big && index > BigInt(Number.MAX_SAFE_INTEGER)) {
      big = true
      if (prevN >= 0) prevIndex = BigInt(prevN)
      if (firstN >= 0) out.firstIndex = BigInt(firstN)
      if (minN >= 0) out.minIndex = BigInt(minN)
    }
    if (!big) {
      const n = Number(index)
      if (prevN >= 0 && n !== prevN + 1) out.irregular = true
      if (prevN >= 0 && n <= prevN) out.overwrites.push({ pos, index })
      prevN = n
      if (firstN < 0) firstN = n
      lastN = n
      if (minN < 0 || n < minN) minN = n
    } else {
      if (prevIndex !== null && index !== prevIndex + 1n) out.irregular = true
      if (prevIndex !== null && index <= prevIndex) out.overwrites.push({ pos, index })
      prevIndex = index
      out.firstIndex ??= index
      out.lastIndex = index
      if (out.minIndex === null || index < out.minIndex) out.minIndex = index
    }
    if (type === EntryType.ConfChange || type === EntryType.ConfChangeV2) {
      const p = decodePayload(type, data())
      const changes = p.kind === 'confChange' ? [{ type: p.confChange.type, nodeId: p.confChange.nodeId, member: p.confChange.member }]
        : p.kind === 'confChangeV2' ? p.confChangeV2.changes.map((ch) => ({ type: ch.type, nodeId: ch.nodeId, member: p.confChangeV2.member })) : []
      for (const ch of changes) out.confChanges.push({ pos, index, term, type: ch.type, nodeId: ch.nodeId, ...(ch.member?.peerURLs ? { peerURLs: ch.member.peerURLs } : {}) })
    }
  }

  for (;;) {
    const off = cur.offset
    const k = cur.next()
    if (k === Frame.End) {
      out.end = 'eof'
      break
    }
    if (k === Frame.ZeroWord) {
      out.end = 'zero-tail'
      out.zeroTailBytes = cur.left
      if (zeroTailOk) break // the preallocated tail of the last segment
      out.findings.push(walFinding('zero-tail-before-last', file, off,
        `wal: zero length word at ${off} in a segment that is not the last (${cur.left} bytes not read); etcd cuts segments without a zero tail`))
      break
    }
    if (k !== Frame.Ok) {
      // Never a torn tail here: that classification is the full reader's (the caller falls back to it).
      out.findings.push(framingFinding(cur, k, file, false))
      out.corrupt = true
      break
    }
    const recBytes = cur.recBytes
    if (cur.reservedBits !== 0) out.irregular = true // reserved bits: the full reader warns about them
    const pos = out.records
    const hadEntries = out.entries > 0
    let handled = false
    if (cur.frameBytes > BIG_FRAME && !checkCrc) handled = cur.head(HEAD_BYTES) && bigFrame(cur.buf, cur.recStart, recBytes, pos)
    if (!handled) {
      if (!cur.whole()) {
        out.findings.push(framingFinding(cur, Frame.ShortRead, file, false))
        out.corrupt = true
        break
      }
      const buf = cur.buf
      const s = cur.recStart
      // Hot path: a normal entry in gogo's canonical encoding, parsed inline with numbers (no
      // objects, no bigint) while the index stays below 2^53; anything else takes the strict path.
      if (pos > 0 && normalEntry(buf, s, s + recBytes)) {
        if (!hadEntries) out.firstEntryOffset = off
        out.records++
        cur.advance()
        out.lastValidOffset = cur.offset
        continue
      }
      try {
        decodeRecordInto(buf, s, s + recBytes, file, cur.start, rec)
        if (checkCrc && !crcOk(pos, rec.type, rec.crc, buf, rec.dataStart, rec.dataEnd)) break
        if (!record(pos, off, rec.type, buf, rec.dataStart, rec.dataEnd, cur.start)) break
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err
        fail('bad-protobuf', off, `wal: record at ${off} is not a walpb.Record: ${err.detail} (at ${err.offset})`)
        break
      }
    }
    if (!hadEntries && out.entries > 0) out.firstEntryOffset = off
    out.records++
    cur.advance()
    out.lastValidOffset = cur.offset
  }
  out.crcEnd = chain.value
  if (stateLen >= 0) out.hardState = decodeHardState(state.subarray(0, stateLen), file, stateOff) // canonical: decodes
  if (out.corrupt) out.end = 'corrupt'
  if (!big && firstN >= 0) {
    out.firstIndex = BigInt(firstN)
    out.lastIndex = BigInt(lastN)
    out.minIndex = BigInt(minN)
  }
  if (out.records === 0 && !out.corrupt) {
    fail('empty-segment', 0, 'wal: segment holds no records; etcd creates every segment with a CRC and a metadata record')
  }
  return out

  /** A normal entry record at b[s, e) in canonical form: counts it and returns true; else false. */
  function normalEntry(b: Uint8Array, s: number, e: number): boolean {
    // Record: 08 02 (type entry), 10 crc varint, 1a len varint, data to the end.
    if (big) return false
    if (b[s] !== 0x08 || b[s + 1] !== RecordType.Entry || b[s + 2] !== 0x10) return false
    let q = s + 3
    let stored = 0
    let m = 1
    for (let i = 0; i < 5; i++) {
      const x = b[q++]!
      stored += (x & 0x7f) * m
      m *= 128
      if (!(x & 0x80)) break
    }
    if (b[q] !== 0x1a) return false
    q++
    let len = 0
    let mul = 1
    for (let i = 0; i < 5; i++) {
      const x = b[q++]!
      len += (x & 0x7f) * mul
      mul *= 128
      if (!(x & 0x80)) break
    }
    if (q + len !== e || q > e) return false
    const dataStart = q
    // Entry: 08 00 (normal), 10 term, 18 index.
    if (b[q] !== 0x08 || b[q + 1] !== 0x00 || b[q + 2] !== 0x10) return false
    q += 3
    mul = 1
    let term = 0
    for (let i = 0; i < 7; i++) {
      const x = b[q++]!
      term += (x & 0x7f) * mul
      mul *= 128
      if (!(x & 0x80)) break
      if (i === 6) return false
    }
    if (b[q] !== 0x18) return false
    q++
    mul = 1
    let index = 0
    for (let i = 0; i < 7; i++) {
      const x = b[q++]!
      index += (x & 0x7f) * mul
      mul *= 128
      if (!(x & 0x80)) break
      if (i === 6) return false
    }
    if (q > e || index > Number.MAX_SAFE_INTEGER || term > Number.MAX_SAFE_INTEGER) return false
    // A mismatch is left to the strict path, which records it.
    if (checkCrc && (stored > 0xffffffff || !chain.check(b, dataStart, e, stored))) return false
    if (out.entries++ === 0) out.firstEntryPos = out.records
    if (prevN >= 0 && index !== prevN + 1) out.irregular = true
    if (prevN >= 0 && index <= prevN) overwriteN(index)
    prevN = index
    if (firstN < 0) firstN = index
    lastN = index
    if (minN < 0 || index < minN) minN = index
    return true
  }

  /** The CRC chain (wal.go: a CRC record replaces the running value); false stops the scan. */
  function crcOk(pos: number, type: number, stored: number, b: Uint8Array, ds: number, de: number): boolean {
    if (type === RecordType.Crc) {
      if (pos !== 0) out.irregular = true
      else out.crcRecord = stored
      // The segment's own CRC record starts its chain (links.ts checks it against the segment before).
      chain.crcRecord(stored)
      return true
    }
    if (!chain.check(b, ds, de, stored)) {
      out.irregular = true
      out.corrupt = true
      return false
    }
    return true
  }

  /** Handles one decoded record; false stops the scan (a finding was recorded). */
  function record(pos: number, off: number, type: number, b: Uint8Array, ds: number, de: number, bStart: number): boolean {
    if (pos === 0 && type !== RecordType.Crc) {
      fail('missing-crc-record', off, `wal: segment does not start with a CRC record (first record has type ${type}); etcd starts every segment with one`)
    }
    const dataOff = bStart + ds
    try {
      switch (type) {
        case RecordType.Crc:
          return true
        case RecordType.Metadata:
          out.metadata ??= b.slice(ds, de)
          return true
        case RecordType.State:
          // etcd writes one per Ready (~6 % of the records of a busy log) and only the last one
          // counts: canonical ones are kept as bytes and the last is decoded at the end.
          if (de - ds <= STATE_MAX && canonicalState(b, ds, de)) {
            for (let i = ds; i < de; i++) state[i - ds] = b[i]!
            stateLen = de - ds
            stateOff = dataOff
            return true
          }
          stateLen = -1
          out.hardState = decodeHardState(b.subarray(ds, de), file, dataOff)
          return true
        case RecordType.Snapshot: {
          const sn = decodeWalSnapshot(b.subarray(ds, de), file, dataOff)
          out.snapshots.push({ index: sn.index, term: sn.term, confState: sn.confState !== undefined, pos })
          return true
        }
        case RecordType.Entry: {
          const h = decodeEntryHeaderAt(b, ds, de, file, bStart)
          onEntry(pos, h.type, h.term, h.index, () => b.subarray(h.dataStart, h.dataEnd))
          return true
        }
        default:
          fail('unknown-record-type', off, `wal: unexpected block type ${Number.isNaN(type) ? '(out of range)' : type} at ${off}; etcd knows types 1..5`)
          return false
      }
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err
      fail('bad-protobuf', off, `wal: ${['', 'metadata', 'entry', 'state', 'crc', 'snapshot'][type] ?? 'record'} record at ${off} does not decode: ${err.detail}`, 'payload')
      return false
    }
  }

  /**
   * A big frame: read its head only. Handles gogo's canonical encoding of an entry record
   * (08 type, 10 crc, 1a len data running to the end of the record; inside, 08 10 18 then 22);
   * returns false for anything else, which is then read whole.
   */
  function bigFrame(head: Uint8Array, h: number, recBytes: number, pos: number): boolean {
    const end = h + HEAD_BYTES
    if (head[h] !== 0x08) return false
    const t = varint(head, h + 1, end)
    if (!t || t.v !== BigInt(RecordType.Entry) || head[t.p] !== 0x10) return false
    const c = varint(head, t.p + 1, end)
    if (!c || head[c.p] !== 0x1a) return false
    const l = varint(head, c.p + 1, end)
    if (!l || BigInt(l.p - h) + l.v !== BigInt(recBytes)) return false
    let q = l.p
    let etype = 0n
    if (head[q] === 0x08) {
      const v = varint(head, q + 1, end)
      if (!v) return false
      etype = v.v
      q = v.p
    }
    if (etype !== 0n) return false // conf changes are read whole (and are small anyway)
    if (head[q] !== 0x10) return false
    const term = varint(head, q + 1, end)
    if (!term || head[term.p] !== 0x18) return false
    const index = varint(head, term.p + 1, end)
    if (!index || head[index.p] !== 0x22) return false
    if (pos === 0) return false // the missing-CRC-record finding comes from the general path
    onEntry(pos, 0, term.v, index.v, () => new Uint8Array(0))
    return true
  }
}

