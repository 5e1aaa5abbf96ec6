/**
 * The dominant WAL entry of a v3 etcd, recognised in place: an InternalRaftRequest
 * (etcd-io/etcd@v3.4.0:etcdserver/etcdserverpb/raft_internal.proto) holding exactly
 * `put = 4 { key = 1; value = 2 }` and `header = 100 { id = 1 }`, as gogo writes them (one-byte
 * tags, fields in this order or header first). Anything else, from a lease or prev_kv to an
 * overlong varint, is left to the full decoder (format/raft/entry.ts `decodePayload`), so
 * whatever this accepts decodes to the same put there. Positions only: nothing is copied.
 */
import { varintEnd } from '../protowire.js'

/** Where the parts of a matched put are in the entry data (half-open ranges). */
export interface PutShape {
  keyStart: number
  keyEnd: number
  valueStart: number
  valueEnd: number
  /** The header id's varint bytes (nonzero, canonical). */
  idStart: number
  idEnd: number
  /** Scratch: where the last length varint ended. */
  lenEnd: number
}

export function newPutShape(): PutShape {
  return { keyStart: 0, keyEnd: 0, valueStart: 0, valueEnd: 0, idStart: 0, idEnd: 0, lenEnd: 0 }
}

/**
 * Fills `p` and returns true when b[s, e) is exactly a put with a nonempty key and a header with a
 * nonzero id; false otherwise (p is then meaningless).
 */
export function matchPut(b: Uint8Array, s: number, e: number, p: PutShape): boolean {
  let q = s
  let ks = -1
  let is = -1
  while (q < e) {
    const tag = b[q++]!
    if (tag === 0x22 && ks < 0) {
      const pl = len(p, b, q, e)
      if (pl < 0) return false
      q = p.lenEnd
      const pe = q + pl
      // key = 1
      if (b[q] !== 0x0a) return false
      const kl = len(p, b, q + 1, pe)
      if (kl <= 0) return false
      ks = p.lenEnd
      const ke = ks + kl
      // value = 2, then nothing else (lease, prev_kv, ignore_* take the general path)
      if (b[ke] !== 0x12) return false
      const vl = len(p, b, ke + 1, pe)
      if (vl < 0) return false
      const vs = p.lenEnd
      if (vs + vl !== pe) return false
      p.keyStart = ks
      p.keyEnd = ke
      p.valueStart = vs
      p.valueEnd = pe
      q = pe
    } else if (tag === 0xa2 && b[q] === 0x06 && is < 0) {
      const hl = len(p, b, q + 1, e)
      if (hl < 0) return false
      const hs = p.lenEnd
      const he = hs + hl
      if (b[hs] !== 0x08) return false
      is = hs + 1
      const ie = varintEnd(b, is, he)
      // a zero id is not printed by the reader; an overlong or trailing field is the reader's too
      if (ie !== he || (ie === is + 1 && b[is] === 0)) return false
      p.idStart = is
      p.idEnd = ie
      q = he
    } else return false
  }
  return ks >= 0 && is >= 0
}

/** A length varint of at most 3 bytes at b[q] whose payload fits before `end`: the length (p.lenEnd = payload start), or -1. */
function len(p: PutShape, b: Uint8Array, q: number, end: number): number {
  let n = 0
  for (let i = 0, m = 1; i < 3; i++, m *= 128) {
    if (q >= end) return -1
    const x = b[q++]!
    n += (x & 0x7f) * m
    if (x < 0x80) {
      if (n > end - q) return -1
      p.lenEnd = q
      return n
    }
  }
  return -1
}
