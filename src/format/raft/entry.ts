/**
 * raftpb.Entry and its payloads, decoded once into a discriminated union (STYLE §9).
 *
 *   Entry { EntryType Type = 1; uint64 Term = 2; uint64 Index = 3; bytes Data = 4 }
 *
 * EntryNormal classification follows etcd's `applyEntryNormal` (etcd-io/etcd@v3.6.0:
 * server/etcdserver/server.go; FORMATS §3.3): empty data → leader no-op; strictly parses as
 * InternalRaftRequest → IRR; strictly parses as a v2 `Request` → v2; otherwise unknown (hex).
 * EntryConfChange / EntryConfChangeV2 carry raftpb.ConfChange(V2) whose `context` is the member
 * JSON (membership/member.go), parsed without rounding the 64-bit `id` (FORMATS §3.2).
 * Passwords and tokens in auth requests are replaced by `Redacted` here, before anything can
 * render them (FORMATS §3.7).
 */
import { DecodeError } from '../../errors.js'
import { ProtoReader, WireType, varintEnd } from '../protowire.js'
import { decodeMessage, type Decoded } from './pb.js'
import * as S from './schemas.js'

/** raftpb.EntryType. */
export const EntryType = { Normal: 0, ConfChange: 1, ConfChangeV2: 2 } as const
/** JSON `type` of an entry. */
export type EntryTypeName = 'normal' | 'confChange' | 'confChangeV2' | 'unknown'
export const ConfChangeTypeNames = ['ConfChangeAddNode', 'ConfChangeRemoveNode', 'ConfChangeUpdateNode', 'ConfChangeAddLearnerNode'] as const
export const ConfChangeTransitionNames = ['ConfChangeTransitionAuto', 'ConfChangeTransitionJointImplicit', 'ConfChangeTransitionJointExplicit'] as const

/** The header fields of an entry plus a view of its data (no payload decoding). */
export interface EntryHeader {
  /** raw EntryType value */
  type: number
  term: bigint
  index: bigint
  /** view into the caller's buffer */
  data: Uint8Array
}

/** A secret that was removed: only its length survives (no hash: passwords are guessable). */
export interface Redacted {
  redacted: true
  len: number
}

export interface RequestHeader { id?: bigint; username?: string; authRevision?: bigint; requesterMemberId?: bigint }

export interface PutRequest { kind: 'put'; key: Uint8Array; value: Uint8Array; lease: bigint; prevKv?: boolean; ignoreValue?: boolean; ignoreLease?: boolean }
export interface DeleteRangeRequest { kind: 'deleteRange'; key: Uint8Array; rangeEnd?: Uint8Array; prevKv?: boolean }
export interface RangeRequest { kind: 'range'; key: Uint8Array; rangeEnd?: Uint8Array; limit?: bigint; revision?: bigint; [k: string]: unknown }
export interface Compare {
  result: 'EQUAL' | 'GREATER' | 'LESS' | 'NOT_EQUAL' | string
  target: 'VERSION' | 'CREATE' | 'MOD' | 'VALUE' | 'LEASE' | string
  key: Uint8Array
  rangeEnd?: Uint8Array
  version?: bigint
  createRevision?: bigint
  modRevision?: bigint
  value?: Uint8Array
  lease?: bigint
}
export type RequestOp = PutRequest | DeleteRangeRequest | RangeRequest | TxnRequest | { kind: 'empty' }
export interface TxnRequest { kind: 'txn'; compare: Compare[]; success: RequestOp[]; failure: RequestOp[] }
export interface CompactionRequest { kind: 'compaction'; revision: bigint; physical: boolean }
export interface LeaseGrantRequest { kind: 'leaseGrant'; ttl: bigint; id: bigint }
export interface LeaseRevokeRequest { kind: 'leaseRevoke'; id: bigint }
export interface LeaseCheckpointRequest { kind: 'leaseCheckpoint'; checkpoints: { id: bigint; remainingTtl: bigint }[] }
export interface AlarmRequest { kind: 'alarm'; action: string; memberId: bigint; alarm: string }
export interface V2Request {
  kind: 'v2'
  id: bigint
  method: string
  path: string
  val?: string
  [k: string]: unknown
}
/** Auth and membership requests: the upstream fields, camelCased, secrets redacted. */
export interface OtherRequest {
  kind:
    | 'authEnable' | 'authDisable' | 'authenticate' | 'authStatus'
    | 'authUserAdd' | 'authUserDelete' | 'authUserGet' | 'authUserChangePassword' | 'authUserGrantRole' | 'authUserRevokeRole'
    | 'authUserList' | 'authRoleList' | 'authRoleAdd' | 'authRoleDelete' | 'authRoleGet' | 'authRoleGrantPermission' | 'authRoleRevokePermission'
    | 'clusterVersionSet' | 'clusterMemberAttrSet' | 'downgradeInfoSet' | 'downgradeVersionTest' | 'empty'
  [field: string]: unknown
}
export type Request = PutRequest | DeleteRangeRequest | RangeRequest | TxnRequest | CompactionRequest | LeaseGrantRequest
  | LeaseRevokeRequest | LeaseCheckpointRequest | AlarmRequest | V2Request | OtherRequest
export type RequestKind = Request['kind']

/** The `context` of a conf change: the member JSON when it parses, else the raw bytes. */
export interface MemberContext {
  id: bigint
  name?: string
  peerURLs?: string[]
  clientURLs?: string[]
  isLearner?: boolean
  isPromote?: boolean
}
export interface ConfChange {
  type: string
  nodeId: bigint
  /** raft request id */
  id: bigint
  member?: MemberContext
  /** raw context when it is not member JSON (or empty) */
  context?: Uint8Array
  /** `member.id` differs from `nodeId` */
  idMismatch?: boolean
}
export interface ConfChangeV2 {
  transition: string
  changes: { type: string; nodeId: bigint }[]
  member?: MemberContext
  context?: Uint8Array
}

/** An entry's payload, decoded once. */
export type EntryPayload =
  | { kind: 'noop' }
  | { kind: 'irr'; header?: RequestHeader; request: Request }
  | { kind: 'v2Request'; request: V2Request }
  | { kind: 'confChange'; confChange: ConfChange }
  | { kind: 'confChangeV2'; confChangeV2: ConfChangeV2 }
  | { kind: 'unknown'; data: Uint8Array; reason: string }

export interface DecodedEntry {
  type: EntryTypeName
  /** raw EntryType */
  entryType: number
  term: bigint
  index: bigint
  dataBytes: number
  payload: EntryPayload
}

const EMPTY: Uint8Array = new Uint8Array(0)

/**
 * Reads the Entry header (type, term, index, data view) without decoding the payload. Strict like
 * Go's Unmarshal. `base` is the file offset of buf[0].
 */
export function decodeEntryHeader(buf: Uint8Array, start = 0, end = buf.length, file = '<bytes>', base = 0): EntryHeader {
  const h = decodeEntryHeaderAt(buf, start, end, file, base)
  return { type: h.type, term: h.term, index: h.index, data: h.dataEnd > h.dataStart ? buf.subarray(h.dataStart, h.dataEnd) : EMPTY }
}

/** Like `decodeEntryHeader`, with the data's position in `buf` instead of a view (hot path). */
export function decodeEntryHeaderAt(buf: Uint8Array, start: number, end: number, file = '<bytes>', base = 0): { type: number; term: bigint; index: bigint; dataStart: number; dataEnd: number } {
  const r = new ProtoReader(buf, file, base, start, end)
  let type = 0
  let term = 0n
  let index = 0n
  let dataStart = 0
  let dataEnd = 0
  while (r.pos < end) {
    const at = r.pos
    const tag = buf[at]!
    // gogo's field order: 08 type, 10 term, 18 index, 22 data; one-byte tags, no result objects.
    if (tag === 0x10 || tag === 0x18) {
      r.pos++
      const v = smallU64(r)
      if (tag === 0x10) term = v
      else index = v
      continue
    }
    if (tag === 0x08) {
      r.pos++
      type = buf[r.pos]! < 0x80 && r.pos < end ? buf[r.pos++]! : Number(BigInt.asIntN(32, r.varint64()))
      continue
    }
    if (tag === 0x22) {
      r.pos++
      ;[dataStart, dataEnd] = r.lengthDelimited()
      continue
    }
    // General path: multi-byte (non-minimal) tags, unknown fields, wrong wire types.
    const { field, wire } = r.tag()
    if (field >= 1 && field <= 4) {
      const want = field === 4 ? WireType.Bytes : WireType.Varint
      if (wire !== want) r.fail('bad-protobuf', `protobuf: raftpb.Entry field ${field} has wire type ${wire}, want ${want}`, at)
      if (field === 1) type = Number(BigInt.asIntN(32, r.varint64()))
      else if (field === 2) term = r.varint64()
      else if (field === 3) index = r.varint64()
      else [dataStart, dataEnd] = r.lengthDelimited()
    } else r.skip(wire, field)
  }
  return { type, term, index, dataStart, dataEnd }
}

/** Caller-owned result of `decodeEntryHeaderInto`. */
export interface EntryHeaderPos { type: number; term: bigint; index: bigint; dataStart: number; dataEnd: number }

let lastTermNum = -1
let lastTermBig = 0n

/**
 * `decodeEntryHeaderAt` into a caller-owned object (the hot path of every WAL read): the canonical
 * encoding (one-byte tags 08 10 18 22 in that order, varints below 2^49, a one- or two-byte data
 * length) is read with number arithmetic and no allocation but the two bigints (the term's is
 * reused while it does not change); anything else goes through `decodeEntryHeaderAt`.
 */
export function decodeEntryHeaderInto(buf: Uint8Array, start: number, end: number, file: string, base: number, out: EntryHeaderPos): void {
  let pos = start
  let type = 0
  let term = -1
  let index = -1
  let ok = false
  fast: {
    if (pos < end && buf[pos] === 0x08) {
      if (pos + 1 >= end || buf[pos + 1]! >= 0x80) break fast
      type = buf[pos + 1]!
      pos += 2
    }
    if (pos >= end || buf[pos] !== 0x10) break fast
    pos++
    let v = 0
    let mul = 1
    for (let i = 0; ; i++) {
      if (i === 7 || pos >= end) break fast
      const b = buf[pos++]!
      v += (b & 0x7f) * mul
      if (b < 0x80) break
      mul *= 128
    }
    term = v
    if (pos >= end || buf[pos] !== 0x18) break fast
    pos++
    v = 0
    mul = 1
    for (let i = 0; ; i++) {
      if (i === 7 || pos >= end) break fast
      const b = buf[pos++]!
      v += (b & 0x7f) * mul
      if (b < 0x80) break
      mul *= 128
    }
    index = v
    let dataStart = 0
    let dataEnd = 0
    if (pos < end) {
      if (buf[pos] !== 0x22 || pos + 1 >= end) break fast
      let len = buf[pos + 1]!
      pos += 2
      if (len >= 0x80) {
        if (pos >= end || buf[pos]! >= 0x80) break fast
        len = (len & 0x7f) | (buf[pos++]! << 7)
      }
      if (len !== end - pos) break fast
      dataStart = pos
      dataEnd = end
    }
    out.dataStart = dataStart
    out.dataEnd = dataEnd
    ok = true
  }
  if (!ok) {
    const h = decodeEntryHeaderAt(buf, start, end, file, base)
    out.type = h.type
    out.term = h.term
    out.index = h.index
    out.dataStart = h.dataStart
    out.dataEnd = h.dataEnd
    return
  }
  out.type = type
  if (term !== lastTermNum) {
    lastTermNum = term
    lastTermBig = BigInt(term)
  }
  out.term = lastTermBig
  out.index = BigInt(index)
}

/** A uint64 varint as bigint; values below 2^49 are read with number arithmetic first. */
function smallU64(r: ProtoReader): bigint {
  const buf = r.buf
  let v = 0
  let mul = 1
  for (let i = r.pos, e = Math.min(r.end, r.pos + 7); i < e; i++) {
    const b = buf[i]!
    v += (b & 0x7f) * mul
    if (b < 0x80) {
      r.pos = i + 1
      return BigInt(v)
    }
    mul *= 128
  }
  return r.varint64()
}

/** Full decode of an entry: header, then the payload union. Never throws on payload bytes. */
export function decodeEntry(buf: Uint8Array, start = 0, end = buf.length, file = '<bytes>', base = 0): DecodedEntry {
  const h = decodeEntryHeader(buf, start, end, file, base)
  return { ...typeOf(h.type), term: h.term, index: h.index, dataBytes: h.data.length, payload: decodePayload(h.type, h.data) }
}

function typeOf(t: number): { type: EntryTypeName; entryType: number } {
  return { type: t === 0 ? 'normal' : t === 1 ? 'confChange' : t === 2 ? 'confChangeV2' : 'unknown', entryType: t }
}

/** The request kind used for counting and --type: noop, v2, put, txn, …, confChange, unknown. */
export function kindOf(p: EntryPayload): string {
  switch (p.kind) {
    case 'noop': return 'noop'
    case 'irr': return p.request.kind
    case 'v2Request': return 'v2'
    case 'confChange': return 'confChange'
    case 'confChangeV2': return 'confChangeV2'
    case 'unknown': return 'unknown'
  }
}

/** Classifies and decodes an entry's `Data` for its EntryType. */
export function decodePayload(entryType: number, data: Uint8Array): EntryPayload {
  if (entryType === EntryType.Normal) return decodeNormal(data)
  if (entryType === EntryType.ConfChange) {
    try {
      return { kind: 'confChange', confChange: toConfChange(decodeMessage(S.ConfChange, data)) }
    } catch (err) {
      return unknown(data, err)
    }
  }
  if (entryType === EntryType.ConfChangeV2) {
    try {
      return { kind: 'confChangeV2', confChangeV2: toConfChangeV2(decodeMessage(S.ConfChangeV2, data)) }
    } catch (err) {
      return unknown(data, err)
    }
  }
  return { kind: 'unknown', data, reason: `unknown entry type ${entryType}` }
}

function unknown(data: Uint8Array, err: unknown): EntryPayload {
  if (!(err instanceof DecodeError)) throw err
  return { kind: 'unknown', data, reason: err.detail }
}

/** EntryNormal: no-op, InternalRaftRequest, or legacy v2 Request (FORMATS §3.3). */
export function decodeNormal(data: Uint8Array): EntryPayload {
  if (data.length === 0) return { kind: 'noop' }
  const fast = decodePutFast(data)
  if (fast !== undefined) return fast
  let irr: Decoded
  try {
    irr = decodeMessage(S.InternalRaftRequest, data)
  } catch {
    try {
      return { kind: 'v2Request', request: toV2(decodeMessage(S.V2Request, data)) }
    } catch (err) {
      return unknown(data, err)
    }
  }
  const header = irr.header as RequestHeader | undefined
  for (const [, kind] of S.IrrRequests) {
    const v = irr[kind] as Decoded | undefined
    if (v !== undefined) {
      const request = toRequest(kind, v)
      return header ? { kind: 'irr', header, request } : { kind: 'irr', request }
    }
  }
  // Parses, but no request field is set: etcd's applier would do nothing with it.
  return header ? { kind: 'irr', header, request: { kind: 'empty' } } : { kind: 'irr', request: { kind: 'empty' } }
}

// Hot path: nearly every entry of a Kubernetes WAL is InternalRaftRequest { put = 4; header = 100 { id = 1 } }.
// decodePutFast accepts only that shape written the canonical way (one-byte tags, each field at
// most once, bools 0/1) and then returns exactly what the schema
// decoder + toPut would; on anything else it returns undefined and the strict general path decides.
let vLo = 0
let vHi = 0

/**
 * Reads a u64 varint into vLo/vHi (unsigned 32-bit halves); returns the new position, or -1 when
 * truncated or longer than 10 bytes. Bits past 64 in the 10th byte are dropped, as Go does.
 */
function u64At(buf: Uint8Array, pos: number, end: number): number {
  let lo = 0
  let hi = 0
  for (let i = 0; i < 10 && pos < end; i++) {
    const b = buf[pos++]!
    if (i < 4) lo |= (b & 0x7f) << (7 * i)
    else if (i === 4) {
      lo |= (b & 0x0f) << 28
      hi = (b & 0x7f) >>> 4
    } else if (i < 9) hi |= (b & 0x7f) << (7 * i - 32)
    else hi |= (b & 0x01) << 31
    if (b < 0x80) {
      vLo = lo >>> 0
      vHi = hi >>> 0
      return pos
    }
  }
  return -1
}

function u64Value(): bigint {
  if (vHi === 0) return BigInt(vLo)
  if (vHi < 0x200000) return BigInt(vHi * 0x1_0000_0000 + vLo)
  return (BigInt(vHi) << 32n) | BigInt(vLo)
}

/** A length prefix of 1 or 2 bytes whose payload fits before `end`; returns the payload start, or -1 (length in vLo). */
function lenAt(buf: Uint8Array, pos: number, end: number): number {
  if (pos >= end) return -1
  let len = buf[pos++]!
  if (len >= 0x80) {
    if (pos >= end || buf[pos]! >= 0x80) return -1
    len = (len & 0x7f) | (buf[pos++]! << 7)
  }
  if (len > end - pos) return -1
  vLo = len
  return pos
}

function decodePutFast(data: Uint8Array): EntryPayload | undefined {
  const end = data.length
  let pos = 0
  let put: PutRequest | undefined
  let header: RequestHeader | undefined
  while (pos < end) {
    const tag = data[pos++]!
    if (tag === 0x22 && put === undefined) {
      const s = lenAt(data, pos, end)
      if (s < 0) return undefined
      const e = s + vLo
      const p = putFast(data, s, e)
      if (p === undefined) return undefined
      put = p
      pos = e
    } else if (tag === 0xa2 && pos < end && data[pos] === 0x06 && header === undefined) {
      const s = lenAt(data, pos + 1, end)
      if (s < 0) return undefined
      const e = s + vLo
      header = {}
      if (s < e) {
        // RequestHeader { id = 1 } only; username/authRevision/requesterMemberId take the general path.
        if (data[s] !== 0x08) return undefined
        if (u64At(data, s + 1, e) !== e) return undefined
        header.id = u64Value()
      }
      pos = e
    } else return undefined
  }
  if (put === undefined) return undefined
  return header ? { kind: 'irr', header, request: put } : { kind: 'irr', request: put }
}

function putFast(buf: Uint8Array, pos: number, end: number): PutRequest | undefined {
  let key: Uint8Array | undefined
  let value: Uint8Array | undefined
  let lease: bigint | undefined
  let flags = 0
  let seen = 0
  while (pos < end) {
    const tag = buf[pos++]!
    const field = tag >>> 3
    if (field < 1 || field > 6 || (seen & (1 << field)) !== 0) return undefined
    seen |= 1 << field
    if (field <= 2) {
      if ((tag & 7) !== 2) return undefined
      const s = lenAt(buf, pos, end)
      if (s < 0) return undefined
      pos = s + vLo
      if (field === 1) key = buf.subarray(s, pos)
      else value = buf.subarray(s, pos)
    } else {
      if ((tag & 7) !== 0 || pos >= end) return undefined
      if (field === 3) {
        pos = u64At(buf, pos, end)
        if (pos < 0) return undefined
        lease = vHi >= 0x8000_0000 ? BigInt.asIntN(64, u64Value()) : u64Value() // int64
      } else {
        const b = buf[pos++]!
        if (b > 1) return undefined
        if (b === 1) flags |= 1 << field
      }
    }
  }
  const out: PutRequest = { kind: 'put', key: key ?? EMPTY, value: value ?? EMPTY, lease: lease ?? 0n }
  if (flags & (1 << 4)) out.prevKv = true
  if (flags & (1 << 5)) out.ignoreValue = true
  if (flags & (1 << 6)) out.ignoreLease = true
  return out
}

/**
 * The keys an EntryNormal's write request names, without decoding it into objects (the index build
 * reads every put, delete and txn of the WAL: a Kubernetes txn of 2000 puts decoded is thousands of
 * objects that outlive V8's young generation). Accepts only InternalRaftRequest { header = 100,
 * exactly one of put = 4, delete_range = 5, txn = 6 } with each singular field at most once and
 * every RequestOp with one request set: then the keys are those decodeNormal's request names
 * (a put's key, a single-key delete's key, recursively through txn branches; a delete with a
 * range_end sets `range`). Anything else returns false and the caller decodes the entry in full.
 * Key i is data[starts[i], ends[i]); `out` is reused from call to call.
 */
export interface WrittenKeys { n: number; starts: Int32Array; ends: Int32Array; range: boolean }

export function newWrittenKeys(): WrittenKeys {
  return { n: 0, starts: new Int32Array(256), ends: new Int32Array(256), range: false }
}

export function writtenKeys(data: Uint8Array, out: WrittenKeys): boolean {
  out.n = 0
  out.range = false
  return requestKeys(data, 0, data.length, out, 0, true)
}

// Tag and length of the field just read (module state: no object per field).
let wField = 0
let wType = 0
let wLen = 0

/** Reads a varint below 2^28 into wLen; returns the position after it, or -1. */
function varint28(buf: Uint8Array, pos: number, end: number): number {
  let v = 0
  for (let i = 0; i < 4; i++) {
    if (pos >= end) return -1
    const b = buf[pos++]!
    v |= (b & 0x7f) << (7 * i)
    if (b < 0x80) {
      wLen = v
      return pos
    }
  }
  return -1
}

/** Reads a tag (field number below 2^25) into wField and wType; returns the position after it, or -1. */
function tagAt(buf: Uint8Array, pos: number, end: number): number {
  const p = varint28(buf, pos, end)
  wField = wLen >>> 3
  wType = wLen & 7
  return p < 0 || wField === 0 ? -1 : p
}

/** Reads a length prefix whose payload fits before `end` into wLen; returns the payload start, or -1. */
function lenAny(buf: Uint8Array, pos: number, end: number): number {
  const p = varint28(buf, pos, end)
  return p < 0 || wLen > end - p ? -1 : p
}

/** Moves past a field of the wire type just read (not a group); returns the new position, or -1. */
function skipField(buf: Uint8Array, pos: number, end: number): number {
  if (wType === 0) {
    for (let i = 0; i < 10; i++) { if (pos >= end) return -1; if (buf[pos++]! < 0x80) return pos }
    return -1
  }
  if (wType === 1) return pos + 8 <= end ? pos + 8 : -1
  if (wType === 5) return pos + 4 <= end ? pos + 4 : -1
  if (wType === 2) { const s = lenAny(buf, pos, end); return s < 0 ? -1 : s + wLen }
  return -1
}

/** PutRequest or DeleteRangeRequest in buf[pos, end): its key (absent: empty), or `range` for a delete with a range_end. */
function keyOf(buf: Uint8Array, pos: number, end: number, out: WrittenKeys, isDelete: boolean): boolean {
  let ks = pos
  let ke = pos
  let seen = 0
  let ranged = false
  while (pos < end) {
    const t = tagAt(buf, pos, end)
    if (t < 0) return false
    pos = t
    const field = wField
    if (field < 32) { if ((seen & (1 << field)) !== 0) return false; seen |= 1 << field }
    if (field === 1 || (isDelete && field === 2)) {
      if (wType !== 2) return false
      const s = lenAny(buf, pos, end)
      if (s < 0) return false
      pos = s + wLen
      if (field === 1) { ks = s; ke = pos } else ranged = wLen > 0
    } else {
      pos = skipField(buf, pos, end)
      if (pos < 0) return false
    }
  }
  if (ranged) out.range = true
  else pushKey(out, ks, ke)
  return true
}

/** TxnRequest in buf[pos, end): the keys of its success and failure operations. */
function txnKeys(buf: Uint8Array, pos: number, end: number, out: WrittenKeys, depth: number): boolean {
  if (depth > 64) return false
  while (pos < end) {
    const t = tagAt(buf, pos, end)
    if (t < 0) return false
    pos = t
    const field = wField
    if (field === 2 || field === 3) {
      if (wType !== 2) return false
      const s = lenAny(buf, pos, end)
      if (s < 0) return false
      pos = s + wLen
      if (!requestKeys(buf, s, pos, out, depth, false)) return false
    } else {
      pos = skipField(buf, pos, end)
      if (pos < 0) return false
    }
  }
  return true
}

/**
 * A message holding exactly one request: InternalRaftRequest (put 4, delete_range 5, txn 6; the
 * header, 100, skipped) or RequestOp (range 1: no key; put 2, delete_range 3, txn 4).
 */
function requestKeys(buf: Uint8Array, pos: number, end: number, out: WrittenKeys, depth: number, irr: boolean): boolean {
  const shift = irr ? 2 : 0
  let request = 0
  while (pos < end) {
    const t = tagAt(buf, pos, end)
    if (t < 0) return false
    pos = t
    if (irr && wField === 100 && wType === 2) {
      const s = lenAny(buf, pos, end)
      if (s < 0) return false
      pos = s + wLen
      continue
    }
    // 1 range, 2 put, 3 delete_range, 4 txn.
    const kind = wField - shift
    if (kind < (irr ? 2 : 1) || kind > 4 || wType !== 2 || request !== 0) return false
    request = kind
    const s = lenAny(buf, pos, end)
    if (s < 0) return false
    pos = s + wLen
    if (kind === 2 && !keyOf(buf, s, pos, out, false)) return false
    if (kind === 3 && !keyOf(buf, s, pos, out, true)) return false
    if (kind === 4 && !txnKeys(buf, s, pos, out, depth + 1)) return false
  }
  return request !== 0
}

function pushKey(out: WrittenKeys, s: number, e: number): void {
  if (out.n === out.starts.length) {
    const st = new Int32Array(out.n * 2)
    const en = new Int32Array(out.n * 2)
    st.set(out.starts)
    en.set(out.ends)
    out.starts = st
    out.ends = en
  }
  out.starts[out.n] = s
  out.ends[out.n++] = e
}

const COMPARE_RESULT = ['EQUAL', 'GREATER', 'LESS', 'NOT_EQUAL']
const COMPARE_TARGET = ['VERSION', 'CREATE', 'MOD', 'VALUE', 'LEASE']
const ALARM_ACTION = ['GET', 'ACTIVATE', 'DEACTIVATE']
const ALARM_TYPE = ['NONE', 'NOSPACE', 'CORRUPT']
const PERM_TYPE = ['READ', 'WRITE', 'READWRITE']
const enumName = (names: readonly string[], v: unknown): string => names[(v as number) ?? 0] ?? String(v ?? 0)
const redact = (s: unknown): Redacted | undefined => (typeof s === 'string' ? { redacted: true, len: Buffer.byteLength(s) } : undefined)

function toV2(d: Decoded): V2Request {
  return { ...d, kind: 'v2', id: (d.id as bigint) ?? 0n, method: (d.method as string) ?? '', path: (d.path as string) ?? '' }
}

function toPut(d: Decoded): PutRequest {
  const out: PutRequest = { kind: 'put', key: (d.key as Uint8Array) ?? EMPTY, value: (d.value as Uint8Array) ?? EMPTY, lease: (d.lease as bigint) ?? 0n }
  if (d.prevKv) out.prevKv = true
  if (d.ignoreValue) out.ignoreValue = true
  if (d.ignoreLease) out.ignoreLease = true
  return out
}

function toDelete(d: Decoded): DeleteRangeRequest {
  const out: DeleteRangeRequest = { kind: 'deleteRange', key: (d.key as Uint8Array) ?? EMPTY }
  if (d.rangeEnd) out.rangeEnd = d.rangeEnd as Uint8Array
  if (d.prevKv) out.prevKv = true
  return out
}

function toOp(d: Decoded): RequestOp {
  if (d.requestPut) return toPut(d.requestPut as Decoded)
  if (d.requestDeleteRange) return toDelete(d.requestDeleteRange as Decoded)
  if (d.requestRange) return { ...(d.requestRange as Decoded), kind: 'range', key: ((d.requestRange as Decoded).key as Uint8Array) ?? EMPTY }
  if (d.requestTxn) return toTxn(d.requestTxn as Decoded)
  return { kind: 'empty' }
}

function toTxn(d: Decoded): TxnRequest {
  return {
    kind: 'txn',
    compare: ((d.compare as Decoded[]) ?? []).map((c) => ({ ...c, result: enumName(COMPARE_RESULT, c.result), target: enumName(COMPARE_TARGET, c.target), key: (c.key as Uint8Array) ?? EMPTY })),
    success: ((d.success as Decoded[]) ?? []).map(toOp),
    failure: ((d.failure as Decoded[]) ?? []).map(toOp),
  }
}

function toRequest(kind: string, d: Decoded): Request {
  switch (kind) {
    case 'put': return toPut(d)
    case 'deleteRange': return toDelete(d)
    case 'range': return { ...d, kind: 'range', key: (d.key as Uint8Array) ?? EMPTY }
    case 'txn': return toTxn(d)
    case 'compaction': return { kind: 'compaction', revision: (d.revision as bigint) ?? 0n, physical: (d.physical as boolean) ?? false }
    case 'leaseGrant': return { kind: 'leaseGrant', ttl: (d.ttl as bigint) ?? 0n, id: (d.id as bigint) ?? 0n }
    case 'leaseRevoke': return { kind: 'leaseRevoke', id: (d.id as bigint) ?? 0n }
    case 'leaseCheckpoint':
      return { kind: 'leaseCheckpoint', checkpoints: ((d.checkpoints as Decoded[]) ?? []).map((c) => ({ id: (c.id as bigint) ?? 0n, remainingTtl: (c.remainingTtl as bigint) ?? 0n })) }
    case 'alarm': return { kind: 'alarm', action: enumName(ALARM_ACTION, d.action), memberId: (d.memberId as bigint) ?? 0n, alarm: enumName(ALARM_TYPE, d.alarm) }
    case 'v2': return toV2(d)
    case 'authenticate': return { kind: 'authenticate', name: d.name ?? '', password: redact(d.password ?? ''), simpleToken: redact(d.simpleToken ?? '') }
    case 'authUserAdd': {
      const out: OtherRequest = { kind: 'authUserAdd', name: d.name ?? '', password: redact(d.password ?? '') }
      if (d.hashedPassword !== undefined) out.hashedPassword = redact(d.hashedPassword)
      if (d.options) out.noPassword = ((d.options as Decoded).noPassword as boolean) ?? false
      return out
    }
    case 'authUserChangePassword': {
      const out: OtherRequest = { kind: 'authUserChangePassword', name: d.name ?? '', password: redact(d.password ?? '') }
      if (d.hashedPassword !== undefined) out.hashedPassword = redact(d.hashedPassword)
      return out
    }
    case 'authRoleGrantPermission': {
      const p = (d.perm as Decoded) ?? {}
      const perm: Decoded = { permType: enumName(PERM_TYPE, p.permType), key: (p.key as Uint8Array) ?? EMPTY }
      if (p.rangeEnd) perm.rangeEnd = p.rangeEnd
      return { kind: 'authRoleGrantPermission', name: d.name ?? '', perm }
    }
    case 'clusterMemberAttrSet': {
      const a = (d.memberAttributes as Decoded) ?? {}
      return { kind: 'clusterMemberAttrSet', memberId: (d.memberId as bigint) ?? 0n, name: a.name ?? '', clientUrls: a.clientUrls ?? [] }
    }
    default:
      return { ...d, kind: kind as OtherRequest['kind'] }
  }
}

function toConfChange(d: Decoded): ConfChange {
  const nodeId = (d.nodeId as bigint) ?? 0n
  const out: ConfChange = { type: enumName(ConfChangeTypeNames, d.type), nodeId, id: (d.id as bigint) ?? 0n }
  const ctx = d.context as Uint8Array | undefined
  if (ctx && ctx.length > 0) {
    const member = parseMemberContext(ctx)
    if (member) {
      out.member = member
      if (member.id !== nodeId) out.idMismatch = true
    } else out.context = ctx
  }
  return out
}

function toConfChangeV2(d: Decoded): ConfChangeV2 {
  const out: ConfChangeV2 = {
    transition: enumName(ConfChangeTransitionNames, d.transition),
    changes: ((d.changes as Decoded[]) ?? []).map((c) => ({ type: enumName(ConfChangeTypeNames, c.type), nodeId: (c.nodeId as bigint) ?? 0n })),
  }
  const ctx = d.context as Uint8Array | undefined
  if (ctx && ctx.length > 0) {
    const member = parseMemberContext(ctx)
    if (member) out.member = member
    else out.context = ctx
  }
  return out
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Parses member JSON (`Member` / `ConfigChangeContext`) keeping `id` exact: every bare number
 * outside strings is quoted before JSON.parse, so `3422665156528897914` stays a bigint instead of
 * rounding to …900. Returns undefined when the bytes are not such JSON.
 */
export function parseMemberContext(ctx: Uint8Array): MemberContext | undefined {
  let text: string
  try {
    text = strictUtf8.decode(ctx)
  } catch {
    return undefined
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(quoteBareNumbers(text))
  } catch {
    return undefined
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined
  const o = parsed as Record<string, unknown>
  if (typeof o.id !== 'string' || !/^\d+$/.test(o.id)) return undefined
  const id = BigInt(o.id)
  if (id > 0xffffffffffffffffn) return undefined
  const m: MemberContext = { id }
  if (typeof o.name === 'string') m.name = o.name
  if (Array.isArray(o.peerURLs)) m.peerURLs = o.peerURLs.map(String)
  if (Array.isArray(o.clientURLs)) m.clientURLs = o.clientURLs.map(String)
  if (typeof o.isLearner === 'boolean') m.isLearner = o.isLearner
  if (typeof o.isPromote === 'boolean') m.isPromote = o.isPromote
  return m
}

/** Wraps every JSON number token outside strings in quotes. */
function quoteBareNumbers(s: string): string {
  let out = ''
  let i = 0
  while (i < s.length) {
    const c = s[i]!
    if (c === '"') {
      let j = i + 1
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1
      out += s.slice(i, j + 1)
      i = j + 1
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      let j = i + 1
      while (j < s.length && /[0-9eE+.-]/.test(s[j]!)) j++
      out += '"' + s.slice(i, j) + '"'
      i = j
    } else {
      out += c
      i++
    }
  }
  return out
}

/** raftpb.HardState. */
export interface HardState { term: bigint; vote: bigint; commit: bigint }
export function decodeHardState(buf: Uint8Array, file = '<bytes>', base = 0): HardState {
  const d = decodeMessage(S.HardState, buf, 0, buf.length, file, base)
  return { term: (d.term as bigint) ?? 0n, vote: (d.vote as bigint) ?? 0n, commit: (d.commit as bigint) ?? 0n }
}

/**
 * True when b[s, e) is a HardState as gogo writes it (term = 1, vote = 2, commit = 3 as varints,
 * in that order, each optional): decodeHardState reads it without fail. An allocation-free check
 * for readers that only need the last of many (etcd writes one per raft Ready).
 */
export function plainHardState(b: Uint8Array, s: number, e: number): boolean {
  let q = s
  for (let tag = 0x08; tag <= 0x18 && q < e; tag += 8) {
    if (b[q] !== tag) continue
    q = varintEnd(b, q + 1, e)
    if (q < 0) return false
  }
  return q === e
}

/** raftpb.ConfState. */
export interface ConfState { voters: bigint[]; learners: bigint[]; votersOutgoing: bigint[]; learnersNext: bigint[]; autoLeave: boolean }
/** walpb.Snapshot (conf state filled from 3.5). */
export interface WalSnapshot { index: bigint; term: bigint; confState?: ConfState }
export function decodeWalSnapshot(buf: Uint8Array, file = '<bytes>', base = 0): WalSnapshot {
  const d = decodeMessage(S.WalSnapshot, buf, 0, buf.length, file, base)
  const out: WalSnapshot = { index: (d.index as bigint) ?? 0n, term: (d.term as bigint) ?? 0n }
  const cs = d.confState as Decoded | undefined
  if (cs) {
    out.confState = {
      voters: (cs.voters as bigint[]) ?? [], learners: (cs.learners as bigint[]) ?? [],
      votersOutgoing: (cs.votersOutgoing as bigint[]) ?? [], learnersNext: (cs.learnersNext as bigint[]) ?? [], autoLeave: (cs.autoLeave as boolean) ?? false,
    }
  }
  return out
}

/** etcdserverpb.Metadata: the member's identity on disk. */
export interface Metadata { nodeId: bigint; clusterId: bigint }
export function decodeMetadata(buf: Uint8Array, file = '<bytes>', base = 0): Metadata {
  const d = decodeMessage(S.Metadata, buf, 0, buf.length, file, base)
  return { nodeId: (d.nodeId as bigint) ?? 0n, clusterId: (d.clusterId as bigint) ?? 0n }
}
