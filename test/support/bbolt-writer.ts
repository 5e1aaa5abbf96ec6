/**
 * Test-only builder of bbolt files, page by page (the layout of FORMATS.md §5): meta pages with a
 * real FNV-1a checksum, leaf/branch/freelist pages, bucket values (page and inline), and a small
 * `buildDb` that lays out top-level buckets, splitting big ones into a branch + leaves. Corruption
 * tests start from these bytes and change one field.
 */
import { fnv1a64 } from '../../src/format/bbolt/meta.js'

export const enc = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'))

export interface Leaf { key: Uint8Array | string; value: Uint8Array | string; flags?: number }

const bytes = (x: Uint8Array | string): Uint8Array => (typeof x === 'string' ? enc(x) : x)

/** A meta page image. */
export function metaPage(o: { pageSize: number; index: 0 | 1; root: bigint; freelist?: bigint; pgid: bigint; txid: bigint; magic?: number; version?: number; badChecksum?: boolean }): Uint8Array {
  const p = new Uint8Array(o.pageSize)
  const v = new DataView(p.buffer)
  v.setBigUint64(0, BigInt(o.index), true)
  v.setUint16(8, 0x04, true)
  v.setUint32(16, o.magic ?? 0xed0cdaed, true)
  v.setUint32(20, o.version ?? 2, true)
  v.setUint32(24, o.pageSize, true)
  v.setBigUint64(32, o.root, true)
  v.setBigUint64(40, 0n, true)
  v.setBigUint64(48, o.freelist ?? 0xffffffffffffffffn, true)
  v.setBigUint64(56, o.pgid, true)
  v.setBigUint64(64, o.txid, true)
  let sum = fnv1a64(p.subarray(16, 72))
  if (o.badChecksum) sum ^= 1n
  v.setBigUint64(72, sum, true)
  return p
}

function header(p: Uint8Array, id: bigint, flags: number, count: number, overflow: number): void {
  const v = new DataView(p.buffer, p.byteOffset)
  v.setBigUint64(0, id, true)
  v.setUint16(8, flags, true)
  v.setUint16(10, count, true)
  v.setUint32(12, overflow, true)
}

/** Bytes a leaf page with these entries needs. */
export function leafSize(entries: Leaf[]): number {
  return 16 + 16 * entries.length + entries.reduce((n, e) => n + bytes(e.key).length + bytes(e.value).length, 0)
}

/** A leaf page image; `pageSize` 0 gives the exact-size image used inside an inline bucket. */
export function leafPage(id: bigint, entries: Leaf[], pageSize: number): Uint8Array {
  const need = leafSize(entries)
  const pages = pageSize ? Math.ceil(need / pageSize) : 1
  const p = new Uint8Array(pageSize ? pages * pageSize : need)
  header(p, id, 0x02, entries.length, pageSize ? pages - 1 : 0)
  const v = new DataView(p.buffer)
  let data = 16 + 16 * entries.length
  entries.forEach((e, i) => {
    const at = 16 + 16 * i
    const k = bytes(e.key)
    const val = bytes(e.value)
    v.setUint32(at, e.flags ?? 0, true)
    v.setUint32(at + 4, data - at, true)
    v.setUint32(at + 8, k.length, true)
    v.setUint32(at + 12, val.length, true)
    p.set(k, data)
    p.set(val, data + k.length)
    data += k.length + val.length
  })
  return p
}

/** A branch page image. */
export function branchPage(id: bigint, children: { key: Uint8Array | string; pgid: bigint }[], pageSize: number): Uint8Array {
  const p = new Uint8Array(pageSize)
  header(p, id, 0x01, children.length, 0)
  const v = new DataView(p.buffer)
  let data = 16 + 16 * children.length
  children.forEach((c, i) => {
    const at = 16 + 16 * i
    const k = bytes(c.key)
    v.setUint32(at, data - at, true)
    v.setUint32(at + 4, k.length, true)
    v.setBigUint64(at + 8, c.pgid, true)
    p.set(k, data)
    data += k.length
  })
  return p
}

/** A freelist page image (with the 0xFFFF count escape when needed). */
export function freelistPage(id: bigint, ids: bigint[], pageSize: number): Uint8Array {
  const escape = ids.length >= 0xffff
  const need = 16 + (escape ? 8 : 0) + 8 * ids.length
  const pages = Math.ceil(need / pageSize)
  const p = new Uint8Array(pages * pageSize)
  header(p, id, 0x10, escape ? 0xffff : ids.length, pages - 1)
  const v = new DataView(p.buffer)
  let at = 16
  if (escape) { v.setBigUint64(at, BigInt(ids.length), true); at += 8 }
  for (const x of ids) { v.setBigUint64(at, x, true); at += 8 }
  return p
}

/** A bucket value pointing at a page. */
export function bucketValue(root: bigint, sequence = 0n): Uint8Array {
  const b = new Uint8Array(16)
  const v = new DataView(b.buffer)
  v.setBigUint64(0, root, true)
  v.setBigUint64(8, sequence, true)
  return b
}

/** An inline bucket value: header with root 0 + a leaf page image. */
export function inlineBucket(entries: Leaf[]): Uint8Array {
  const img = leafPage(0n, entries, 0)
  const b = new Uint8Array(16 + img.length)
  b.set(img, 16)
  return b
}

/** A bucket spec for buildDb: entries in key order; `inline` keeps it inside its value. */
export interface BucketSpec { name: string; entries: Leaf[]; inline?: boolean; perLeaf?: number }

export interface BuiltDb {
  bytes: Uint8Array
  pageSize: number
  /** Page id of each bucket's root (0 for inline). */
  roots: Record<string, bigint>
  /** Page ids of each bucket's leaves. */
  leaves: Record<string, bigint[]>
  rootPage: bigint
  pgid: bigint
}

/**
 * Lays out a db: metas 0/1 (txids 2 and 3), pages from 2 on; a bucket with more than `perLeaf`
 * entries (default 64) becomes a branch page over several leaves. Freelist not persisted unless
 * `freePages` is given (then a freelist page listing them is written and referenced).
 */
export function buildDb(buckets: BucketSpec[], opts: { pageSize?: number; freePages?: number; txids?: [bigint, bigint] } = {}): BuiltDb {
  const ps = opts.pageSize ?? 4096
  const pages: Uint8Array[] = []
  let next = 2n
  const place = (img: Uint8Array): bigint => {
    const id = next
    pages.push(img)
    next += BigInt(img.length / ps)
    return id
  }
  const reserve = (): bigint => next++
  const roots: Record<string, bigint> = {}
  const leaves: Record<string, bigint[]> = {}
  const rootEntries: Leaf[] = []
  const sorted = [...buckets].sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)))
  for (const b of sorted) {
    if (b.inline) {
      roots[b.name] = 0n
      rootEntries.push({ key: b.name, value: inlineBucket(b.entries), flags: 1 })
      continue
    }
    const per = b.perLeaf ?? 64
    const chunks: Leaf[][] = []
    for (let i = 0; i < Math.max(1, b.entries.length); i += per) chunks.push(b.entries.slice(i, i + per))
    if (chunks.length === 1) {
      const id = place(leafPage(next, chunks[0]!, ps))
      roots[b.name] = id
      leaves[b.name] = [id]
    } else {
      const branchId = reserve()
      pages.push(new Uint8Array(0)) // placeholder, filled below
      const slot = pages.length - 1
      const kids = chunks.map((c) => ({ key: c[0]!.key, pgid: place(leafPage(next, c, ps)) }))
      pages[slot] = branchPage(branchId, kids, ps)
      roots[b.name] = branchId
      leaves[b.name] = kids.map((k) => k.pgid)
    }
    rootEntries.push({ key: b.name, value: bucketValue(roots[b.name]!), flags: 1 })
  }
  const rootPage = place(leafPage(next, rootEntries, ps))
  let freelist: bigint | undefined
  if (opts.freePages) {
    const freeIds: bigint[] = []
    for (let i = 0; i < opts.freePages; i++) freeIds.push(place(new Uint8Array(ps)))
    freelist = place(freelistPage(next, freeIds, ps))
  }
  const pgid = next
  const [t0, t1] = opts.txids ?? [2n, 3n]
  const out = new Uint8Array(Number(pgid) * ps)
  out.set(metaPage({ pageSize: ps, index: 0, root: rootPage, pgid, txid: t0, freelist }), 0)
  out.set(metaPage({ pageSize: ps, index: 1, root: rootPage, pgid, txid: t1, freelist }), ps)
  let at = 2 * ps
  for (const p of pages) { out.set(p, at); at += p.length }
  return { bytes: out, pageSize: ps, roots, leaves, rootPage, pgid }
}

/** Rewrites the checksum of the meta page at `offset` after a test changed its fields. */
export function resealMeta(db: Uint8Array, offset: number): void {
  const v = new DataView(db.buffer, db.byteOffset)
  v.setBigUint64(offset + 72, fnv1a64(db.subarray(offset + 16, offset + 72)), true)
}
