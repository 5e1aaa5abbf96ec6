/**
 * Branch and leaf elements (internal/common/page.go). Elements are fixed 16-byte structs right
 * after the page header; element i sits at page offset 16 + 16 * i. `pos` is relative to the
 * element's own address, not to the page start. Little-endian:
 *
 *   branchPageElement { u32 pos; u32 ksize; u64 pgid }             key = elem[pos .. pos+ksize]
 *   leafPageElement   { u32 flags; u32 pos; u32 ksize; u32 vsize }  value follows the key
 *
 * Every position is checked against the page span before the bytes are touched.
 */
import { DecodeError } from '../../errors.js'
import { CORRUPT_HINT, type Page } from './file.js'
import { BUCKET_LEAF_FLAG, ELEMENT_SIZE, PAGE_HEADER_SIZE } from './page.js'

/** A branch element: the first key of the child subtree and the child's pgid. */
export interface BranchElement {
  key: Uint8Array
  pgid: bigint
}

/** A leaf element: key, value and flags (BUCKET_LEAF_FLAG => value is a bucket header). */
export interface LeafElement {
  flags: number
  key: Uint8Array
  /** The value; empty when decoded with `values: false` (see `vsize`), except for bucket values. */
  value: Uint8Array
  /** Length of the value in bytes. */
  vsize: number
  /** Page offset of the element (for error messages). */
  at: number
}

/** Checks that `count` elements fit in the page before any of them is read. */
function elementTable(page: Page): DataView {
  const need = PAGE_HEADER_SIZE + page.header.count * ELEMENT_SIZE
  if (need > page.span) {
    throw new DecodeError(page.file, page.offset + 10, 'corrupt-page',
      `bbolt: page ${page.id}: ${page.header.count} elements need ${need} bytes, the page has ${page.span}`, CORRUPT_HINT, { pgid: page.id })
  }
  const t = page.slice(0, need, 'element table')
  return new DataView(t.buffer, t.byteOffset, t.byteLength)
}

/** Decodes every element of a branch page. */
export function branchElements(page: Page): BranchElement[] {
  const v = elementTable(page)
  const out: BranchElement[] = []
  for (let i = 0; i < page.header.count; i++) {
    const at = PAGE_HEADER_SIZE + i * ELEMENT_SIZE
    const pos = v.getUint32(at, true)
    const ksize = v.getUint32(at + 4, true)
    const pgid = v.getBigUint64(at + 8, true)
    out.push({ key: page.slice(at + pos, ksize, `key of branch element ${i}`), pgid })
  }
  return out
}

const NO_VALUE: Uint8Array = new Uint8Array(0)

/**
 * Decodes every element of a leaf page. With `values: false` only bucket values are read; other
 * values are bounds-checked but not loaded (db check reads keys only).
 */
export function leafElements(page: Page, values = true): LeafElement[] {
  const v = elementTable(page)
  const out: LeafElement[] = []
  for (let i = 0; i < page.header.count; i++) {
    const at = PAGE_HEADER_SIZE + i * ELEMENT_SIZE
    const flags = v.getUint32(at, true)
    const pos = v.getUint32(at + 4, true)
    const ksize = v.getUint32(at + 8, true)
    const vsize = v.getUint32(at + 12, true)
    const key = page.slice(at + pos, ksize, `key of leaf element ${i}`)
    let value = NO_VALUE
    if (values || (flags & BUCKET_LEAF_FLAG) !== 0) {
      value = page.slice(at + pos + ksize, vsize, `value of leaf element ${i}`)
    } else if (at + pos + ksize + vsize > page.span) {
      page.slice(at + pos + ksize, vsize, `value of leaf element ${i}`) // throws the bounds error
    }
    out.push({ flags, key, value, vsize, at })
  }
  return out
}

/** Bytewise comparison (Go's bytes.Compare). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!
    if (d !== 0) return d
  }
  return a.length - b.length
}
