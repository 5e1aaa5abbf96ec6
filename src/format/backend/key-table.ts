/**
 * The set of distinct mvcc user keys seen in the `key` bucket, with whether each key's newest
 * revision is a tombstone — what `db status` needs for `keys.liveKeys` / `keys.distinctKeys`
 * (etcd 3.6 `TotalKey`) without holding the keys themselves.
 *
 * An open-addressing hash table (linear probing) in two typed arrays, keyed by a 63-bit
 * fingerprint of the key (two independent 32-bit hash lanes, `murmurFingerprint`, computed
 * without allocating; the top bit of the second lane is dropped and holds the tombstone flag of
 * the key's newest revision instead). Slot i holds
 *   lo[i]  lane 1 (also the probe start: lo & mask)
 *   hi[i]  lane 2 (31 bits) | tombstone << 31
 * and (0, 0) marks an empty slot (a fingerprint of 0 is stored as 1). 8 bytes per slot and no JS
 * object per key; the table doubles when it is 80 % full, so a distinct key costs 10–20 bytes.
 * Memory is bounded regardless of the key count: a table never grows past `maxSlots` (2^21 slots =
 * 16 MiB, 1.6 million keys; a doubling or a split briefly holds 32 MiB). When it would, it splits:
 * it keeps the keys whose fingerprint has the next bit 0 and leaves the rest to another pass over
 * the revisions (`countKeys`), so 6 million keys take 4 passes over the `key` bucket, 10 million 8.
 * (2^22 slots measured 201 MB peak RSS for `db status` on a 6-million-key db, 2^21 stays under 200.)
 *
 * Exactness: two distinct keys with the same 63-bit fingerprint are counted as one. With the
 * fingerprint behaving as a random function of the key, the probability that any two of n
 * distinct keys collide is at most n(n-1)/2 / 2^63 < n^2 / 2^64: about 5e-8 for 1 million keys,
 * 5e-6 for 10 million, 5e-4 for 100 million. A collision makes `distinctKeys` (and possibly
 * `liveKeys`) one too small; the snapshot-status figures (hash, revision, totalKey, totalSize)
 * do not depend on this table. The Murmur lanes are not a cryptographic hash: keys crafted
 * against them could be made to collide (`sha1Fingerprint` resists that, at about 3x the cost
 * and one small Buffer allocated per key).
 */
import { hash } from 'node:crypto'

/** A 63-bit fingerprint as two unsigned 32-bit halves (`hi` < 2^31). */
export type Fingerprint = (key: Uint8Array) => { lo: number; hi: number }

/** SHA-1 based fingerprint (first 63 bits of SHA-1(key)): one Buffer allocated per call. */
export const sha1Fingerprint: Fingerprint = (key) => {
  const d = hash('sha1', key, 'buffer') as Buffer
  return { lo: d.readUInt32LE(0), hi: d.readUInt32LE(4) & 0x7fffffff }
}

function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/**
 * The default fingerprint, computed in one pass over the key without allocating: `lo` is
 * MurmurHash3 x86_32 (seed 0x9747b28c); `hi` is a second lane with the block constants of
 * MurmurHash3 x86_128's second lane (different multipliers, rotations and seed 0x5bd1e995, so
 * a pair of blocks that cancels in one lane does not cancel in the other), top bit dropped.
 */
export function murmurFingerprint(key: Uint8Array): { lo: number; hi: number } {
  let h1 = 0x9747b28c
  let h2 = 0x5bd1e995
  const n = key.length
  const tail = n & ~3
  for (let i = 0; i <= tail; i += 4) {
    let k: number
    if (i < tail) k = key[i]! | (key[i + 1]! << 8) | (key[i + 2]! << 16) | (key[i + 3]! << 24)
    else if (i < n) k = key[i]! | ((i + 1 < n ? key[i + 1]! : 0) << 8) | ((i + 2 < n ? key[i + 2]! : 0) << 16)
    else break
    let a = Math.imul(k, 0xcc9e2d51)
    a = Math.imul((a << 15) | (a >>> 17), 0x1b873593)
    let b = Math.imul(k, 0xab0e9789)
    b = Math.imul((b << 16) | (b >>> 16), 0x38b34ae5)
    h1 ^= a
    h2 ^= b
    if (i < tail) {
      h1 = (Math.imul((h1 << 13) | (h1 >>> 19), 5) + 0xe6546b64) | 0
      h2 = (Math.imul((h2 << 17) | (h2 >>> 15), 5) + 0x0bcaa747) | 0
    }
  }
  return { lo: fmix32(h1 ^ n), hi: fmix32(h2 ^ n) & 0x7fffffff }
}

const TOMB = 0x80000000
const FP_HI = 0x7fffffff
const MAX_LOAD = 0.8

/** A slice of the fingerprint space: the keys whose fingerprint has `hi mod parts == part`. */
export interface KeyPartition { part: number; parts: number }

/** Slots a table may take before it splits its partition instead of growing: 2^21 slots = 16 MiB, 1.6 million keys. */
export const MAX_SLOTS = 1 << 21

export class KeyTable {
  private lo: Uint32Array
  private hi: Uint32Array
  private mask: number
  private count = 0
  private dead = 0
  private readonly fingerprint: Fingerprint
  private readonly maxSlots: number
  private part: number
  private parts: number
  /**
   * Partitions given up by splits, to be counted in further passes over the same revisions (each
   * with its own table): when the table would grow past `maxSlots`, it keeps only the half of its
   * partition whose next fingerprint bit is 0 and hands the other half over here. Every key falls
   * in exactly one of the partitions counted, so the sums over all passes are the exact figures.
   */
  readonly pending: KeyPartition[] = []

  /**
   * `capacity` is rounded up to a power of two (at least 16); `maxSlots` bounds the memory
   * (8 bytes per slot); `partition` restricts the table to one slice of the keys;
   * `fingerprint` is replaceable for tests.
   */
  constructor(opts: { capacity?: number; maxSlots?: number; partition?: KeyPartition; fingerprint?: Fingerprint } = {}) {
    this.maxSlots = Math.max(16, opts.maxSlots ?? MAX_SLOTS)
    let cap = 16
    while (cap < Math.min(opts.capacity ?? 1 << 16, this.maxSlots)) cap *= 2
    this.lo = new Uint32Array(cap)
    this.hi = new Uint32Array(cap)
    this.mask = cap - 1
    this.fingerprint = opts.fingerprint ?? murmurFingerprint
    this.part = opts.partition?.part ?? 0
    this.parts = opts.partition?.parts ?? 1
  }

  /** Records a revision of `key` (in revision order): its newest revision so far is a tombstone or a put. */
  set(key: Uint8Array, tombstone: boolean): void {
    const f = this.fingerprint(key)
    this.setFingerprint(f.lo >>> 0, f.hi & FP_HI, tombstone)
  }

  /** `set` for a fingerprint already computed. Fingerprints outside the table's partition are ignored. */
  setFingerprint(lo: number, hi: number, tombstone: boolean): void {
    if ((hi & (this.parts - 1)) !== this.part) return
    if (lo === 0 && hi === 0) lo = 1
    const flag = tombstone ? TOMB : 0
    const L = this.lo
    const H = this.hi
    for (let i = lo & this.mask; ; i = (i + 1) & this.mask) {
      const h = H[i]!
      const l = L[i]!
      if (l === lo && (h & FP_HI) === hi) {
        const was = (h & TOMB) !== 0
        if (was !== tombstone) {
          this.dead += tombstone ? 1 : -1
          H[i] = hi | flag
        }
        return
      }
      if (l === 0 && h === 0) {
        L[i] = lo
        H[i] = (hi | flag) >>> 0
        this.count++
        if (tombstone) this.dead++
        if (this.count > MAX_LOAD * (this.mask + 1)) this.grow()
        return
      }
    }
  }

  /**
   * Whether `key` was `set` (by fingerprint). Exact only while the table never split
   * (`pending` empty) and for keys of its partition.
   */
  has(key: Uint8Array): boolean {
    const f = this.fingerprint(key)
    let lo = f.lo >>> 0
    const hi = f.hi & FP_HI
    if (lo === 0 && hi === 0) lo = 1
    for (let i = lo & this.mask; ; i = (i + 1) & this.mask) {
      const l = this.lo[i]!
      const h = this.hi[i]!
      if (l === lo && (h & FP_HI) === hi) return true
      if (l === 0 && h === 0) return false
    }
  }

  /** Distinct keys (fingerprints) seen, in this table's partition. */
  get distinct(): number { return this.count }
  /** Distinct keys whose newest revision is not a tombstone, in this table's partition. */
  get live(): number { return this.count - this.dead }
  /** Slots allocated. */
  get capacity(): number { return this.mask + 1 }
  /** Bytes held by the table. */
  get byteLength(): number { return this.lo.byteLength + this.hi.byteLength }
  /** Frees the slots once the counts have been read (counts and `pending` stay; do not `set` after this). */
  release(): void {
    this.lo = new Uint32Array(16)
    this.hi = new Uint32Array(16)
    this.mask = 15
  }

  /** The slice of the keys this table counts (narrower after a split). */
  get partition(): KeyPartition { return { part: this.part, parts: this.parts } }

  private grow(): void {
    const cap = this.lo.length
    // Past the bound: split the partition (2^30 parts at most: beyond that, fingerprints are
    // degenerate, as only a test's can be, and the table grows instead).
    if (cap * 2 > this.maxSlots && this.parts < 1 << 30) {
      const bit = this.parts
      this.pending.push({ part: this.part | bit, parts: bit * 2 })
      this.parts = bit * 2
      this.rehash(cap, (h) => (h & bit) === 0)
      return
    }
    this.rehash(cap * 2, () => true)
  }

  /** Moves the entries `keep` accepts into new arrays of `cap` slots, recounting. */
  private rehash(cap: number, keep: (h: number) => boolean): void {
    const oldL = this.lo
    const oldH = this.hi
    const L = new Uint32Array(cap)
    const H = new Uint32Array(cap)
    const mask = cap - 1
    let count = 0
    let dead = 0
    for (let j = 0; j < oldL.length; j++) {
      const l = oldL[j]!
      const h = oldH[j]!
      if ((l === 0 && h === 0) || !keep(h)) continue
      let i = l & mask
      while (L[i] !== 0 || H[i] !== 0) i = (i + 1) & mask
      L[i] = l
      H[i] = h
      count++
      if (h & TOMB) dead++
    }
    this.lo = L
    this.hi = H
    this.mask = mask
    this.count = count
    this.dead = dead
  }
}

/**
 * Counts distinct and live keys over a sequence of revisions in bounded memory: `feed(table)` must
 * hand every revision (in revision order) to `table.set`; it is called once, and once more for
 * each partition a split left over (a further pass over the same revisions). `first` is the table
 * the first pass already filled, when the caller folded that pass into other work.
 */
export function countKeys(feed: (t: KeyTable) => void, opts: { maxSlots?: number; fingerprint?: Fingerprint; first?: KeyTable } = {}): { distinct: number; live: number; passes: number } {
  const work: KeyPartition[] = [{ part: 0, parts: 1 }]
  let distinct = 0
  let live = 0
  let passes = 0
  for (let first = opts.first; work.length > 0; first = undefined) {
    const p = work.shift()!
    let t = first
    if (!t) {
      t = new KeyTable({ maxSlots: opts.maxSlots, fingerprint: opts.fingerprint, partition: p })
      feed(t)
    }
    passes++
    distinct += t.distinct
    live += t.live
    work.push(...t.pending)
    // Only one table's slots at a time: the next pass starts after this one is freed.
    t.release()
  }
  return { distinct, live, passes }
}
