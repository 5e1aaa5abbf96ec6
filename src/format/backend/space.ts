/**
 * Where the space of an etcd db goes, from the `key` bucket alone (mvcc kvstore.go, kvstore_compaction.go,
 * key_index.go; bbolt node.go `split`): every revision key is `BE64(main)_BE64(sub)[t]` and its value
 * an mvccpb.KeyValue, in revision order. Per user key this module accumulates, without holding key
 * bytes, what a revision is:
 *   live       the newest revision of the key, when it is not a tombstone
 *   history    an older put kept since the last compaction
 *   tombstone  a delete marker (18-byte key ending in 't')
 * and what `compact R` would keep: every revision above R, plus the newest revision <= R of each
 * key unless that one is a tombstone (keyIndex.compact drops a generation that ends at or below R).
 *
 * Bytes of a revision are what it takes in a leaf page: the 16-byte leaf element, the key and the
 * value (bbolt's `inuse` figure). Pages after a defrag are estimated the way bbolt writes them:
 * etcd's defrag copies each bucket in key order with FillPercent 0.9 (backend.go `defragdb`), and
 * bbolt's `node.splitIndex` closes a page before the element that would take it past
 * 0.9 * pageSize, with at least 2 elements per page; a page larger than pageSize spans overflow pages.
 *
 * Memory: one table per pass with typed arrays (about 60 bytes per distinct key, no JS object per
 * key); past `maxKeys` keys a table splits its slice of the fingerprint space as key-table.ts does
 * and the other half is counted in a further pass over the bucket.
 */
import { murmurFingerprint, type KeyPartition } from './key-table.js'

/** bbolt constants (internal/common/page.go, bucket.go). */
const PAGE_HEADER = 16
const ELEMENT = 16
const MIN_KEYS_PER_PAGE = 2
/** etcd's defrag sets this FillPercent on every bucket it copies. */
export const DEFRAG_FILL_PERCENT = 0.9

/** How keys are grouped into prefixes. */
export interface GroupingOptions {
  /** Path segments kept for keys outside `/registry/` (default 1). */
  depth?: number
}

const SLASH = 0x2f
const REGISTRY = Buffer.from('/registry/', 'latin1')

function startsWithRegistry(k: Uint8Array): boolean {
  if (k.length < REGISTRY.length) return false
  for (let i = 0; i < REGISTRY.length; i++) if (k[i] !== REGISTRY[i]) return false
  return true
}

/**
 * The prefix a key is counted under, as a slice of the key (ends with '/', or empty):
 * Kubernetes keys by resource: `/registry/<resource>/` for the core group and the groups
 * kube-apiserver stores without a dotted prefix, `/registry/<group>/<resource>/` when the first
 * segment is a dotted API group (apiregistration.k8s.io, CRDs' groups); other keys by their first
 * `depth` path segments (a leading '/' does not start a segment), or up to their last '/' when
 * they have fewer.
 */
export function prefixOf(k: Uint8Array, opts: GroupingOptions = {}): Uint8Array {
  let start: number
  let segments: number
  if (startsWithRegistry(k)) {
    start = REGISTRY.length
    let dotted = false
    for (let j = start; j < k.length && k[j] !== SLASH; j++) if (k[j] === 0x2e) dotted = true
    segments = dotted ? 2 : 1
  } else {
    start = k[0] === SLASH ? 1 : 0
    segments = opts.depth ?? 1
  }
  let end = start
  for (let n = 0, i = start; n < segments; n++) {
    while (i < k.length && k[i] !== SLASH) i++
    if (i >= k.length) break
    end = ++i
  }
  return k.subarray(0, end)
}

/** Bytes a revision takes in a leaf page: element + key + value. */
export const revisionBytes = (keyLen: number, valueLen: number): number => ELEMENT + keyLen + valueLen

/** One key among the largest or most-revised ones. */
export interface TopKey {
  /** The user key (first MAX_TOP_KEY bytes). */
  key: Uint8Array
  truncated: boolean
  revisions: number
  /** Bytes of every revision held (tombstones included). */
  bytes: number
  /** Bytes of the newest revision. */
  latestBytes: number
  /** The newest revision is a tombstone. */
  deleted: boolean
}

const MAX_TOP_KEY = 4096

/**
 * Keeps the `n` keys with the highest score (ties: the smaller key, so the list does not depend on
 * the order of passes); scores only grow, keys are found again by fingerprint.
 */
class TopN {
  readonly items: (TopKey & { lo: number; hi: number; score: number })[] = []
  constructor(readonly n: number) {}
  /** Scores below this cannot enter. */
  min(): number { return this.items.length < this.n ? -1 : this.items[this.worst()]!.score }
  private worst(): number {
    let w = 0
    for (let i = 1; i < this.items.length; i++) if (worse(this.items[i]!, this.items[w]!)) w = i
    return w
  }
  offer(lo: number, hi: number, score: number, key: Uint8Array, make: () => TopKey): void {
    const it = this.items.find((x) => x.lo === lo && x.hi === hi)
    if (it) { Object.assign(it, make(), { score }); return }
    if (this.items.length < this.n) { this.items.push({ ...make(), lo, hi, score }); return }
    const w = this.worst()
    const cur = this.items[w]!
    if (cur.score < score || (cur.score === score && Buffer.compare(key.subarray(0, MAX_TOP_KEY), cur.key) < 0)) this.items[w] = { ...make(), lo, hi, score }
  }
  retain(keep: (hi: number) => boolean): void {
    for (let i = this.items.length - 1; i >= 0; i--) if (!keep(this.items[i]!.hi)) this.items.splice(i, 1)
  }
}

const worse = (a: { score: number; key: Uint8Array }, b: { score: number; key: Uint8Array }): boolean =>
  a.score < b.score || (a.score === b.score && Buffer.compare(a.key, b.key) > 0)

/** Orders top keys best first: score descending, then key ascending. */
export function compareTop(score: (t: TopKey) => number): (a: TopKey, b: TopKey) => number {
  return (a, b) => score(b) - score(a) || Buffer.compare(a.key, b.key)
}

/** Figures of one prefix (or of all keys). */
export interface PrefixSpace {
  /** Distinct user keys with a revision in the db. */
  keys: number
  /** Keys whose newest revision is a put. */
  liveKeys: number
  revisions: number
  liveBytes: number
  historyRevisions: number
  historyBytes: number
  tombstones: number
  tombstoneBytes: number
  /** Revisions and bytes `compact` at the forecast revision keeps. */
  keptRevisions: number
  keptBytes: number
}

export const emptySpace = (): PrefixSpace => ({
  keys: 0, liveKeys: 0, revisions: 0, liveBytes: 0, historyRevisions: 0, historyBytes: 0, tombstones: 0, tombstoneBytes: 0, keptRevisions: 0, keptBytes: 0,
})

const SPACE_FIELDS = Object.keys(emptySpace()) as (keyof PrefixSpace)[]

/** Adds b's figures to a's (other properties of either are left alone). */
export function addSpace(a: PrefixSpace, b: PrefixSpace): void {
  for (const k of SPACE_FIELDS) a[k] += b[k]
}

const TOMB_LATEST = 1
const TOMB_LER = 2
const HAS_LER = 4
const FP_HI = 0x7fffffff

/**
 * The per-key accumulator of one pass (a slice of the fingerprint space). Feed every revision of
 * the `key` bucket in order with `add`; read the figures with `drain`.
 */
export class SpaceTable {
  private lo: Uint32Array
  private hi: Uint32Array
  private slot: Int32Array
  private mask: number
  private n = 0
  // Per key, indexed by insertion order.
  private group: Uint32Array
  private revs: Uint32Array
  private tombs: Uint32Array
  private bytes: Float64Array
  private tombBytes: Float64Array
  private latest: Uint32Array
  private leR: Uint32Array
  private aboveR: Float64Array
  private aboveN: Uint32Array
  private flags: Uint8Array
  private part: number
  private parts: number
  readonly pending: KeyPartition[] = []
  readonly largest: TopN
  readonly mostRevised: TopN

  /** `atRevision`: the forecast's compaction revision; `maxKeys`: keys one table holds before it splits. */
  constructor(readonly atRevision: bigint, readonly maxKeys: number, partition: KeyPartition = { part: 0, parts: 1 }, top = 10) {
    this.part = partition.part
    this.parts = partition.parts
    const cap = 1024
    this.lo = new Uint32Array(cap * 2)
    this.hi = new Uint32Array(cap * 2)
    this.slot = new Int32Array(cap * 2)
    this.mask = cap * 2 - 1
    this.group = new Uint32Array(cap)
    this.revs = new Uint32Array(cap)
    this.tombs = new Uint32Array(cap)
    this.bytes = new Float64Array(cap)
    this.tombBytes = new Float64Array(cap)
    this.latest = new Uint32Array(cap)
    this.leR = new Uint32Array(cap)
    this.aboveR = new Float64Array(cap)
    this.aboveN = new Uint32Array(cap)
    this.flags = new Uint8Array(cap)
    this.largest = new TopN(top)
    this.mostRevised = new TopN(top)
  }

  get keys(): number { return this.n }

  /**
   * One revision of `key`: `main` its main revision, `size` its bytes. `groupOf` is called once per
   * new key. Revisions of keys outside the table's slice are ignored.
   */
  add(key: Uint8Array, main: bigint, tombstone: boolean, size: number, groupOf: (key: Uint8Array) => number): void {
    const f = murmurFingerprint(key)
    const lo = f.lo >>> 0 || 1
    const hi = f.hi & FP_HI
    if ((hi & (this.parts - 1)) !== this.part) return
    let i = this.find(lo, hi)
    if (i < 0) {
      if (this.n >= this.maxKeys && this.parts < 1 << 30) {
        this.split()
        if ((hi & (this.parts - 1)) !== this.part) return
      }
      i = this.insert(lo, hi, groupOf(key))
    }
    this.revs[i]!++
    this.bytes[i]! += size
    this.latest[i] = size
    let fl = this.flags[i]!
    if (tombstone) { this.tombs[i]!++; this.tombBytes[i]! += size; fl |= TOMB_LATEST } else fl &= ~TOMB_LATEST
    if (main <= this.atRevision) {
      this.leR[i] = size
      fl |= HAS_LER
      if (tombstone) fl |= TOMB_LER
      else fl &= ~TOMB_LER
    } else {
      this.aboveR[i]! += size
      this.aboveN[i]!++
    }
    this.flags[i] = fl
    const topKey = (): TopKey => ({
      key: key.length > MAX_TOP_KEY ? key.slice(0, MAX_TOP_KEY) : key.slice(), truncated: key.length > MAX_TOP_KEY,
      revisions: this.revs[i]!, bytes: this.bytes[i]!, latestBytes: size, deleted: tombstone,
    })
    if (this.bytes[i]! >= this.largest.min()) this.largest.offer(lo, hi, this.bytes[i]!, key, topKey)
    if (this.revs[i]! >= this.mostRevised.min()) this.mostRevised.offer(lo, hi, this.revs[i]!, key, topKey)
  }

  /**
   * Hands each key's figures to `sink` (by group) and its kept revisions' sizes to `kept` (for the
   * page estimate: the newest revision <= R, then the revisions above R at their mean size).
   */
  drain(sink: (group: number, s: PrefixSpace) => void, kept: (size: number, count: number) => void): void {
    const s = emptySpace()
    for (let i = 0; i < this.n; i++) {
      const fl = this.flags[i]!
      const latestTomb = (fl & TOMB_LATEST) !== 0
      const liveBytes = latestTomb ? 0 : this.latest[i]!
      const keepLeR = (fl & HAS_LER) !== 0 && (fl & TOMB_LER) === 0
      s.keys = 1
      s.liveKeys = latestTomb ? 0 : 1
      s.revisions = this.revs[i]!
      s.liveBytes = liveBytes
      s.tombstones = this.tombs[i]!
      s.tombstoneBytes = this.tombBytes[i]!
      s.historyRevisions = this.revs[i]! - this.tombs[i]! - (latestTomb ? 0 : 1)
      s.historyBytes = this.bytes[i]! - this.tombBytes[i]! - liveBytes
      s.keptRevisions = this.aboveN[i]! + (keepLeR ? 1 : 0)
      s.keptBytes = this.aboveR[i]! + (keepLeR ? this.leR[i]! : 0)
      sink(this.group[i]!, s)
      if (keepLeR) kept(this.leR[i]!, 1)
      if (this.aboveN[i]! > 0) kept(this.aboveR[i]! / this.aboveN[i]!, this.aboveN[i]!)
    }
  }

  private find(lo: number, hi: number): number {
    for (let p = lo & this.mask; ; p = (p + 1) & this.mask) {
      const l = this.lo[p]!
      if (l === 0) return -1
      if (l === lo && this.hi[p] === hi) return this.slot[p]!
    }
  }

  private insert(lo: number, hi: number, group: number): number {
    if (this.n >= this.group.length) this.growData(this.group.length * 2)
    if ((this.n + 1) * 2 > this.mask + 1) this.rehash(this.lo.length * 2)
    const i = this.n++
    // A split leaves old figures past the new end: start from zero.
    this.group[i] = group; this.revs[i] = 0; this.tombs[i] = 0; this.bytes[i] = 0; this.tombBytes[i] = 0
    this.latest[i] = 0; this.leR[i] = 0; this.aboveR[i] = 0; this.aboveN[i] = 0; this.flags[i] = 0
    this.place(lo, hi, i)
    return i
  }

  private place(lo: number, hi: number, i: number): void {
    let p = lo & this.mask
    while (this.lo[p] !== 0) p = (p + 1) & this.mask
    this.lo[p] = lo
    this.hi[p] = hi
    this.slot[p] = i
  }

  private rehash(cap: number): void {
    const { lo, hi, slot } = this
    this.lo = new Uint32Array(cap)
    this.hi = new Uint32Array(cap)
    this.slot = new Int32Array(cap)
    this.mask = cap - 1
    for (let p = 0; p < lo.length; p++) if (lo[p] !== 0) this.place(lo[p]!, hi[p]!, slot[p]!)
  }

  private growData(cap: number): void {
    const grow = <T extends Uint32Array | Float64Array | Uint8Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(cap)
      b.set(a.subarray(0, this.n) as never)
      return b
    }
    this.group = grow(this.group); this.revs = grow(this.revs); this.tombs = grow(this.tombs)
    this.bytes = grow(this.bytes); this.tombBytes = grow(this.tombBytes); this.latest = grow(this.latest)
    this.leR = grow(this.leR); this.aboveR = grow(this.aboveR); this.aboveN = grow(this.aboveN); this.flags = grow(this.flags)
  }

  /** Keeps the keys whose next fingerprint bit is 0; the other half is left to another pass. */
  private split(): void {
    const bit = this.parts
    this.pending.push({ part: this.part | bit, parts: bit * 2 })
    this.parts = bit * 2
    const { lo, hi, slot } = this
    this.lo = new Uint32Array(lo.length)
    this.hi = new Uint32Array(lo.length)
    this.slot = new Int32Array(lo.length)
    // Compact the per-key arrays in place: new index j <= old index i.
    const remap = new Int32Array(this.n).fill(-1)
    const keep: { lo: number; hi: number; i: number }[] = []
    for (let p = 0; p < lo.length; p++) if (lo[p] !== 0 && (hi[p]! & bit) === 0) keep.push({ lo: lo[p]!, hi: hi[p]!, i: slot[p]! })
    keep.sort((a, b) => a.i - b.i)
    let j = 0
    for (const k of keep) remap[k.i] = j++
    for (let i = 0; i < this.n; i++) {
      const t = remap[i]!
      if (t < 0 || t === i) continue
      this.group[t] = this.group[i]!; this.revs[t] = this.revs[i]!; this.tombs[t] = this.tombs[i]!
      this.bytes[t] = this.bytes[i]!; this.tombBytes[t] = this.tombBytes[i]!; this.latest[t] = this.latest[i]!
      this.leR[t] = this.leR[i]!; this.aboveR[t] = this.aboveR[i]!; this.aboveN[t] = this.aboveN[i]!; this.flags[t] = this.flags[i]!
    }
    this.n = j
    for (const k of keep) this.place(k.lo, k.hi, remap[k.i]!)
    this.largest.retain((h) => (h & bit) === 0)
    this.mostRevised.retain((h) => (h & bit) === 0)
  }
}

/**
 * Pages bbolt writes for a bucket filled in key order (defrag): elements are fed one at a time;
 * `pages` gives leaf, overflow and branch pages. Branch elements hold a child's first key
 * (`keyLen` bytes: revision keys are all 17 or 18).
 */
export class PageEstimator {
  leafPages = 0
  overflowPages = 0
  private sz = PAGE_HEADER
  private count = 0
  private readonly threshold: number
  constructor(readonly pageSize: number, readonly keyLen = 17, fillPercent = DEFRAG_FILL_PERCENT) {
    this.threshold = pageSize * fillPercent
  }

  /** Bytes of leaf elements fed so far (headers included), for the inline-bucket test. */
  inuse = PAGE_HEADER

  /** One element of `elementSize` bytes (16 + key + value), `count` times. */
  add(elementSize: number, count = 1): void {
    for (let c = 0; c < count; c++) {
      this.inuse += elementSize
      if (this.count >= MIN_KEYS_PER_PAGE && this.sz + elementSize > this.threshold) this.close()
      this.sz += elementSize
      this.count++
    }
  }

  private close(): void {
    const pages = Math.ceil(this.sz / this.pageSize)
    this.leafPages++
    this.overflowPages += pages - 1
    this.sz = PAGE_HEADER
    this.count = 0
  }

  /** Leaf, overflow and branch pages once every element was fed. */
  pages(): { leaf: number; overflow: number; branch: number; total: number } {
    if (this.count > 0) this.close()
    let branch = 0
    // Each level has one branch element per page of the level below, until one page holds them.
    for (let n = this.leafPages; n > 1;) {
      const perPage = Math.max(MIN_KEYS_PER_PAGE, Math.floor((this.threshold - PAGE_HEADER) / (ELEMENT + this.keyLen)))
      n = Math.ceil(n / perPage)
      branch += n
    }
    return { leaf: this.leafPages, overflow: this.overflowPages, branch, total: this.leafPages + this.overflowPages + branch }
  }

  /** bbolt stores a bucket inline in its parent when it fits in a quarter page (bucket.go `inlineable`). */
  inlineable(): boolean {
    return this.inuse <= this.pageSize / 4
  }
}
