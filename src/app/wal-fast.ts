/**
 * The ndjson lines of one WAL segment, for the parallel `wal -w ndjson` (app/wal-parallel.ts). A
 * tight loop over the frames (walpb.Record, raftpb.Entry; etcd-io/etcd@v3.6.0:server/storage/wal)
 * with the CRC chain from the segment's own CRC record, writing each entry's line directly: the
 * dominant entry, InternalRaftRequest { put { key, value }, header { id } } with a printable key,
 * is formatted from its bytes; every other entry goes through the same decodePayload →
 * presentEntry → entryLine as the reader path. Lines are byte-identical to `streamWal`'s
 * (test/format/wal-parallel.test.ts compares every line of every fixture).
 *
 * The loop only vouches for regular segments. At the first thing the reader would report or treat
 * specially (CRC mismatch, torn or odd frame, index not following the previous one, undecodable
 * record, …) it stops and says how many entries it presented: the caller resumes the reader path
 * from there, so findings are always the reader's.
 */
import { hash } from 'node:crypto'
import { DecodeError } from '../errors.js'
import { crc32cRange } from '../format/crc32c.js'
import { FRAME_HEADER_BYTES } from '../format/wal/frame.js'
import { decodeRecordInto, RecordType, type RecordPos } from '../format/wal/record.js'
import type { RandomAccess } from '../format/wal/decoder.js'
import type { SegmentStats, SnapshotRecord, LogEntry } from '../format/wal/log.js'
import {
  decodeEntryHeaderInto, decodeHardState, decodePayload, decodeWalSnapshot, type DecodedEntry, type EntryHeaderPos, type EntryTypeName, type HardState,
} from '../format/raft/entry.js'
import { classifyKind } from '../format/k8s/value.js'
import { kindOf, presentEntry } from './wal.js'
import { entryLine } from '../render/wal.js'

export interface SegmentJob {
  /** Segment position in the log (0 = oldest). */
  segment: number
  /** Display name, as in results. */
  file: string
  seq?: bigint
  nameIndex?: bigint
  /** The last segment of the log (may end in its preallocated zero tail). */
  last: boolean
  /** HardState.commit of the whole log (the reader path's pre-pass), for `committed`. */
  commit?: bigint
}

/** What the caller needs to link this segment to the previous one, known before any line. */
export interface SegmentHead {
  crcRecord: number | null
  metadata: Uint8Array | null
  firstIndex: bigint | null
  /** Largest snapshot-record index before the first entry. */
  snapBeforeFirst: bigint | null
}

export interface SegmentOutcome {
  /** The loop stopped early: `presented` entries were emitted; the reader path takes over after them. */
  irregular: string | null
  presented: number
  head: SegmentHead
  stats: SegmentStats
  crcEnd: number
  hardState?: HardState
  snapshots: SnapshotRecord[]
  byType: Record<string, number>
  byKind: Record<string, number>
  uncommitted: { count: number; from?: bigint; to?: bigint }
  minTerm?: bigint
  maxTerm?: bigint
}

const CHUNK = 1024 * 1024
/** Lines are handed over in batches of about this many bytes. */
const EMIT_BATCH = 512 * 1024
const SLACK = 64 * 1024

const ENTRY_TYPES: EntryTypeName[] = ['normal', 'confChange', 'confChangeV2']

/**
 * Presents the entries of one segment through `emit` (batches of whole lines, with the number of
 * entries presented up to the end of the batch), calling `onHead`
 * once before the first batch. Never throws on bad bytes: it stops and reports `irregular`.
 */
export function presentSegment(job: SegmentJob, source: RandomAccess, emit: (lines: Uint8Array, upTo: number) => void, onHead: (h: SegmentHead) => void): SegmentOutcome {
  const file = job.file
  const filePart = '","type":"normal","file":' + JSON.stringify(file) + ',"offset":'
  const commit = job.commit
  // Indexes are numbers on the hot path (an index >= 2^53 stops the loop: the reader path takes it).
  const commitN = commit === undefined ? -1 : commit > MAX_SAFE ? Infinity : Number(commit)
  const stats: SegmentStats = { file, seq: job.seq, nameIndex: job.nameIndex, size: source.byteLength, records: 0, entries: 0, zeroTail: false, zeroTailBytes: 0 }
  const head: SegmentHead = { crcRecord: null, metadata: null, firstIndex: null, snapBeforeFirst: null }
  const out: SegmentOutcome = { irregular: null, presented: 0, head, stats, crcEnd: 0, snapshots: [], byType: {}, byKind: {}, uncommitted: { count: 0 } }
  let headSent = false
  const sendHead = () => {
    if (!headSent) {
      headSent = true
      onHead(head)
    }
  }
  // Lines are written into a byte batch (latin1Write of the ASCII put lines; UTF-8 for the rest):
  // a string accumulated line by line cost twice as much to flatten and encode.
  let ob = Buffer.allocUnsafeSlow(EMIT_BATCH + SLACK)
  let op = 0
  const flush = () => {
    if (op === 0) return
    sendHead()
    emit(ob.subarray(0, op), out.presented)
    ob = Buffer.allocUnsafeSlow(EMIT_BATCH + SLACK)
    op = 0
  }
  const writeLine = (line: string, ascii: boolean) => {
    const max = ascii ? line.length : line.length * 3
    if (op + max > ob.length) {
      flush()
      if (max > ob.length) ob = Buffer.allocUnsafeSlow(max)
    }
    op += ob.write(line, op, ascii ? 'latin1' : 'utf8')
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
    buf = base
    bufStart = at
    bufLen = source.readInto(at, base.subarray(0, Math.min(base.length, size - at)))
    return bufLen >= n ? 0 : -1
  }
  const rec: RecordPos = { type: 0, crc: 0, dataStart: 0, dataEnd: 0 }
  const h: EntryHeaderPos = { type: 0, term: 0n, index: 0n, dataStart: 0, dataEnd: 0 }
  let crc = 0
  let prev = -1
  let snapMax: bigint | null = null
  let minTerm = 0
  let maxTerm = 0
  let uCount = 0
  let uFrom = -1
  let uTo = -1
  let nPut = 0
  let off = 0
  const stop = (why: string): SegmentOutcome => {
    flush()
    sendHead()
    out.irregular = why
    out.crcEnd = crc
    return out
  }

  for (;;) {
    const left = size - off
    if (left === 0) {
      stats.end = 'eof'
      break
    }
    if (left < FRAME_HEADER_BYTES) return stop('partial length word')
    let p = ensure(off, FRAME_HEADER_BYTES)
    const lo = buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24)
    const hi = buf[p + 4]! | (buf[p + 5]! << 8) | (buf[p + 6]! << 16) | (buf[p + 7]! << 24)
    if (lo === 0 && hi === 0) {
      if (!job.last) return stop('zero tail before the last segment')
      stats.end = 'zero-tail'
      stats.zeroTail = true
      stats.zeroTailBytes = left
      break
    }
    const top = hi >>> 24
    if (top & 0x78) return stop('reserved frame bits')
    const recBytes = (lo >>> 0) + (hi & 0x00ffffff) * 0x1_0000_0000
    const frameBytes = recBytes + (top & 0x80 ? top & 0x07 : 0)
    if (frameBytes > left - FRAME_HEADER_BYTES) return stop('frame runs past the end of the file')
    p = ensure(off, FRAME_HEADER_BYTES + frameBytes)
    if (p < 0) return stop('short read')
    const s = p + FRAME_HEADER_BYTES
    try {
      decodeRecordInto(buf, s, s + recBytes, file, bufStart, rec)
    } catch (err) {
      if (err instanceof DecodeError) return stop('record does not decode')
      throw err
    }
    const ds = rec.dataStart
    const de = rec.dataEnd
    const dataOff = bufStart + ds
    const pos = stats.records
    if (rec.type === RecordType.Crc) {
      if (pos !== 0) return stop('CRC record not first')
      head.crcRecord = rec.crc
      crc = rec.crc
    } else {
      if (pos === 0) return stop('missing CRC record')
      const c = crc32cRange(crc, buf, ds, de)
      if (c !== rec.crc) return stop('CRC mismatch')
      crc = c
      try {
        switch (rec.type) {
          case RecordType.Metadata:
            if (head.metadata === null) {
              // after the head went out, the caller could no longer compare it with the others
              if (headSent) return stop('metadata after the first entry')
              head.metadata = buf.slice(ds, de)
            } else if (!sameBytes(head.metadata, buf, ds, de)) return stop('metadata differs')
            break
          case RecordType.State:
            out.hardState = decodeHardState(buf.subarray(ds, de), file, dataOff)
            break
          case RecordType.Snapshot: {
            const sn = decodeWalSnapshot(buf.subarray(ds, de), file, dataOff)
            out.snapshots.push({ ...sn, file, offset: off })
            if (snapMax === null || sn.index > snapMax) snapMax = sn.index
            break
          }
          case RecordType.Entry: {
            if (!entryHead(buf, ds, de)) {
              decodeEntryHeaderInto(buf, ds, de, file, bufStart, h)
              if (h.index > MAX_SAFE || h.term > MAX_SAFE) return stop('index or term beyond 2^53')
              eType = h.type
              eTerm = Number(h.term)
              eIndex = Number(h.index)
              eStart = h.dataStart
              eEnd = h.dataEnd
            }
            const index = eIndex
            const term = eTerm
            if (prev < 0) {
              head.firstIndex = BigInt(index)
              head.snapBeforeFirst = snapMax
              stats.firstIndex = head.firstIndex
              stats.firstTerm = BigInt(term)
              minTerm = maxTerm = term
              // the head is complete: the caller links it to the previous segment before any line
              sendHead()
            } else if (index !== prev + 1) return stop('index does not follow')
            prev = index
            const committed = index <= commitN
            if (!committed) {
              uCount++
              if (uFrom < 0 || index < uFrom) uFrom = index
              if (index > uTo) uTo = index
            }
            const line = eType === 0 ? putLine(buf, eStart, eEnd, index, term, off, committed) : null
            if (line !== null) {
              writeLine(line, true)
              nPut++
            } else {
              const data = buf.subarray(eStart, eEnd)
              const type = ENTRY_TYPES[eType] ?? 'unknown'
              const d: DecodedEntry = { type, entryType: eType, term: BigInt(term), index: BigInt(index), dataBytes: data.length, payload: decodePayload(eType, data) }
              if (nPut > 0) countPuts()
              out.byType[type] = (out.byType[type] ?? 0) + 1
              const k = kindOf(d.payload)
              out.byKind[k] = (out.byKind[k] ?? 0) + 1
              const at = { segment: job.segment, file, offset: off, entryType: eType, term: d.term, index: d.index, data } as LogEntry
              writeLine(entryLine(presentEntry(d, at, committed)) + '\n', false)
            }
            out.presented++
            stats.entries++
            if (term < minTerm) minTerm = term
            if (term > maxTerm) maxTerm = term
            if (op >= EMIT_BATCH) flush()
            break
          }
          default:
            return stop('unknown record type')
        }
      } catch (err) {
        if (err instanceof DecodeError) return stop('record data does not decode')
        throw err
      }
    }
    stats.records++
    off += FRAME_HEADER_BYTES + frameBytes
  }
  if (stats.records === 0) return stop('empty segment')
  if (prev >= 0) {
    stats.lastIndex = BigInt(prev)
    stats.lastTerm = BigInt(eTerm)
    out.minTerm = BigInt(minTerm)
    out.maxTerm = BigInt(maxTerm)
  }
  stats.lastValidOffset = off
  out.crcEnd = crc
  if (nPut > 0) countPuts()
  out.uncommitted.count = uCount
  if (uCount > 0) {
    out.uncommitted.from = BigInt(uFrom)
    out.uncommitted.to = BigInt(uTo)
  }
  flush()
  sendHead()
  return out

  /** Adds the puts counted since the last other entry (keeps byType/byKind in first-seen order). */
  function countPuts(): void {
    out.byType.normal = (out.byType.normal ?? 0) + nPut
    out.byKind.put = (out.byKind.put ?? 0) + nPut
    nPut = 0
  }

  /**
   * The line of a put entry in canonical form, or null for the general path. Accepts exactly
   * InternalRaftRequest { put = 4 { key = 1; value = 2 } ; header = 100 { id = 1 } } with one-byte
   * tags, a printable ASCII key needing no JSON escape, a nonzero id and indexes below 2^53.
   */
  function putLine(b: Uint8Array, s: number, e: number, index: number, term: number, offset: number, committed: boolean): string | null {
    let q = s
    let ks = -1
    let ke = -1
    let vs = -1
    let ve = -1
    let id = ''
    let seenPut = false
    while (q < e) {
      const tag = b[q++]!
      if (tag === 0x22 && !seenPut) {
        seenPut = true
        const pl = len(b, q, e)
        if (pl < 0) return null
        q = lenEnd
        const pe = q + pl
        // key = 1
        if (b[q] !== 0x0a) return null
        const kl = len(b, q + 1, pe)
        if (kl <= 0) return null
        ks = lenEnd
        ke = ks + kl
        for (let i = ks; i < ke; i++) {
          const c = b[i]!
          if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return null
        }
        // value = 2, then nothing else (lease, prev_kv, ignore_* take the general path)
        if (b[ke] !== 0x12) return null
        const vl = len(b, ke + 1, pe)
        if (vl < 0) return null
        vs = lenEnd
        ve = vs + vl
        if (ve !== pe) return null
        q = pe
      } else if (tag === 0xa2 && b[q] === 0x06 && id === '') {
        const hl = len(b, q + 1, e)
        if (hl < 0) return null
        const hs = lenEnd
        const he = hs + hl
        if (b[hs] !== 0x08) return null
        id = hexVarint(b, hs + 1, he)
        if (id === '' || lenEnd !== he) return null
        q = he
      } else return null
    }
    if (!seenPut || id === '') return null
    // classifyValue's kind: the envelopes it knows by their first byte go the long way; the rest is
    // text when printable (isPrintable: ASCII without controls but \t \n \r, or valid UTF-8).
    let kind: string
    const b0 = b[vs]
    if (vs === ve) kind = 'opaque'
    else if (b0 === 0x6b || b0 === 0xd9 || b0 === 0x7b || b0 === 0x5b) kind = classifyKind(b.subarray(vs, ve))
    else {
      kind = 'text'
      for (let i = vs; i < ve; i++) {
        const c = b[i]!
        if (((c - 0x20) >>> 0) < 0x5f || c === 0x09 || c === 0x0a || c === 0x0d) continue
        if (c < 0x20 || c === 0x7f) {
          kind = 'opaque'
          break
        }
        kind = '' // beyond ASCII: the exact UTF-8 check decides
      }
      if (kind === '') kind = classifyKind(b.subarray(vs, ve))
    }
    return '{"kind":"entry","index":"' + index + '","term":"' + term + filePart + offset +
      ',"dataBytes":' + (e - s) + (committed ? COMMITTED : UNCOMMITTED) + latin1(b, ks, ke) + '","value":{"len":' + (ve - vs) +
      ',"sha256":"' + hash('sha256', b.subarray(vs, ve), 'hex').slice(0, 16) + (KIND_TAIL[kind] ?? '","redacted":true,"type":"' + kind + '"}},"header":{"id":"') +
      id + '"}}\n'
  }
}

const COMMITTED = ',"committed":true,"request":{"kind":"put","key":"'
const UNCOMMITTED = ',"committed":false,"request":{"kind":"put","key":"'
const KIND_TAIL: Record<string, string> = {
  opaque: '","redacted":true}},"header":{"id":"',
  text: '","redacted":true,"type":"text"}},"header":{"id":"',
  'k8s-protobuf': '","redacted":true,"type":"k8s-protobuf"}},"header":{"id":"',
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)
let lenEnd = 0

// The entry header `entryHead` read last.
let eType = 0
let eTerm = 0
let eIndex = 0
let eStart = 0
let eEnd = 0

/** A varint of at most 7 bytes (< 2^49) at b[q] before `end`: the value (lenEnd = next), or -1. */
function num(b: Uint8Array, q: number, end: number): number {
  let n = 0
  for (let i = 0, m = 1; i < 7 && q < end; i++, m *= 128) {
    const x = b[q++]!
    n += (x & 0x7f) * m
    if (x < 0x80) {
      lenEnd = q
      return n
    }
  }
  return -1
}

/**
 * raftpb.Entry as gogo writes it (08 type, 10 term, 18 index, then 22 data or nothing) into the
 * e* variables; false for any other encoding (decodeEntryHeaderInto then reads it strictly).
 */
function entryHead(b: Uint8Array, s: number, e: number): boolean {
  if (b[s] !== 0x08 || b[s + 1]! > 2 || b[s + 2] !== 0x10) return false
  const term = num(b, s + 3, e)
  if (term < 0 || b[lenEnd] !== 0x18) return false
  const index = num(b, lenEnd + 1, e)
  if (index < 0) return false
  let q = lenEnd
  if (q === e) {
    eStart = eEnd = q
  } else {
    if (b[q] !== 0x22) return false
    const l = num(b, q + 1, e)
    if (l < 0 || lenEnd + l !== e) return false
    eStart = lenEnd
    eEnd = e
  }
  eType = b[s + 1]!
  eTerm = term
  eIndex = index
  return true
}

/** A length varint of at most 3 bytes at b[q] whose payload fits before `end`: the length (lenEnd = payload start), or -1. */
function len(b: Uint8Array, q: number, end: number): number {
  let n = 0
  for (let i = 0, m = 1; i < 3; i++, m *= 128) {
    if (q >= end) return -1
    const x = b[q++]!
    n += (x & 0x7f) * m
    if (x < 0x80) {
      if (n > end - q) return -1
      lenEnd = q
      return n
    }
  }
  return -1
}

/** A u64 varint at b[q, end) as etcdctl's hex (lowercase, no padding); '' for zero, bad or overlong (lenEnd = next). */
function hexVarint(b: Uint8Array, q: number, end: number): string {
  let lo = 0
  let hi = 0
  for (let i = 0; i < 10; i++) {
    if (q >= end) return ''
    const x = b[q++]!
    if (i < 4) lo |= (x & 0x7f) << (7 * i)
    else if (i === 4) {
      lo |= (x & 0x0f) << 28
      hi = (x & 0x7f) >>> 4
    } else if (i < 9) hi |= (x & 0x7f) << (7 * i - 32)
    else {
      if (x > 1) return ''
      hi |= x << 31
    }
    if (x < 0x80) {
      lenEnd = q
      lo >>>= 0
      hi >>>= 0
      if (lo === 0 && hi === 0) return ''
      return hi === 0 ? lo.toString(16) : hi.toString(16) + HEX2[lo >>> 24]! + HEX2[(lo >>> 16) & 0xff]! + HEX2[(lo >>> 8) & 0xff]! + HEX2[lo & 0xff]!
    }
  }
  return ''
}

const HEX2 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

const latin1Of = Buffer.prototype.latin1Slice as unknown as (this: Uint8Array, s: number, e: number) => string
function latin1(b: Uint8Array, s: number, e: number): string {
  return latin1Of.call(b, s, e)
}

function sameBytes(a: Uint8Array, b: Uint8Array, s: number, e: number): boolean {
  if (a.length !== e - s) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[s + i]) return false
  return true
}
