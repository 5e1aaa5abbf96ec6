/**
 * B+tree traversal of a bucket (bbolt cursor.go semantics, read-only): in-order iteration of leaf
 * elements with an optional start key, the last element, point lookups, and the list of top-level
 * buckets. Each traversal keeps a visited bitmap so a page reached twice (a cycle or a shared
 * subtree) is an error with the page stack, instead of an endless loop (bbolt xray.go).
 */
import { DecodeError } from '../../errors.js'
import { decodeBucket, type BucketRoot } from './bucket.js'
import { branchElements, compareBytes, leafElements, type LeafElement } from './element.js'
import { BoltFile, CORRUPT_HINT, Page } from './file.js'
import { BUCKET_LEAF_FLAG, PageFlag } from './page.js'

const TREE_PAGES = [PageFlag.Branch, PageFlag.Leaf] as const

/** A leaf element with where it was found. */
export interface Entry extends LeafElement {
  /** Page the element is on (0 for an inline bucket). */
  pgid: bigint
  /** Absolute file offset of the page. */
  pageOffset: number
  /** The page the element is on (to read a value not loaded with `values: false`). */
  page: Page
}

/** Tracks pages visited by one traversal; throws 'page-cycle' on a second visit. */
export class Visited {
  private readonly bits: Uint8Array
  constructor(readonly db: BoltFile) {
    this.bits = new Uint8Array(Math.ceil(db.hwm / 8))
  }
  has(n: number): boolean {
    return (this.bits[n >> 3]! & (1 << (n & 7))) !== 0
  }
  /** Marks page n; throws when it is already marked. */
  mark(n: number, stack: readonly bigint[]): void {
    if (this.has(n)) {
      throw new DecodeError(this.db.file, n * this.db.pageSize, 'page-cycle',
        `bbolt: page ${n} is reached twice (page stack ${[...stack, BigInt(n)].join(' -> ')}): a cycle or a shared subtree`,
        CORRUPT_HINT, { pgid: BigInt(n), stack: [...stack, BigInt(n)] })
    }
    this.bits[n >> 3]! |= 1 << (n & 7)
  }
}

/** Reads the tree page of a bucket root, or returns the inline page. */
function rootPage(db: BoltFile, b: BucketRoot, from: string): Page {
  return b.kind === 'inline' ? b.page : db.page(b.root, TREE_PAGES, from)
}

/**
 * Iterates the leaf elements of a bucket in key order, starting at the first key >= `start`.
 * Stop early by breaking out of the loop.
 */
export function* iterate(db: BoltFile, b: BucketRoot, opts: { start?: Uint8Array; name?: string; visited?: Visited; values?: boolean } = {}): Generator<Entry> {
  const visited = opts.visited ?? new Visited(db)
  const name = opts.name ?? '?'
  const values = opts.values ?? true
  const root = b.kind === 'inline' ? b.page : db.page(b.root, TREE_PAGES, `bucket ${JSON.stringify(name)}`, values)
  yield* walkPage(db, root, opts.start, visited, [], values)
}

function* walkPage(db: BoltFile, page: Page, start: Uint8Array | undefined, visited: Visited, stack: bigint[], values: boolean): Generator<Entry> {
  if (!page.inline) {
    const n = Number(page.id)
    for (let i = 0; i <= page.header.overflow; i++) visited.mark(n + i, stack)
  }
  if (page.header.flags === PageFlag.Leaf) {
    for (const e of leafElements(page, values)) {
      if (start && compareBytes(e.key, start) < 0) continue
      yield Object.assign(e, { pgid: page.id, pageOffset: page.offset, page })
    }
    return
  }
  if (page.inline) {
    throw new DecodeError(page.file, page.offset, 'bad-bucket', 'bbolt: inline bucket page is a branch page', CORRUPT_HINT)
  }
  const els = branchElements(page)
  let i0 = 0
  if (start) {
    // The child whose first key is the last one <= start holds start (bbolt cursor.search).
    for (let i = 0; i < els.length; i++) if (compareBytes(els[i]!.key, start) <= 0) i0 = i
  }
  stack.push(page.id)
  for (let i = i0; i < els.length; i++) {
    const child = db.page(els[i]!.pgid, TREE_PAGES, `branch page ${page.id} element ${i}`, values)
    yield* walkPage(db, child, i === i0 ? start : undefined, visited, stack, values)
  }
  stack.pop()
}

/** Bytes one read of adjacent leaf pages covers in `leavesInFileOrder`. */
const RUN_BYTES = 4 << 20
/** Pages not in the bucket that a read may skip over rather than start a new read. */
const RUN_GAP = 8

/**
 * The leaf elements of a bucket in file order instead of key order, for a pass that does not need
 * key order (the history index sorts what it collects): the branch pages are walked first and the
 * leaf pages they point to marked in a bitmap of the file's pages (bits, as `Visited`); then the
 * leaves are read in page order, a run of nearby pages by one read of up to 4 MiB instead of one
 * read a page. The checks are `iterate`'s: page ids, types, bounds, a page reached twice. bbolt's
 * tree is balanced, so the children of a branch whose first child is a leaf are all leaves; a
 * branch found among them anyway is walked in key order. The read buffer is reused: an element's
 * key, value and page are valid only until the next element is asked for (copy what you keep).
 */
export function* leavesInFileOrder(db: BoltFile, b: BucketRoot, opts: { name?: string; values?: boolean } = {}): Generator<Entry> {
  const name = opts.name ?? '?'
  const values = opts.values ?? true
  const visited = new Visited(db)
  const root = rootPage(db, b, `bucket ${JSON.stringify(name)}`)
  if (root.inline || root.header.flags === PageFlag.Leaf) { yield* walkPage(db, root, undefined, visited, [], values); return }
  const leaves = new Uint8Array(Math.ceil(db.hwm / 8))
  const markBranches = (page: Page, stack: bigint[]): void => {
    visited.mark(Number(page.id), stack)
    const els = branchElements(page)
    if (els.length === 0) return
    stack.push(page.id)
    const first = db.page(els[0]!.pgid, TREE_PAGES, `branch page ${page.id} element 0`, false)
    if (first.header.flags === PageFlag.Leaf) {
      for (let i = 0; i < els.length; i++) {
        const n = db.checkPgid(els[i]!.pgid, `branch page ${page.id} element ${i}`)
        if (leaves[n >> 3]! & (1 << (n & 7))) {
          throw new DecodeError(db.file, n * db.pageSize, 'page-cycle',
            `bbolt: page ${n} is reached twice (page stack ${[...stack, BigInt(n)].join(' -> ')}): a cycle or a shared subtree`, CORRUPT_HINT, { pgid: BigInt(n), stack: [...stack, BigInt(n)] })
        }
        leaves[n >> 3]! |= 1 << (n & 7)
      }
    } else {
      markBranches(first, stack)
      for (let i = 1; i < els.length; i++) markBranches(db.page(els[i]!.pgid, TREE_PAGES, `branch page ${page.id} element ${i}`, false), stack)
    }
    stack.pop()
  }
  markBranches(root, [])
  const isLeaf = (n: number) => (leaves[n >> 3]! & (1 << (n & 7))) !== 0
  const per = db.pageSize
  const maxPages = Math.max(1, Math.floor(RUN_BYTES / per))
  // One buffer for every run (memory stays flat): what is yielded is valid until the next element.
  const runBuf = new Uint8Array(maxPages * per)
  for (let n = 0; n < db.hwm;) {
    if (leaves[n >> 3] === 0) { n = (n | 7) + 1; continue }
    if (!isLeaf(n)) { n++; continue }
    // A run: from n to the last leaf page within reach (gaps of at most RUN_GAP pages).
    let end = n + 1
    for (let m = n + 1; m < db.hwm && m < n + maxPages && m - end < RUN_GAP; m++) if (isLeaf(m)) end = m + 1
    const chunk = runBuf.subarray(0, db.src.readInto(n * per, runBuf.subarray(0, (end - n) * per)))
    for (let p = n; p < end; p++) {
      if (!isLeaf(p)) continue
      const page = db.pageOf(BigInt(p), chunk.subarray((p - n) * per), TREE_PAGES, 'a branch page of the bucket', values)
      yield* walkPage(db, page, undefined, visited, [], values)
    }
    n = end
  }
}

/** The last leaf element of a bucket (descending the rightmost path), or null when empty. */
export function last(db: BoltFile, b: BucketRoot): Entry | null {
  let page = rootPage(db, b, 'bucket root')
  const seen = new Set<bigint>()
  for (;;) {
    if (page.header.flags === PageFlag.Leaf) {
      const els = leafElements(page)
      if (els.length > 0) {
        const e = els[els.length - 1]!
        return Object.assign(e, { pgid: page.id, pageOffset: page.offset, page })
      }
      // An empty leaf below a branch cannot happen in a sound tree; fall back to a full scan.
      if (seen.size === 0) return null
      let lastEntry: Entry | null = null
      for (const e of iterate(db, b)) lastEntry = e
      return lastEntry
    }
    const els = branchElements(page)
    if (els.length === 0) {
      throw new DecodeError(page.file, page.offset, 'corrupt-page', `bbolt: branch page ${page.id} has no elements`, CORRUPT_HINT)
    }
    seen.add(page.id)
    const child = els[els.length - 1]!.pgid
    if (seen.has(child)) {
      throw new DecodeError(page.file, Number(child) * db.pageSize, 'page-cycle',
        `bbolt: page ${child} is reached twice (page stack ${[...seen, child].join(' -> ')}): a cycle or a shared subtree`, CORRUPT_HINT, { pgid: child })
    }
    page = db.page(child, TREE_PAGES, `branch page ${page.id} element ${els.length - 1}`)
  }
}

/** Looks up one key; returns its element or null. */
export function get(db: BoltFile, b: BucketRoot, key: Uint8Array): Entry | null {
  for (const e of iterate(db, b, { start: key })) {
    return compareBytes(e.key, key) === 0 ? e : null
  }
  return null
}

/** The root bucket of the file (meta.root). */
export function rootBucket(db: BoltFile): BucketRoot {
  return { kind: 'page', root: db.meta.root, sequence: db.meta.sequence }
}

/** A top-level bucket: its name and decoded header. */
export interface NamedBucket {
  name: Uint8Array
  nameText: string
  bucket: BucketRoot
  /** Bytes of the bucket value (16 for a page bucket; more for an inline one). */
  valueSize: number
}

/** Lists the top-level buckets in key order (values without the bucket flag are skipped). */
export function buckets(db: BoltFile): NamedBucket[] {
  const out: NamedBucket[] = []
  for (const e of iterate(db, rootBucket(db), { name: '<root>' })) {
    if ((e.flags & BUCKET_LEAF_FLAG) === 0) continue
    const nameText = Buffer.from(e.key).toString('latin1')
    out.push({ name: e.key, nameText, bucket: decodeBucket(e.value, db.file, e.pageOffset + e.at, nameText), valueSize: e.value.length })
  }
  return out
}

/** Finds a top-level bucket by name, or null. */
export function bucket(db: BoltFile, name: string): NamedBucket | null {
  const key = Buffer.from(name, 'latin1')
  const e = get(db, rootBucket(db), key)
  if (!e || (e.flags & BUCKET_LEAF_FLAG) === 0) return null
  return { name: e.key, nameText: name, bucket: decodeBucket(e.value, db.file, e.pageOffset + e.at, name), valueSize: e.value.length }
}
