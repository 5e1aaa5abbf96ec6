/**
 * The ndjson lines of one chunk of a WAL segment, for the parallel `wal -w ndjson`
 * (app/wal-parallel.ts). A chunk is a run of whole frames (walpb.Record, raftpb.Entry;
 * etcd-io/etcd@v3.6.0:server/storage/wal) cut by the main thread; it carries the CRC chain as the
 * stored CRC of the record before it, so chunks are checked independently and the main thread only
 * links their ends. The dominant entry, InternalRaftRequest { put { key, value }, header { id } }
 * with a printable key, is written byte by byte into the output; every other entry goes through the
 * same decodePayload → presentEntry → entryLine as the reader path. Lines are byte-identical to
 * `streamWal`'s (test/format/wal-parallel.test.ts compares every line of every fixture).
 *
 * The loop only vouches for regular data. At the first thing the reader would report or treat
 * specially (CRC mismatch, odd frame, index not following the previous one, undecodable record, …)
 * it stops and says how many entries it presented: the caller resumes the reader path from there,
 * so findings are always the reader's.
 */
import { hash } from 'node:crypto'
import { DecodeError } from '../errors.js'
import { CrcChain } from '../format/wal/chain.js'
import { Frame, FrameCursor } from '../format/wal/frame.js'
import { decodeRecordInto, RecordType, type RecordPos } from '../format/wal/record.js'
import type { SnapshotRecord, LogEntry } from '../format/wal/log.js'
import { bytesEqual } from '../format/wal/links.js'
import {
  decodeEntryHeaderInto, decodeHardState, decodePayload, decodeWalSnapshot, type DecodedEntry, type EntryHeaderPos, type EntryTypeName, type HardState,
} from '../format/raft/entry.js'
import { classifyKind } from '../format/k8s/value.js'
import { kindOf, presentEntry } from './wal.js'
import { entryLine } from '../render/wal.js'

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
const enc = new TextEncoder()
const bytesOf = (s: string) => enc.encode(s)

const P_INDEX = bytesOf('{"kind":"entry","index":"')
const P_TERM = bytesOf('","term":"')
const P_DATA = bytesOf(',"dataBytes":')
const P_COMMITTED = bytesOf(',"committed":true,"request":{"kind":"put","key":"')
const P_UNCOMMITTED = bytesOf(',"committed":false,"request":{"kind":"put","key":"')
const P_LEN = bytesOf('","value":{"len":')
const P_SHA = bytesOf(',"sha256":"')
const P_END = bytesOf('"}}\n')
/**
 * The rest of a put line after the SHA-256, by value class: the classes without details only; a
 * Kubernetes object, JSON or an encrypted value names its object, key or provider (valueClass), so
 * it takes the general path (presentEntry + entryLine), like every other request.
 */
const KIND_TAIL: Record<string, Uint8Array> = {
  opaque: bytesOf('","redacted":true},"valueClass":{"kind":"opaque"}},"header":{"id":"'),
  text: bytesOf('","redacted":true,"type":"text"},"valueClass":{"kind":"text"}},"header":{"id":"'),
  cbor: bytesOf('","redacted":true,"type":"cbor"},"valueClass":{"kind":"cbor"}},"header":{"id":"'),
}
/** Value bytes that keep a value `text` on the ASCII fast path: printable, \t, \n, \r. */
const TEXT_BYTE = new Uint8Array(256)
for (let c = 0x20; c < 0x7f; c++) TEXT_BYTE[c] = 1
TEXT_BYTE[0x09] = TEXT_BYTE[0x0a] = TEXT_BYTE[0x0d] = 1
/** Key bytes written as they are in a JSON string: printable ASCII but `"` and `\`. */
const KEY_BYTE = new Uint8Array(256)
for (let c = 0x20; c < 0x7f; c++) KEY_BYTE[c] = 1
KEY_BYTE[0x22] = KEY_BYTE[0x5c] = 0
const HEX = bytesOf('0123456789abcdef')

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/**
 * Per-chunk state of the small readers and the line writer below: one per `presentChunk` call,
 * passed along instead of module-level slots (the readers return a value and leave where they
 * stopped in `lenEnd`, the entry header in `e*`, without allocating per call).
 */
class ChunkCursor {
  /** The chunk being presented, for textScan's word reads. */
  view: DataView
  /** Output buffer and write position. */
  ob: Uint8Array
  op = 0
  lenEnd = 0
  eType = 0
  eTerm = 0
  eIndex = 0
  eStart = 0
  eEnd = 0
  constructor(buf: Uint8Array, out: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
    this.ob = out
  }
}

function room(c: ChunkCursor, n: number): void {
  if (c.op + n <= c.ob.length) return
  const nb = new Uint8Array(Math.max(c.ob.length * 2, c.op + n))
  nb.set(c.ob.subarray(0, c.op))
  c.ob = nb
}

/** Writers into o at p, returning the next position (locals, not the cursor's ob/op, on the hot path). */
function put(o: Uint8Array, p: number, c: Uint8Array): number {
  const n = c.length
  // a native copy pays off past a couple of dozen bytes
  if (n > 24) {
    o.set(c, p)
    return p + n
  }
  for (let i = 0; i < n; i++) o[p++] = c[i]!
  return p
}

/** A non-negative integer below 2^53 in decimal. */
function putUint(o: Uint8Array, p: number, n: number): number {
  if (n < 10) {
    o[p] = 0x30 + n
    return p + 1
  }
  let d = 1
  for (let m = 10; m <= n && d < 16; m *= 10) d++
  if (d >= 16) {
    const s = String(n)
    for (let i = 0; i < s.length; i++) o[p++] = s.charCodeAt(i)
    return p
  }
  const end = p + d
  let q = end
  while (n >= 10) {
    const r = n % 10
    n = (n - r) / 10
    o[--q] = 0x30 + r
  }
  o[--q] = 0x30 + n
  return end
}

/**
 * Presents the entries of one chunk as whole lines, written into `into` when it is large enough
 * (else into a new buffer; a buffer grown for long lines is new too), returned with the outcome.
 * Never throws on bad bytes: it stops and reports `irregular`.
 */
export function presentChunk(job: ChunkJob, buf: Uint8Array, into?: Uint8Array): { lines: Uint8Array; outcome: ChunkOutcome } {
  const file = job.file
  const fileBytes = bytesOf('","type":"normal","file":' + JSON.stringify(file) + ',"offset":')
  const commit = job.commit
  // Indexes are numbers on the hot path (an index >= 2^53 stops the loop: the reader path takes it).
  const commitN = commit === undefined ? -1 : commit > MAX_SAFE ? Infinity : Number(commit)
  const out: ChunkOutcome = {
    id: job.id, irregular: null, presented: 0, records: 0, entries: 0, crcRecord: null, metadata: null, snapBeforeFirst: null, firstOffset: -1,
    crcEnd: 0, snapshots: [], byType: {}, byKind: {}, uncommitted: { count: 0 },
  }
  // Lines are about as long as the records they come from; room() grows it for the long ones.
  const want = Math.max(4096, job.length + (job.length >>> 2))
  const c = new ChunkCursor(buf, into !== undefined && into.length >= want ? into : new Uint8Array(want))
  const base = job.base
  const size = job.length
  const rec: RecordPos = { type: 0, crc: 0, dataStart: 0, dataEnd: 0 }
  const h: EntryHeaderPos = { type: 0, term: 0n, index: 0n, dataStart: 0, dataEnd: 0 }
  // The chain carried in: the stored CRC of the record before the chunk (a segment head adopts its CRC record).
  const chain = new CrcChain(job.first ? 0 : job.crc)
  let prev = -1
  let snapMax: bigint | null = null
  let minTerm = 0
  let maxTerm = 0
  let uCount = 0
  let uFrom = -1
  let uTo = -1
  let nPut = 0
  const finish = (why: string | null) => {
    out.irregular = why
    out.crcEnd = chain.value
    if (nPut > 0) countPuts()
    if (prev >= 0) {
      out.lastIndex = BigInt(prev)
      out.lastTerm = BigInt(c.eTerm)
      out.minTerm = BigInt(minTerm)
      out.maxTerm = BigInt(maxTerm)
    }
    out.uncommitted.count = uCount
    if (uCount > 0) {
      out.uncommitted.from = BigInt(uFrom)
      out.uncommitted.to = BigInt(uTo)
    }
    const lines = c.ob.subarray(0, c.op)
    return { lines, outcome: out }
  }

  const cur = FrameCursor.over(buf, base, size)
  for (;;) {
    const k = cur.next()
    if (k === Frame.End) break
    if (k === Frame.PartialWord) return finish('partial length word')
    if (k === Frame.PastEnd) return finish('frame runs past the chunk')
    if (k !== Frame.Ok || cur.reservedBits !== 0 || !cur.whole()) return finish('odd frame')
    const s = cur.recStart
    const recBytes = cur.recBytes
    const at = cur.offset
    try {
      decodeRecordInto(buf, s, s + recBytes, file, base, rec)
    } catch (err) {
      if (err instanceof DecodeError) return finish('record does not decode')
      throw err
    }
    const ds = rec.dataStart
    const de = rec.dataEnd
    const pos = out.records
    if (rec.type === RecordType.Crc) {
      if (!job.first || pos !== 0) return finish('CRC record not first')
      out.crcRecord = rec.crc
      chain.crcRecord(rec.crc)
    } else {
      if (job.first && pos === 0) return finish('missing CRC record')
      if (!chain.check(buf, ds, de, rec.crc)) return finish('CRC mismatch')
      try {
        switch (rec.type) {
          case RecordType.Metadata:
            // Only at the head of a segment, before any entry; anything else is the reader's to judge.
            if (!job.first || prev >= 0) return finish('metadata after the head')
            if (out.metadata === null) out.metadata = buf.slice(ds, de)
            else if (!bytesEqual(out.metadata, buf.subarray(ds, de))) return finish('metadata differs')
            break
          case RecordType.State:
            out.hardState = decodeHardState(buf.subarray(ds, de), file, base + ds)
            break
          case RecordType.Snapshot: {
            const sn = decodeWalSnapshot(buf.subarray(ds, de), file, base + ds)
            out.snapshots.push({ ...sn, file, offset: at })
            if (snapMax === null || sn.index > snapMax) snapMax = sn.index
            break
          }
          case RecordType.Entry: {
            if (!entryHead(c, buf, ds, de)) {
              decodeEntryHeaderInto(buf, ds, de, file, base, h)
              if (h.index > MAX_SAFE || h.term > MAX_SAFE) return finish('index or term beyond 2^53')
              c.eType = h.type
              c.eTerm = Number(h.term)
              c.eIndex = Number(h.index)
              c.eStart = h.dataStart
              c.eEnd = h.dataEnd
            }
            const index = c.eIndex
            const term = c.eTerm
            if (prev < 0) {
              out.firstIndex = BigInt(index)
              out.firstOffset = at
              out.firstTerm = BigInt(term)
              out.snapBeforeFirst = snapMax
              minTerm = maxTerm = term
            } else if (index !== prev + 1) return finish('index does not follow')
            prev = index
            const committed = index <= commitN
            if (!committed) {
              uCount++
              if (uFrom < 0 || index < uFrom) uFrom = index
              if (index > uTo) uTo = index
            }
            if (c.eType === 0 && putLine(c, buf, c.eStart, c.eEnd, index, term, at, committed, fileBytes)) nPut++
            else {
              const data = buf.subarray(c.eStart, c.eEnd)
              const type = ENTRY_TYPES[c.eType] ?? 'unknown'
              const d: DecodedEntry = { type, entryType: c.eType, term: BigInt(term), index: BigInt(index), dataBytes: data.length, payload: decodePayload(c.eType, data) }
              if (nPut > 0) countPuts()
              out.byType[type] = (out.byType[type] ?? 0) + 1
              const k = kindOf(d.payload)
              out.byKind[k] = (out.byKind[k] ?? 0) + 1
              const loc = { segment: job.segment, file, offset: at, entryType: c.eType, term: d.term, index: d.index, data } as LogEntry
              const line = entryLine(presentEntry(d, loc, committed)) + '\n'
              room(c, line.length * 3)
              c.op += enc.encodeInto(line, c.ob.subarray(c.op)).written
            }
            out.presented++
            out.entries++
            if (term < minTerm) minTerm = term
            if (term > maxTerm) maxTerm = term
            break
          }
          default:
            return finish('unknown record type')
        }
      } catch (err) {
        if (err instanceof DecodeError) return finish('record data does not decode')
        throw err
      }
    }
    out.records++
    cur.advance()
  }
  if (job.first && out.records === 0) return finish('empty segment')
  return finish(null)

  /** Adds the puts counted since the last other entry (keeps byType/byKind in first-seen order). */
  function countPuts(): void {
    out.byType.normal = (out.byType.normal ?? 0) + nPut
    out.byKind.put = (out.byKind.put ?? 0) + nPut
    nPut = 0
  }
}

/**
 * Writes the line of a put entry in canonical form and returns true, or returns false (nothing
 * written) for the general path. Accepts exactly InternalRaftRequest { put = 4 { key = 1; value = 2 } ;
 * header = 100 { id = 1 } } with one-byte tags, a printable ASCII key needing no JSON escape and a
 * nonzero id.
 */
function putLine(c: ChunkCursor, b: Uint8Array, s: number, e: number, index: number, term: number, offset: number, committed: boolean, fileBytes: Uint8Array): boolean {
  let q = s
  let ks = -1
  let ke = -1
  let vs = -1
  let ve = -1
  let is = -1
  let ie = -1
  while (q < e) {
    const tag = b[q++]!
    if (tag === 0x22 && ks < 0) {
      const pl = len(c, b, q, e)
      if (pl < 0) return false
      q = c.lenEnd
      const pe = q + pl
      // key = 1
      if (b[q] !== 0x0a) return false
      const kl = len(c, b, q + 1, pe)
      if (kl <= 0) return false
      ks = c.lenEnd
      ke = ks + kl
      for (let i = ks; i < ke; i++) if (KEY_BYTE[b[i]!] === 0) return false
      // value = 2, then nothing else (lease, prev_kv, ignore_* take the general path)
      if (b[ke] !== 0x12) return false
      const vl = len(c, b, ke + 1, pe)
      if (vl < 0) return false
      vs = c.lenEnd
      ve = vs + vl
      if (ve !== pe) return false
      q = pe
    } else if (tag === 0xa2 && b[q] === 0x06 && is < 0) {
      const hl = len(c, b, q + 1, e)
      if (hl < 0) return false
      const hs = c.lenEnd
      const he = hs + hl
      if (b[hs] !== 0x08) return false
      is = hs + 1
      ie = varintEnd(b, is, he)
      // a zero id is not printed by the reader; an overlong or trailing field is the reader's too
      if (ie !== he || (ie === is + 1 && b[is] === 0)) return false
      q = he
    } else return false
  }
  if (ks < 0 || is < 0) return false
  // classifyValue's kind: the envelopes it knows by their first byte go the long way; the rest is
  // text when printable (isPrintable: ASCII without controls but \t \n \r, or valid UTF-8).
  let kind: string
  const b0 = b[vs]
  if (vs === ve) kind = 'opaque'
  else if (b0 === 0x6b || b0 === 0xd9 || b0 === 0x7b || b0 === 0x5b) kind = classifyKind(b.subarray(vs, ve))
  else {
    const t = textScan(c, b, vs, ve)
    kind = t === 1 ? 'text' : t === 0 ? 'opaque' : classifyKind(b.subarray(vs, ve))
  }
  const tail = KIND_TAIL[kind]
  if (tail === undefined) return false
  room(c, 512 + (ke - ks) + fileBytes.length)
  const o = c.ob
  let p = put(o, c.op, P_INDEX)
  p = putUint(o, p, index)
  p = put(o, p, P_TERM)
  p = putUint(o, p, term)
  p = put(o, p, fileBytes)
  p = putUint(o, p, offset)
  p = put(o, p, P_DATA)
  p = putUint(o, p, e - s)
  p = put(o, p, committed ? P_COMMITTED : P_UNCOMMITTED)
  for (let i = ks; i < ke; i++) o[p++] = b[i]!
  p = put(o, p, P_LEN)
  p = putUint(o, p, ve - vs)
  p = put(o, p, P_SHA)
  const hx = hash('sha256', b.subarray(vs, ve), 'hex')
  for (let i = 0; i < 16; i++) o[p++] = hx.charCodeAt(i)
  p = put(o, p, tail)
  p = putHexVarint(o, p, b, is, ie)
  c.op = put(o, p, P_END)
  return true
}

/**
 * 1 when b[s, e) is ASCII text (printable, \t \n \r), 0 when a control byte makes it opaque,
 * 2 when bytes beyond ASCII leave it to the exact UTF-8 check. The common all-printable value is
 * checked four bytes at a time (SWAR: no byte below 0x20, none above 0x7e); anything else, byte
 * by byte.
 */
function textScan(c: ChunkCursor, b: Uint8Array, s: number, e: number): number {
  let i = s
  const dv = c.view
  for (const end4 = e - 3; i < end4; i += 4) {
    const x = dv.getUint32(i, true)
    if (((x - 0x20202020) & ~x & 0x80808080) !== 0 || (((x + 0x01010101) | x) & 0x80808080) !== 0) break
  }
  let r = 1
  for (; i < e; i++) {
    const x = b[i]!
    if (TEXT_BYTE[x] === 1) continue
    if (x < 0x20 || x === 0x7f) return 0
    r = 2
  }
  return r
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

/** A length varint of at most 3 bytes at b[q] whose payload fits before `end`: the length (lenEnd = payload start), or -1. */
function len(c: ChunkCursor, b: Uint8Array, q: number, end: number): number {
  let n = 0
  for (let i = 0, m = 1; i < 3; i++, m *= 128) {
    if (q >= end) return -1
    const x = b[q++]!
    n += (x & 0x7f) * m
    if (x < 0x80) {
      if (n > end - q) return -1
      c.lenEnd = q
      return n
    }
  }
  return -1
}

/** End of a u64 varint at b[q, end): at most 10 bytes, the 10th at most 1; -1 when bad. */
function varintEnd(b: Uint8Array, q: number, end: number): number {
  for (let i = 0; i < 10; i++) {
    if (q >= end) return -1
    const x = b[q++]!
    if (x < 0x80) return i === 9 && x > 1 ? -1 : q
  }
  return -1
}

/** The u64 varint at b[s, e) (checked by varintEnd) in etcdctl's hex: lowercase, no padding. */
function putHexVarint(o: Uint8Array, p: number, b: Uint8Array, s: number, e: number): number {
  let lo = 0
  let hi = 0
  for (let i = 0, q = s; q < e; i++, q++) {
    const x = b[q]! & 0x7f
    if (i < 4) lo |= x << (7 * i)
    else if (i === 4) {
      lo |= (x & 0x0f) << 28
      hi = x >>> 4
    } else hi |= x << (7 * i - 32)
  }
  lo >>>= 0
  hi >>>= 0
  let started = false
  for (let sh = 28; sh >= 0; sh -= 4) {
    const d = (hi >>> sh) & 0xf
    if (d !== 0 || started) {
      o[p++] = HEX[d]!
      started = true
    }
  }
  for (let sh = 28; sh >= 0; sh -= 4) {
    const d = (lo >>> sh) & 0xf
    if (d !== 0 || started || sh === 0) {
      o[p++] = HEX[d]!
      started = true
    }
  }
  return p
}

