/**
 * External sort of (key, value) byte pairs for the index build (app/index.ts): LMDB writes keys in
 * random order at about 10 µs a put and maps every leaf page it touches (RSS grows with the index),
 * but in key order at about 1 µs, touching only the right edge of the tree. The db's `key` bucket
 * and the WAL are in revision order, not key order, so the pairs are collected in chunks of bounded
 * size, each chunk is sorted and written to a run file, and the runs are merged: memory is bounded
 * by the chunk, not by the db.
 *
 * A pair is held as the bytes `esc(key) 00 00 value`, with 00 in the key escaped as 00 01: bytewise
 * order of those (shorter first) is then exactly LMDB's order of (key, value) (memcmp, shorter
 * first, for keys and for dupSort values). A chunk is one byte arena plus the pairs' start offsets
 * (typed arrays, reused from chunk to chunk): no JavaScript object or string per pair, so nothing
 * per pair outlives V8's young generation and the build's memory does not grow with the db (as it
 * did when each pair was a string: a chunk's strings lived long enough to be promoted, and the old
 * generation grew by dead chunks until a full collection). A chunk is sorted by an MSD radix sort
 * over 4-byte windows (`sortChunk`); runs are merged by a heap of byte comparisons.
 * Run file: per pair, a 16-bit little-endian length and the pair's bytes.
 */
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'

/** Bytes of pairs held in memory before a run is written. */
const CHUNK_BYTES = 8 << 20
/** The arena starts small (most sorters of a build stay small) and doubles up to the chunk size. */
const FIRST_ARENA_BYTES = 64 << 10
/** Pairs in a chunk at most: the sort packs a pair's position in a group into 21 bits. */
const MAX_CHUNK_PAIRS = (1 << 21) - 1
/** The least read buffer of a run during the merge (a whole pair, at most 64 KiB + 2, always fits). */
const MIN_READ_BYTES = 128 << 10
/** The run file write buffer (one per sorter, reused by every run). */
const WRITE_BYTES = 1 << 20
/** The longest encoded pair (run files store 16-bit lengths). */
const MAX_PAIR = 0xffff

/** Writes `esc(key[start, end)) 00 00 value` into `out` at `at`; returns its length. */
function encodePair(out: Buffer, at: number, key: Uint8Array, start: number, end: number, value: Uint8Array): number {
  let n = at
  for (let i = start; i < end; i++) {
    const b = key[i]!
    out[n++] = b
    if (b === 0) out[n++] = 1
  }
  out[n++] = 0
  out[n++] = 0
  out.set(value, n)
  return n + value.length - at
}

/** The key and value of an encoded pair in `b[0, n)`, unescaping the key in place. */
function decodePair(b: Buffer, n: number): { key: Buffer; value: Buffer } {
  let t = 0
  let esc = false
  for (; t + 1 < n; t++) {
    if (b[t] !== 0) continue
    if (b[t + 1] === 0) break
    esc = true
    t++
  }
  const value = b.subarray(t + 2, n)
  if (!esc) return { key: b.subarray(0, t), value }
  let k = 0
  for (let i = 0; i < t; i++) { b[k++] = b[i]!; if (b[i] === 0) i++ }
  return { key: b.subarray(0, k), value }
}

/** Bytewise order of a[as, as + al) and b[bs, bs + bl), shorter first; the first `from` bytes are known equal. */
function compareRange(a: Uint8Array, as: number, al: number, b: Uint8Array, bs: number, bl: number, from = 0): number {
  const n = al < bl ? al : bl
  for (let i = from < n ? from : n; i < n; i++) {
    const d = a[as + i]! - b[bs + i]!
    if (d !== 0) return d
  }
  return al - bl
}

/** Copies a pair: a loop, as pairs are tens of bytes and Buffer.copy's call costs more than that. */
function copyBytes(src: Uint8Array, s: number, len: number, dst: Uint8Array, d: number): void {
  for (let i = 0; i < len; i++) dst[d + i] = src[s + i]!
}

const GROUP = 2 ** 21

/**
 * Sorts the pairs `a[off[r], off[r + 1])`, r < n, into `perm` (bytewise, shorter first). MSD radix:
 * a group of pairs equal in their first `depth` bytes is ordered by the 4-byte window at `depth`
 * (zero past a pair's end), packed with the pair's position in the group into one float64 so the
 * typed array's native sort does the work; pairs with the same window form the next groups, at
 * depth + 4. A group whose pairs all end inside the window is equal up to zero padding: each is
 * a prefix of the longer ones, so shorter first. Small groups go to insertion sort.
 */
export function sortChunk(a: Uint8Array, off: Uint32Array, n: number, perm: Uint32Array, tmp: Float64Array, copy: Uint32Array): void {
  for (let i = 0; i < n; i++) perm[i] = i
  const stack: number[] = [0, n, 0]
  while (stack.length) {
    const depth = stack.pop()!
    const hi = stack.pop()!
    const lo = stack.pop()!
    if (hi - lo < 2) continue
    if (hi - lo <= 16) { insertionSort(a, off, perm, lo, hi, depth); continue }
    let same = true
    let longer = false
    let w0 = -1
    for (let i = lo; i < hi; i++) {
      const r = perm[i]!
      const s = off[r]! + depth
      const e = off[r + 1]!
      const w = s + 3 < e ? ((a[s]! << 24) | (a[s + 1]! << 16) | (a[s + 2]! << 8) | a[s + 3]!) >>> 0
        : (((s < e ? a[s]! : 0) << 24) | ((s + 1 < e ? a[s + 1]! : 0) << 16) | ((s + 2 < e ? a[s + 2]! : 0) << 8)) >>> 0
      if (e - s > 4) longer = true
      if (i === lo) w0 = w
      else if (w !== w0) same = false
      tmp[i] = w * GROUP + (i - lo)
    }
    if (same) {
      // One window for all (a common prefix): no reordering at this depth.
      if (longer) stack.push(lo, hi, depth + 4)
      else byLength(off, perm, lo, hi)
      continue
    }
    tmp.subarray(lo, hi).sort()
    copy.set(perm.subarray(lo, hi), lo)
    for (let i = lo; i < hi; i++) perm[i] = copy[lo + (tmp[i]! % GROUP)]!
    // Groups of equal windows.
    for (let s = lo; s < hi;) {
      const w = Math.floor(tmp[s]! / GROUP)
      let e = s + 1
      let more = false
      for (; e < hi && Math.floor(tmp[e]! / GROUP) === w; e++) {}
      if (e - s > 1) {
        for (let i = s; i < e && !more; i++) more = off[perm[i]! + 1]! - off[perm[i]!]! > depth + 4
        if (more) stack.push(s, e, depth + 4)
        else byLength(off, perm, s, e)
      }
      s = e
    }
  }
}

function insertionSort(a: Uint8Array, off: Uint32Array, perm: Uint32Array, lo: number, hi: number, depth: number): void {
  for (let i = lo + 1; i < hi; i++) {
    const r = perm[i]!
    const rs = off[r]!
    const rl = off[r + 1]! - rs
    let j = i - 1
    for (; j >= lo; j--) {
      const q = perm[j]!
      if (compareRange(a, off[q]!, off[q + 1]! - off[q]!, a, rs, rl, depth) <= 0) break
      perm[j + 1] = q
    }
    perm[j + 1] = r
  }
}

/** Orders pairs equal up to zero padding: shorter first. */
function byLength(off: Uint32Array, perm: Uint32Array, lo: number, hi: number): void {
  for (let i = lo + 1; i < hi; i++) {
    const r = perm[i]!
    const rl = off[r + 1]! - off[r]!
    let j = i - 1
    for (; j >= lo && off[perm[j]! + 1]! - off[perm[j]!]! > rl; j--) perm[j + 1] = perm[j]!
    perm[j + 1] = r
  }
}

/** One run file being merged: a buffered reader of its pairs. */
class RunReader {
  private readonly fd: number
  private pos = 0
  private end = 0
  private fileOffset = 0
  /** The current pair: buf[head, head + len); `done` at the end. Valid until `next`. */
  head = 0
  len = 0
  done = false
  /** `buf`: this reader's share of the merge buffer (a pair is at most 64 KiB + 2). */
  constructor(readonly path: string, readonly buf: Buffer) {
    this.fd = openSync(path, 'r')
    this.next()
  }
  /** Moves to the next pair. */
  next(): void {
    if (this.end - this.pos < 2 || this.end - this.pos < 2 + this.buf.readUInt16LE(this.pos)) {
      // Refill: keep the partial pair, read behind it.
      this.buf.copy(this.buf, 0, this.pos, this.end)
      this.end -= this.pos
      this.pos = 0
      const n = readSync(this.fd, this.buf, this.end, this.buf.length - this.end, this.fileOffset)
      this.fileOffset += n
      this.end += n
      if (this.end - this.pos < 2) { this.done = true; return }
    }
    const len = this.buf.readUInt16LE(this.pos)
    if (this.end - this.pos < 2 + len) throw new Error(`${this.path}: run file ends inside a pair`)
    this.head = this.pos + 2
    this.len = len
    this.pos += 2 + len
  }
  close(): void {
    closeSync(this.fd)
  }
}

/**
 * Collects pairs (`add`), then yields them once in (key, value) order without repeats (`drain`).
 * Run files live in `dir` (the index's own directory, removed with it) until drained or disposed.
 */
export class PairSorter {
  private arena: Buffer
  private used = 0
  /** Start of pair r at off[r]; off[n] is the end of the last. */
  private off = new Uint32Array(1024)
  private n = 0
  private readonly runs: string[] = []
  /** The sort's work arrays, kept for the next chunk. */
  private perm = new Uint32Array(0)
  private tmp = new Float64Array(0)
  private copy = new Uint32Array(0)
  private readonly scratch = Buffer.allocUnsafe(MAX_PAIR)
  private writeBuf: Buffer | null = null

  /** `chunkBytes`: bytes of pairs in memory before a run is written. */
  constructor(private readonly dir: string, private readonly name: string, private readonly chunkBytes = CHUNK_BYTES) {
    this.arena = Buffer.allocUnsafe(Math.min(FIRST_ARENA_BYTES, chunkBytes))
  }

  /** Pairs added (repeats included). */
  added = 0

  /** Pairs drained (repeats dropped). */
  yielded = 0

  add(key: Uint8Array, value: Uint8Array): void {
    this.addSlice(key, 0, key.length, value)
  }

  /** Adds the pair (key[start, end), value) without a view of the key. */
  addSlice(key: Uint8Array, start: number, end: number, value: Uint8Array): void {
    const most = 2 * (end - start) + value.length + 2
    if (most > MAX_PAIR) throw new RangeError(`pair of ${end - start} + ${value.length} bytes is too long for a sort run`)
    if (this.used + most > this.arena.length) {
      this.grow(this.used + most)
      if (this.used + most > this.arena.length) {
        this.writeRun()
        this.grow(most)
      }
    }
    if (this.n + 1 >= this.off.length) {
      if (this.n + 1 >= MAX_CHUNK_PAIRS) this.writeRun()
      else { const o = new Uint32Array(Math.min(this.off.length * 2, MAX_CHUNK_PAIRS + 1)); o.set(this.off.subarray(0, this.n + 1)); this.off = o }
    }
    this.used += encodePair(this.arena, this.used, key, start, end, value)
    this.off[++this.n] = this.used
    this.added++
  }

  /** Doubles the arena towards the chunk size; an empty chunk gets room for `need` whatever the chunk size. */
  private grow(need: number): void {
    let size = Math.max(this.arena.length, 1024)
    while (size < need && size < this.chunkBytes) size *= 2
    size = Math.min(size, this.chunkBytes)
    if (this.n === 0) size = Math.max(size, need)
    if (size <= this.arena.length) return
    const a = Buffer.allocUnsafe(size)
    this.arena.copy(a, 0, 0, this.used)
    this.arena = a
  }

  /** Sorts the chunk; its pairs in order are perm[0, n). */
  private sortChunk(): void {
    const n = this.n
    if (this.perm.length < n) {
      this.perm = new Uint32Array(n)
      this.tmp = new Float64Array(n)
      this.copy = new Uint32Array(n)
    }
    sortChunk(this.arena, this.off, n, this.perm, this.tmp, this.copy)
  }

  private writeRun(): void {
    if (this.n === 0) return
    this.sortChunk()
    const path = join(this.dir, `sort-${this.name}-${this.runs.length}.run`)
    const fd = openSync(path, 'w', 0o600)
    try {
      const out = (this.writeBuf ??= Buffer.allocUnsafe(WRITE_BYTES))
      let w = 0
      for (let i = 0; i < this.n; i++) {
        const r = this.perm[i]!
        const s = this.off[r]!
        const len = this.off[r + 1]! - s
        if (w + 2 + len > out.length) { writeAll(fd, out, w); w = 0 }
        out.writeUInt16LE(len, w)
        copyBytes(this.arena, s, len, out, w + 2)
        w += 2 + len
      }
      writeAll(fd, out, w)
    } finally {
      closeSync(fd)
    }
    this.runs.push(path)
    this.n = 0
    this.used = 0
  }

  /**
   * The pairs in order, each repeat once. `key` and `value` are views into one scratch buffer,
   * valid until the next pair is asked for (LMDB copies them on put).
   */
  *drain(): Generator<{ key: Buffer; value: Buffer }> {
    const readers: RunReader[] = []
    const prev = Buffer.allocUnsafe(MAX_PAIR)
    let prevLen = -1
    // Yields buf[s, s + len) unless it repeats the pair before.
    const out = (buf: Buffer, s: number, len: number): { key: Buffer; value: Buffer } | null => {
      if (prevLen === len && compareRange(buf, s, len, prev, 0, prevLen) === 0) return null
      this.yielded++
      copyBytes(buf, s, len, prev, 0)
      prevLen = len
      copyBytes(buf, s, len, this.scratch, 0)
      return decodePair(this.scratch, len)
    }
    try {
      if (this.runs.length === 0) {
        this.sortChunk()
        for (let i = 0; i < this.n; i++) {
          const r = this.perm[i]!
          const p = out(this.arena, this.off[r]!, this.off[r + 1]! - this.off[r]!)
          if (p) yield p
        }
      } else {
        this.writeRun()
        // The readers' buffers are cut from the arena, free once the last run is written (no
        // memory on top of the chunk's); the sort's work arrays go.
        this.perm = new Uint32Array(0)
        this.tmp = new Float64Array(0)
        this.copy = new Uint32Array(0)
        const per = Math.max(MIN_READ_BYTES, Math.floor(this.arena.length / this.runs.length))
        const space = per * this.runs.length <= this.arena.length ? this.arena : Buffer.allocUnsafe(per * this.runs.length)
        this.runs.forEach((p, i) => readers.push(new RunReader(p, space.subarray(i * per, (i + 1) * per))))
        for (const r of merge(readers)) {
          const p = out(r.buf, r.head, r.len)
          if (p) yield p
        }
      }
    } finally {
      for (const r of readers) r.close()
      this.dispose()
    }
  }

  /** Removes the run files (also after a failed build) and lets go of the chunk. */
  dispose(): void {
    for (const p of this.runs.splice(0)) rmSync(p, { force: true })
    this.n = 0
    this.used = 0
    this.arena = Buffer.allocUnsafe(0)
    this.writeBuf = null
    this.perm = new Uint32Array(0)
    this.tmp = new Float64Array(0)
    this.copy = new Uint32Array(0)
  }
}

function writeAll(fd: number, b: Buffer, n: number): void {
  for (let done = 0; done < n;) done += writeSync(fd, b, done, n - done)
}

/** K-way merge of sorted runs by a binary min-heap of their heads; yields the reader whose head is next. */
function* merge(readers: RunReader[]): Generator<RunReader> {
  const heap = readers.filter((r) => !r.done)
  const less = (a: RunReader, b: RunReader) => compareRange(a.buf, a.head, a.len, b.buf, b.head, b.len) < 0
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < heap.length && less(heap[l]!, heap[m]!)) m = l
      if (r < heap.length && less(heap[r]!, heap[m]!)) m = r
      if (m === i) return
      ;[heap[i], heap[m]] = [heap[m]!, heap[i]!]
      i = m
    }
  }
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i)
  while (heap.length) {
    const top = heap[0]!
    yield top
    top.next()
    if (top.done) {
      const last = heap.pop()!
      if (heap.length) heap[0] = last
    }
    down(0)
  }
}
