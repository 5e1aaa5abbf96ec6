/**
 * bbolt meta pages 0 and 1 (internal/common/meta.go, db.go `meta()` and `getPageSize()`).
 * The meta struct follows the 16-byte page header, little-endian:
 *
 *   page off 16 u32 magic 0xED0CDAED   20 u32 version (2)   24 u32 pageSize   28 u32 flags
 *            32 u64 root.root          40 u64 root.sequence
 *            48 u64 freelist (0xFFFF_FFFF_FFFF_FFFF = not persisted)
 *            56 u64 pgid (high-water mark: valid ids are < pgid)   64 u64 txid
 *            72 u64 checksum = FNV-1a 64 of page bytes 16..71
 *
 * A commit writes its meta to page txid % 2; bbolt uses the higher txid when it validates, else
 * the other one, and refuses to open only when both fail.
 */
import { decodePageHeader, MAGIC, PAGE_HEADER_SIZE, VERSION } from './page.js'

/** Bytes of the meta struct after the page header, checksum included. */
export const META_SIZE = 64

/** A decoded meta page (whether or not it validates). */
export interface Meta {
  /** 0 or 1: which meta page this is. */
  index: 0 | 1
  /** Byte offset of the page in the file. */
  offset: number
  pageId: bigint
  pageFlags: number
  magic: number
  version: number
  pageSize: number
  flags: number
  /** pgid of the root bucket's page. */
  root: bigint
  sequence: bigint
  /** pgid of the freelist, or PGID_NO_FREELIST. */
  freelist: bigint
  /** High-water mark: pages in use. */
  pgid: bigint
  txid: bigint
  checksum: bigint
  /** FNV-1a 64 computed over the 56 bytes before the checksum. */
  computedChecksum: bigint
  /** Null when valid; otherwise the first failing check in bbolt's order. */
  error: MetaError | null
}

/** Why a meta page does not validate, in bbolt's `Validate()` order. */
export type MetaError =
  | { code: 'truncated'; detail: string }
  | { code: 'bad-magic'; detail: string }
  | { code: 'bad-version'; detail: string }
  | { code: 'bad-checksum'; detail: string }

const FNV_OFFSET = 0xcbf29ce484222325n
const FNV_PRIME = 0x100000001b3n
const MASK64 = 0xffffffffffffffffn

/** FNV-1a 64 (Go's hash/fnv New64a). */
export function fnv1a64(b: Uint8Array): bigint {
  // Split into two 32-bit halves to stay on fast number arithmetic: 56 bytes per meta, but it runs
  // for every page-size probe.
  let h = FNV_OFFSET
  for (let i = 0; i < b.length; i++) {
    h ^= BigInt(b[i]!)
    h = (h * FNV_PRIME) & MASK64
  }
  return h
}

/**
 * Decodes a meta page from `buf` (the bytes starting at the page). `buf` may be short: the result
 * then carries a 'truncated' error.
 */
export function decodeMeta(buf: Uint8Array, index: 0 | 1, offset: number): Meta {
  const need = PAGE_HEADER_SIZE + META_SIZE
  if (buf.length < need) {
    return {
      index, offset, pageId: 0n, pageFlags: 0, magic: 0, version: 0, pageSize: 0, flags: 0, root: 0n, sequence: 0n,
      freelist: 0n, pgid: 0n, txid: 0n, checksum: 0n, computedChecksum: 0n,
      error: { code: 'truncated', detail: `meta page ${index} is truncated: ${buf.length} of ${need} bytes present` },
    }
  }
  const h = decodePageHeader(buf, 0)
  const v = new DataView(buf.buffer, buf.byteOffset + PAGE_HEADER_SIZE, META_SIZE)
  const m: Meta = {
    index, offset, pageId: h.id, pageFlags: h.flags,
    magic: v.getUint32(0, true), version: v.getUint32(4, true), pageSize: v.getUint32(8, true), flags: v.getUint32(12, true),
    root: v.getBigUint64(16, true), sequence: v.getBigUint64(24, true), freelist: v.getBigUint64(32, true),
    pgid: v.getBigUint64(40, true), txid: v.getBigUint64(48, true), checksum: v.getBigUint64(56, true),
    computedChecksum: fnv1a64(buf.subarray(PAGE_HEADER_SIZE, PAGE_HEADER_SIZE + 56)),
    error: null,
  }
  if (m.magic !== MAGIC) {
    m.error = { code: 'bad-magic', detail: `meta page ${index}: magic is 0x${m.magic.toString(16).padStart(8, '0')}, expected 0xed0cdaed (not a bbolt file?)` }
  } else if (m.version !== VERSION) {
    m.error = { code: 'bad-version', detail: `meta page ${index}: version ${m.version}, expected 2` }
  } else if (m.checksum !== m.computedChecksum) {
    m.error = { code: 'bad-checksum', detail: `meta page ${index}: checksum 0x${m.checksum.toString(16).padStart(16, '0')} does not match computed 0x${m.computedChecksum.toString(16).padStart(16, '0')}` }
  }
  return m
}

/** The outcome of bbolt's meta selection. */
export interface MetaChoice {
  /** The meta bbolt would use. */
  meta: Meta
  /** Both metas as decoded. */
  metas: [Meta, Meta]
  /** One sentence: which meta and why. */
  reason: string
}

/**
 * bbolt's `db.meta()`: take the meta with the higher txid if it validates, else the other one.
 * Returns null when neither validates (bbolt: "invalid meta pages").
 */
export function chooseMeta(m0: Meta, m1: Meta): MetaChoice | null {
  const [a, b] = m1.txid > m0.txid ? [m1, m0] : [m0, m1]
  if (a.error === null) {
    const reason = b.error === null
      ? `meta ${a.index} has the higher txid (${a.txid} > ${b.txid}) and a valid checksum`
      : `meta ${a.index} (txid ${a.txid}) is valid; meta ${b.index} is not (${b.error.code})`
    return { meta: a, metas: [m0, m1], reason }
  }
  if (b.error === null) {
    return { meta: b, metas: [m0, m1], reason: `meta ${a.index} has the higher txid but is invalid (${a.error.code}); fell back to meta ${b.index} (txid ${b.txid})` }
  }
  return null
}
