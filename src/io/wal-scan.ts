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
 * What it does not check: the CRC chain (`wal verify`, `status --all-wal-segments`), index gaps.
 */
import { DecodeError } from '../errors.js'
import { FRAME_HEADER_BYTES } from '../format/wal/frame.js'
import { decodeRecordInto, RecordType, type RecordPos } from '../format/wal/record.js'
import {
  decodeEntryHeaderAt, decodeHardState, decodePayload, decodeWalSnapshot, EntryType, type HardState,
} from '../format/raft/entry.js'
import type { RandomAccess } from '../format/wal/decoder.js'

/** Frames above this many bytes are not read whole (only their head). */
const BIG_FRAME = 64 * 1024
/** Bytes read from the head of a big frame: Record header (<= 28) + Entry header (<= 33). */
const HEAD_BYTES = 96
const CHUNK = 1024 * 1024

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

/** A finding, as the WAL decoder reports them (STYLE §5). */
export interface ScanFinding {
  severity: 'error' | 'warning'
  code: string
  file: string
  offset: number
  detail: string
  hint?: string
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
  findings: ScanFinding[]
}

const CORRUPT_HINT = 'corruption before the last segment: etcd will not start; replace this member (etcd-inspect replace plan)'

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
export function scanSegment(file: string, source: RandomAccess): SegmentScan {
  const out: SegmentScan = {
    file, records: 0, metadata: null, hardState: null, snapshots: [], entries: 0, minIndex: null, firstIndex: null, lastIndex: null,
    confChanges: [], overwrites: [], corrupt: false, findings: [],
  }
  const size = source.byteLength
  const base = new Uint8Array(CHUNK)
  let buf: Uint8Array = base
  let bufStart = 0
  let bufLen = 0
  const ensure = (at: number, n: number): number => {
    if (at >= bufStart && at + n <= bufStart + bufLen) return at - bufStart
    if (n > base.length) {
      buf = new Uint8Array(n)
      bufStart = at
      bufLen = source.readInto(at, buf)
      return bufLen >= n ? 0 : -1
    }
    if (buf !== base) {
      buf = base
      bufLen = 0
    }
    bufStart = at
    bufLen = source.readInto(at, buf.subarray(0, Math.min(buf.length, size - at)))
    return bufLen >= n ? 0 : -1
  }
  const fail = (code: string, offset: number, detail: string, hint = CORRUPT_HINT) => {
    out.findings.push({ severity: 'error', code, file, offset, detail, hint })
    out.corrupt = true
  }
  const rec: RecordPos = { type: 0, crc: 0, dataStart: 0, dataEnd: 0 }
  let prevIndex: bigint | null = null
  const onEntry = (pos: number, type: number, term: bigint, index: bigint, data: () => Uint8Array) => {
    out.entries++
    if (prevIndex !== null && index <= prevIndex) out.overwrites.push({ pos, index })
    prevIndex = index
    out.firstIndex ??= index
    out.lastIndex = index
    if (out.minIndex === null || index < out.minIndex) out.minIndex = index
    if (type === EntryType.ConfChange || type === EntryType.ConfChangeV2) {
      const p = decodePayload(type, data())
      const changes = p.kind === 'confChange' ? [{ type: p.confChange.type, nodeId: p.confChange.nodeId, member: p.confChange.member }]
        : p.kind === 'confChangeV2' ? p.confChangeV2.changes.map((ch) => ({ type: ch.type, nodeId: ch.nodeId, member: p.confChangeV2.member })) : []
      for (const ch of changes) out.confChanges.push({ pos, index, term, type: ch.type, nodeId: ch.nodeId, ...(ch.member?.peerURLs ? { peerURLs: ch.member.peerURLs } : {}) })
    }
  }

  let off = 0
  for (;;) {
    const left = size - off
    if (left === 0) break
    if (left < FRAME_HEADER_BYTES) {
      fail(off === 0 ? 'bad-frame' : 'truncated-segment', off, `wal: partial length word: ${left} bytes left at end of file, need 8 (not the last segment)`)
      break
    }
    let p = ensure(off, FRAME_HEADER_BYTES)
    const lo = buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24)
    const hi = buf[p + 4]! | (buf[p + 5]! << 8) | (buf[p + 6]! << 16) | (buf[p + 7]! << 24)
    if (lo === 0 && hi === 0) {
      out.findings.push({ severity: 'warning', code: 'zero-tail-before-last', file, offset: off,
        detail: `wal: zero length word at ${off} in a segment that is not the last (${left} bytes not read); etcd cuts segments without a zero tail`,
        hint: 'the CRC record of the next segment shows whether records were lost (etcd-inspect wal verify)' })
      break
    }
    const top = hi >>> 24
    const recBytes = (lo >>> 0) + (hi & 0x00ffffff) * 0x1_0000_0000
    const padBytes = top & 0x80 ? top & 0x07 : 0
    const frameBytes = recBytes + padBytes
    // Never trust a length: against the bytes left before reading or allocating.
    if (frameBytes > left - FRAME_HEADER_BYTES) {
      fail(off === 0 ? 'bad-frame' : 'truncated-segment', off,
        `wal: frame length ${recBytes}+${padBytes} pad runs past the end of the file: ${left - FRAME_HEADER_BYTES} bytes left (not the last segment: etcd would stop reading here)`)
      break
    }
    const pos = out.records
    const recFileStart = off + FRAME_HEADER_BYTES
    let handled = false
    if (frameBytes > BIG_FRAME) handled = bigFrame(recFileStart, recBytes, pos)
    if (!handled) {
      p = ensure(off, FRAME_HEADER_BYTES + frameBytes)
      if (p < 0) {
        fail('truncated-segment', off, `wal: short read of a ${frameBytes}-byte frame`)
        break
      }
      const s = p + FRAME_HEADER_BYTES
      try {
        decodeRecordInto(buf, s, s + recBytes, file, bufStart, rec)
        if (!record(pos, off, rec.type, buf, rec.dataStart, rec.dataEnd, bufStart)) break
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err
        fail('bad-protobuf', off, `wal: record at ${off} is not a walpb.Record: ${err.detail} (at ${err.offset})`)
        break
      }
    }
    out.records++
    off += FRAME_HEADER_BYTES + frameBytes
  }
  if (out.records === 0 && !out.corrupt) {
    fail('empty-segment', 0, 'wal: segment holds no records; etcd creates every segment with a CRC and a metadata record',
      'the file was not written by etcd or was zeroed; move it aside and compare with a healthy member')
  }
  return out

  /** Handles one decoded record; false stops the scan (a finding was recorded). */
  function record(pos: number, off: number, type: number, b: Uint8Array, ds: number, de: number, bStart: number): boolean {
    if (pos === 0 && type !== RecordType.Crc) {
      fail('missing-crc-record', off, `wal: segment does not start with a CRC record (first record has type ${type}); etcd starts every segment with one`,
        'the segment was not written by etcd or its head was overwritten; do not start etcd on it until explained')
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
      fail('bad-protobuf', off, `wal: ${['', 'metadata', 'entry', 'state', 'crc', 'snapshot'][type] ?? 'record'} record at ${off} does not decode: ${err.detail}`,
        'etcd panics on such a record (MustUnmarshal); the writer was buggy or the bytes were forged')
      return false
    }
  }

  /**
   * A big frame: read its head only. Handles gogo's canonical encoding of an entry record
   * (08 type, 10 crc, 1a len data running to the end of the record; inside, 08 10 18 then 22);
   * returns false for anything else, which is then read whole.
   */
  function bigFrame(recStart: number, recBytes: number, pos: number): boolean {
    const head = source.readInto(recStart, headBuf) === HEAD_BYTES ? headBuf : null
    if (!head) return false
    const end = HEAD_BYTES
    if (head[0] !== 0x08) return false
    const t = varint(head, 1, end)
    if (!t || t.v !== BigInt(RecordType.Entry) || head[t.p] !== 0x10) return false
    const c = varint(head, t.p + 1, end)
    if (!c || head[c.p] !== 0x1a) return false
    const l = varint(head, c.p + 1, end)
    if (!l || BigInt(l.p) + l.v !== BigInt(recBytes)) return false
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

const headBuf = new Uint8Array(HEAD_BYTES)
