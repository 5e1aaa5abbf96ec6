/**
 * bbolt pages (etcd-io/bbolt internal/common/page.go, types.go). The file is an array of pages;
 * page n starts at n * pageSize. Every page begins with a 16-byte header, little-endian:
 *
 *   off 0  u64 id        pgid; must equal the page number it was read from
 *   off 8  u16 flags     exactly one of branch 0x01, leaf 0x02, meta 0x04, freelist 0x10
 *   off 10 u16 count     elements (freelist: ids, with the 0xFFFF escape)
 *   off 12 u32 overflow  extra contiguous pages; the page spans (overflow + 1) * pageSize bytes
 */

/** Page flags (internal/common/page.go). */
export const PageFlag = { Branch: 0x01, Leaf: 0x02, Meta: 0x04, Freelist: 0x10 } as const
export type PageFlag = (typeof PageFlag)[keyof typeof PageFlag]

/** Leaf element flag: the value is a bucket header (`bucketLeafFlag`). */
export const BUCKET_LEAF_FLAG = 0x01

/** Size of the page header in bytes. */
export const PAGE_HEADER_SIZE = 16
/** Size of a branch or leaf element in bytes. */
export const ELEMENT_SIZE = 16
/** The "no freelist persisted" sentinel in meta.freelist (`common.PgidNoFreelist`). */
export const PGID_NO_FREELIST = 0xffffffffffffffffn
/** The bbolt magic number (`common.Magic`). */
export const MAGIC = 0xed0cdaed
/** The only data-file version bbolt has ever written (`common.Version`). */
export const VERSION = 2

/** A decoded page header. */
export interface PageHeader {
  /** pgid the page claims to be (u64 LE). */
  id: bigint
  /** Raw flags (u16 LE). */
  flags: number
  /** Element count (u16 LE). */
  count: number
  /** Extra pages spanned (u32 LE). */
  overflow: number
}

/** Human name of a flags value, as bbolt's `page.Typ()` prints it. */
export function pageType(flags: number): string {
  switch (flags) {
    case PageFlag.Branch: return 'branch'
    case PageFlag.Leaf: return 'leaf'
    case PageFlag.Meta: return 'meta'
    case PageFlag.Freelist: return 'freelist'
    default: return `unknown<${flags.toString(16).padStart(2, '0')}>`
  }
}

/** Decodes the 16-byte header at `off` in `buf` (caller guarantees 16 bytes are there). */
export function decodePageHeader(buf: Uint8Array, off = 0): PageHeader {
  const v = new DataView(buf.buffer, buf.byteOffset + off, PAGE_HEADER_SIZE)
  return { id: v.getBigUint64(0, true), flags: v.getUint16(8, true), count: v.getUint16(10, true), overflow: v.getUint32(12, true) }
}
