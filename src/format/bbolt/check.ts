/**
 * A structural check like `bbolt check` (etcd-io/bbolt tx_check.go), read-only and without
 * panicking: metas 0/1 and the freelist page(s) are reachable; every bucket's tree is walked from
 * the root (sub-buckets too, inline ones inside their value); for every page: id in range, header id
 * equal to the requested id, a tree page type, no page (or overflow page) referenced twice, not
 * freed, keys strictly increasing and inside the [branch key, next branch key) range of the parent.
 * Finally every page below the high-water mark is reachable or free. With a persisted freelist an
 * unreachable page that is not in it is an error ("unreachable unfreed"); without one (etcd on
 * Linux, NoFreelistSync) the unreachable pages are the free pages, as bbolt rebuilds them at open.
 * Findings are collected (up to a limit) instead of stopping at the first one.
 */
import { DecodeError } from '../../errors.js'
import { decodeBucket, type BucketRoot } from './bucket.js'
import { branchElements, compareBytes, leafElements } from './element.js'
import { BoltFile, Page } from './file.js'
import { readFreelistIds } from './freelist.js'
import { BUCKET_LEAF_FLAG, PageFlag, PGID_NO_FREELIST } from './page.js'

/** One problem found by the check. */
export interface CheckFinding {
  severity: 'error' | 'warning'
  /** Stable code: page-out-of-bounds, page-id-mismatch, bad-page-type, multiple-references, reachable-freed, unreachable-unfreed, already-freed, key-order, page-cycle, corrupt-page, bad-bucket, truncated, ... */
  code: string
  pgid?: bigint
  /** Absolute byte offset where the problem is. */
  offset?: number
  detail: string
}

/** bbolt-stats-like figures of one bucket. */
export interface BucketStats {
  name: string
  inline: boolean
  /** Key/value pairs (sub-bucket entries included). */
  keys: number
  /** Tree depth (1 = a single leaf). */
  depth: number
  branchPages: number
  leafPages: number
  /** Extra pages spanned by overflowing pages. */
  overflowPages: number
  /** Bytes allocated to the bucket's pages (pages * pageSize; for inline: the value size). */
  allocBytes: number
  /** Bytes in use: headers, elements, keys and values. */
  inuseBytes: number
  subBuckets: number
}

/** The result of a structural check. */
export interface CheckResult {
  ok: boolean
  errors: number
  warnings: number
  findings: CheckFinding[]
  /** True when more findings existed than were kept. */
  truncatedFindings: boolean
  pageSize: number
  /** High-water mark. */
  pgid: bigint
  freelistPersisted: boolean
  reachablePages: number
  /** Pages in the persisted freelist, or (not persisted) unreachable pages below the HWM. */
  freePages: number
  /** Bytes a defrag gives back: free pages * pageSize, plus file bytes past the HWM (trailer excluded). */
  reclaimableBytes: number
  /** First unreachable page ids (up to 1000). */
  unreachable: bigint[]
  buckets: BucketStats[]
}

const TREE = [PageFlag.Branch, PageFlag.Leaf] as const

class Bitmap {
  readonly bits: Uint8Array
  constructor(readonly n: number) { this.bits = new Uint8Array(Math.ceil(n / 8)) }
  has(i: number): boolean { return (this.bits[i >> 3]! & (1 << (i & 7))) !== 0 }
  set(i: number): void { this.bits[i >> 3]! |= 1 << (i & 7) }
}

/** Runs the check; `maxFindings` bounds memory on a badly damaged file. */
export function checkDb(db: BoltFile, opts: { maxFindings?: number; trailerBytes?: number } = {}): CheckResult {
  const max = opts.maxFindings ?? 1000
  const hwm = db.hwm
  const reachable = new Bitmap(hwm)
  const freed = new Bitmap(hwm)
  const findings: CheckFinding[] = []
  let errors = 0
  let warnings = 0
  let truncatedFindings = false
  const add = (f: CheckFinding): void => {
    if (f.severity === 'error') errors++
    else warnings++
    if (findings.length < max) findings.push(f)
    else truncatedFindings = true
  }
  const fromError = (e: unknown): void => {
    if (!(e instanceof DecodeError)) throw e
    add({ severity: 'error', code: e.code, pgid: e.extra.pgid as bigint | undefined, offset: e.offset, detail: e.detail })
  }

  reachable.set(0)
  reachable.set(1)

  // Freelist.
  const persisted = db.meta.freelist !== PGID_NO_FREELIST
  let freeCount = 0
  if (persisted) {
    try {
      const fp = db.page(db.meta.freelist, [PageFlag.Freelist], `meta ${db.meta.index} freelist`, false)
      const n = Number(fp.id)
      for (let i = 0; i <= fp.header.overflow; i++) reachable.set(n + i)
      for (const id of readFreelistIds(fp)) {
        if (id < 2n || id >= BigInt(hwm)) {
          add({ severity: 'error', code: 'freed-out-of-bounds', pgid: id, detail: `freelist: page ${id} is listed as free but is outside [2, ${hwm})` })
          continue
        }
        const k = Number(id)
        if (freed.has(k)) add({ severity: 'error', code: 'already-freed', pgid: id, detail: `page ${id}: already freed` })
        else { freed.set(k); freeCount++ }
      }
    } catch (e) {
      fromError(e)
    }
  }

  const stats: BucketStats[] = []

  // Marks a page and its overflow pages reachable; returns false when it was already reached.
  const mark = (p: Page, stack: bigint[]): boolean => {
    const n = Number(p.id)
    for (let i = 0; i <= p.header.overflow; i++) {
      const id = n + i
      if (reachable.has(id)) {
        const code = stack.includes(BigInt(id)) ? 'page-cycle' : 'multiple-references'
        add({ severity: 'error', code, pgid: BigInt(id), offset: id * db.pageSize,
          detail: code === 'page-cycle'
            ? `page ${id}: cycle (page stack ${[...stack, BigInt(id)].join(' -> ')})`
            : `page ${id}: multiple references (page stack ${[...stack, p.id].join(' -> ')})` })
        return false
      }
      reachable.set(id)
      if (freed.has(id)) add({ severity: 'error', code: 'reachable-freed', pgid: BigInt(id), detail: `page ${id}: reachable freed` })
    }
    return true
  }

  const walkBucket = (name: string, b: BucketRoot, st: BucketStats): void => {
    if (b.kind === 'inline') {
      st.inline = true
      st.allocBytes += b.page.span
      walkPage(b.page, undefined, undefined, [], 1, st, name)
      return
    }
    let page: Page
    try {
      page = db.page(b.root, TREE, `bucket ${JSON.stringify(name)}`, false)
    } catch (e) {
      fromError(e)
      return
    }
    walkPage(page, undefined, undefined, [], 1, st, name)
  }

  const walkPage = (p: Page, min: Uint8Array | undefined, maxOpen: Uint8Array | undefined, stack: bigint[], depth: number, st: BucketStats, name: string): void => {
    if (!p.inline) {
      if (!mark(p, stack)) return
      st.allocBytes += (p.header.overflow + 1) * db.pageSize
      st.overflowPages += p.header.overflow
    }
    st.depth = Math.max(st.depth, depth)
    const inRange = (k: Uint8Array, i: number, prev: Uint8Array | undefined): void => {
      if (prev && compareBytes(prev, k) >= 0) {
        add({ severity: 'error', code: 'key-order', pgid: p.id, offset: p.offset,
          detail: `page ${p.id}: keys not strictly increasing at element ${i} (${hexShort(prev)} >= ${hexShort(k)})` })
      }
      if (min && compareBytes(k, min) < 0) {
        add({ severity: 'error', code: 'key-order', pgid: p.id, offset: p.offset,
          detail: `page ${p.id}: key ${hexShort(k)} at element ${i} is below its parent's key ${hexShort(min)}` })
      }
      if (maxOpen && compareBytes(k, maxOpen) >= 0) {
        add({ severity: 'error', code: 'key-order', pgid: p.id, offset: p.offset,
          detail: `page ${p.id}: key ${hexShort(k)} at element ${i} is not below the parent's next key ${hexShort(maxOpen)}` })
      }
    }
    try {
      if (p.header.flags === PageFlag.Leaf) {
        st.leafPages += p.inline ? 0 : 1
        const els = leafElements(p, false)
        st.inuseBytes += 16 + 16 * els.length
        let prev: Uint8Array | undefined
        els.forEach((e, i) => {
          inRange(e.key, i, prev)
          prev = e.key
          st.keys++
          st.inuseBytes += e.key.length + e.vsize
          if ((e.flags & BUCKET_LEAF_FLAG) !== 0) {
            st.subBuckets++
            const childName = `${name}/${Buffer.from(e.key).toString('latin1')}`
            const cb = decodeBucket(e.value, db.file, p.offset + e.at, childName)
            // Sub-buckets get their own stats entry only at the top level (etcd has no nested ones).
            if (name === '<root>') {
              const child: BucketStats = { name: Buffer.from(e.key).toString('latin1'), inline: false, keys: 0, depth: 0, branchPages: 0, leafPages: 0, overflowPages: 0, allocBytes: 0, inuseBytes: 0, subBuckets: 0 }
              stats.push(child)
              walkBucket(child.name, cb, child)
            } else {
              walkBucket(childName, cb, st)
            }
          }
        })
        return
      }
      if (p.inline) {
        add({ severity: 'error', code: 'bad-bucket', offset: p.offset, detail: `inline bucket ${JSON.stringify(name)} holds a branch page` })
        return
      }
      st.branchPages++
      const els = branchElements(p)
      st.inuseBytes += 16 + 16 * els.length
      let prev: Uint8Array | undefined
      els.forEach((e, i) => {
        inRange(e.key, i, prev)
        prev = e.key
        st.inuseBytes += e.key.length
      })
      stack.push(p.id)
      for (let i = 0; i < els.length; i++) {
        let child: Page
        try {
          child = db.page(els[i]!.pgid, TREE, `branch page ${p.id} element ${i}`, false)
        } catch (e) {
          fromError(e)
          continue
        }
        walkPage(child, els[i]!.key, els[i + 1]?.key ?? maxOpen, stack, depth + 1, st, name)
      }
      stack.pop()
    } catch (e) {
      fromError(e)
    }
  }

  // The root bucket: its leaf entries are the top-level buckets.
  const rootStats: BucketStats = { name: '<root>', inline: false, keys: 0, depth: 0, branchPages: 0, leafPages: 0, overflowPages: 0, allocBytes: 0, inuseBytes: 0, subBuckets: 0 }
  walkBucket('<root>', { kind: 'page', root: db.meta.root, sequence: db.meta.sequence }, rootStats)

  // Reachability.
  const unreachable: bigint[] = []
  let reachableN = 0
  let unreachableN = 0
  for (let i = 0; i < hwm; i++) {
    if (reachable.has(i)) { reachableN++; continue }
    if (freed.has(i)) continue
    unreachableN++
    if (unreachable.length < 1000) unreachable.push(BigInt(i))
    if (persisted) add({ severity: 'error', code: 'unreachable-unfreed', pgid: BigInt(i), offset: i * db.pageSize, detail: `page ${i}: unreachable unfreed` })
  }
  const freePages = persisted ? freeCount : unreachableN
  const slack = Math.max(0, db.fileSize - (opts.trailerBytes ?? 0) - db.dataSize)
  return {
    ok: errors === 0, errors, warnings, findings, truncatedFindings,
    pageSize: db.pageSize, pgid: db.meta.pgid, freelistPersisted: persisted,
    reachablePages: reachableN, freePages, reclaimableBytes: freePages * db.pageSize + slack,
    unreachable, buckets: stats,
  }
}

function hexShort(k: Uint8Array): string {
  const h = Buffer.from(k.subarray(0, 24)).toString('hex')
  return k.length > 24 ? `${h}…` : h
}
