/**
 * External sort of (key, value) byte pairs for the index build (app/index.ts): LMDB writes keys in
 * random order at about 10 µs a put and maps every leaf page it touches (RSS grows with the index),
 * but in key order at about 1 µs, touching only the right edge of the tree. The db's `key` bucket
 * and the WAL are in revision order, not key order, so the pairs are collected in chunks of bounded
 * size, each chunk is sorted and written to a run file, and the runs are merged: memory is bounded
 * by the chunk, not by the db.
 *
 * A pair is held as one latin1 string, `esc(key) 00 00 value`, with 00 in the key escaped as 00 01:
 * string order (UTF-16 code units, all below 256) is then exactly LMDB's order of (key, value)
 * (memcmp, shorter first, for keys and for dupSort values), and V8 sorts strings natively.
 * Run file: per pair, a 16-bit little-endian length and the string's bytes.
 */
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'

/** Characters of pairs held in memory before a run is written (about 2 bytes a character in V8 plus the string header). */
const CHUNK_CHARS = 4 << 20
/** Bytes of read buffers shared by all runs during the merge. */
const MERGE_BYTES = 16 << 20
const WRITE_BYTES = 1 << 20

/** Node's Buffer methods behind toString/write('latin1'), without their argument checks. */
interface Latin1 { latin1Slice(start: number, end: number): string; latin1Write(s: string, offset: number): number }

/** Writes `esc(key) 00 00 value` into `out`; returns its length. */
function encodePair(out: Buffer, key: Uint8Array, value: Uint8Array): number {
  let n = 0
  if (key.indexOf(0) < 0) { out.set(key, 0); n = key.length } else for (const b of key) { out[n++] = b; if (b === 0) out[n++] = 1 }
  out[n++] = 0
  out[n++] = 0
  out.set(value, n)
  return n + value.length
}

/** The key and value of an encoded pair, unescaping the key in place. */
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

/** One run file being merged: a buffered reader of its pairs. */
class RunReader {
  private readonly fd: number
  private readonly buf: Buffer
  private pos = 0
  private end = 0
  private fileOffset = 0
  head: string | null = null
  constructor(readonly path: string, bufBytes: number) {
    this.fd = openSync(path, 'r')
    this.buf = Buffer.allocUnsafe(bufBytes)
    this.next()
  }
  /** Moves to the next pair (head null at the end). */
  next(): void {
    if (this.end - this.pos < 2 || this.end - this.pos < 2 + this.buf.readUInt16LE(this.pos)) {
      // Refill: keep the partial pair, read behind it.
      this.buf.copy(this.buf, 0, this.pos, this.end)
      this.end -= this.pos
      this.pos = 0
      const n = readSync(this.fd, this.buf, this.end, this.buf.length - this.end, this.fileOffset)
      this.fileOffset += n
      this.end += n
      if (this.end - this.pos < 2) { this.head = null; return }
    }
    const len = this.buf.readUInt16LE(this.pos)
    if (this.end - this.pos < 2 + len) throw new Error(`${this.path}: run file ends inside a pair`)
    this.head = (this.buf as Buffer & Latin1).latin1Slice(this.pos + 2, this.pos + 2 + len)
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
  private chunk: string[] = []
  private chars = 0
  private readonly runs: string[] = []
  private readonly scratch = Buffer.allocUnsafe(0xffff) as Buffer & Latin1

  constructor(private readonly dir: string, private readonly name: string, private readonly chunkChars = CHUNK_CHARS) {}

  /** Pairs added (repeats included). */
  added = 0

  add(key: Uint8Array, value: Uint8Array): void {
    if (2 * key.length + value.length + 2 > this.scratch.length) throw new RangeError(`pair of ${key.length} + ${value.length} bytes is too long for a sort run`)
    // One flat one-byte string a pair: V8 compares those with memcmp.
    const s = this.scratch.latin1Slice(0, encodePair(this.scratch, key, value))
    this.chunk.push(s)
    this.chars += s.length
    this.added++
    if (this.chars >= this.chunkChars) this.writeRun()
  }

  private writeRun(): void {
    this.chunk.sort()
    const path = join(this.dir, `sort-${this.name}-${this.runs.length}.run`)
    const fd = openSync(path, 'w', 0o600)
    try {
      const out = Buffer.allocUnsafe(WRITE_BYTES) as Buffer & Latin1
      let n = 0
      for (const s of this.chunk) {
        if (n + 2 + s.length > out.length) { writeAll(fd, out, n); n = 0 }
        out.writeUInt16LE(s.length, n)
        n += 2 + out.latin1Write(s, n + 2)
      }
      writeAll(fd, out, n)
    } finally {
      closeSync(fd)
    }
    this.runs.push(path)
    this.chunk = []
    this.chars = 0
  }

  /**
   * The pairs in order, each repeat once. `key` and `value` are views into one scratch buffer,
   * valid until the next pair is asked for (LMDB copies them on put).
   */
  *drain(): Generator<{ key: Buffer; value: Buffer }> {
    let sorted: Iterable<string>
    const readers: RunReader[] = []
    if (this.runs.length === 0) {
      sorted = this.chunk.sort()
      this.chunk = []
    } else {
      if (this.chunk.length) this.writeRun()
      const bufBytes = Math.max(128 << 10, Math.floor(MERGE_BYTES / this.runs.length))
      for (const p of this.runs) readers.push(new RunReader(p, bufBytes))
      sorted = merge(readers)
    }
    try {
      let prev: string | null = null
      for (const s of sorted) {
        if (s === prev) continue
        prev = s
        yield decodePair(this.scratch, this.scratch.latin1Write(s, 0))
      }
    } finally {
      for (const r of readers) r.close()
      this.dispose()
    }
  }

  /** Removes the run files (also after a failed build). */
  dispose(): void {
    for (const p of this.runs.splice(0)) rmSync(p, { force: true })
    this.chunk = []
  }
}

function writeAll(fd: number, b: Buffer, n: number): void {
  for (let done = 0; done < n;) done += writeSync(fd, b, done, n - done)
}

/** K-way merge of sorted runs by a binary min-heap of their heads. */
function* merge(readers: RunReader[]): Generator<string> {
  const heap = readers.filter((r) => r.head !== null)
  const less = (a: RunReader, b: RunReader) => a.head! < b.head!
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
    yield top.head!
    top.next()
    if (top.head === null) {
      const last = heap.pop()!
      if (heap.length) heap[0] = last
    }
    down(0)
  }
}
