/**
 * A parallel Crc32cHasher for `db status` on big dbs: large values are read and hashed by worker
 * threads, small items inline, and the pieces are folded in hash order with crc32cCombine. The main
 * thread stays synchronous: it blocks with Atomics.wait only when the in-flight window is full or
 * at the end, so memory stays bounded (workers × 4 MiB) however large the db is.
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { DecodeError } from '../errors.js'
import { CORRUPT_HINT, type BoltFile } from '../format/bbolt/file.js'
import { crc32cCombine, crc32cFast, useNativeCrc32c, type NativeCrc32c } from '../format/backend/crc32c-fast.js'
import { serialHasher, type Crc32cHasher } from '../format/backend/hash.js'

/** Ranges at least this large go to a worker. */
const PARALLEL_MIN = 256 << 10
/** Jobs in flight at most. */
const WINDOW = 16

/** Uses the optional native `@node-rs/crc32` when it is installed (not a dependency by default). */
export function loadNativeCrc32c(): boolean {
  try {
    const m = createRequire(import.meta.url)('@node-rs/crc32') as { crc32c?: NativeCrc32c }
    return typeof m.crc32c === 'function' && useNativeCrc32c(m.crc32c)
  } catch {
    return false
  }
}
loadNativeCrc32c()

function workerFile(): string | null {
  // dist/app/crc-worker.js next to this file; under vitest (src/*.ts) use the built copy.
  const here = new URL('./crc-worker.js', import.meta.url)
  const candidates = [fileURLToPath(here), fileURLToPath(new URL('../../dist/app/crc-worker.js', import.meta.url))]
  return candidates.find((p) => existsSync(p)) ?? null
}

type Segment = { crc: number; len: number; slot?: number }

/**
 * Returns a parallel hasher when it pays off (db >= 64 MiB, more than one CPU, worker file built),
 * else the serial one. `threads` overrides the worker count (0 = serial).
 */
export function createHasher(db: BoltFile, threads?: number): { hasher: Crc32cHasher; threads: number } {
  const n = threads ?? Math.min(4, Math.max(0, availableParallelism()))
  const file = workerFile()
  if (n < 1 || !file || (threads === undefined && db.dataSize < 64 << 20)) return { hasher: serialHasher(db), threads: 0 }
  const results = new SharedArrayBuffer(4 * WINDOW)
  const flagsBuf = new SharedArrayBuffer(4 * WINDOW)
  const flags = new Int32Array(flagsBuf)
  const res = new Uint32Array(results)
  const workers = Array.from({ length: n }, () => {
    const w = new Worker(file, { workerData: { path: db.src.path, results, flags: flagsBuf } })
    w.unref()
    return w
  })
  const queue: Segment[] = []
  let cur: Segment = { crc: 0, len: 0 }
  let h = 0
  let nextJob = 0
  let inFlight = 0

  const settle = (seg: Segment): void => {
    if (seg.slot !== undefined) {
      Atomics.wait(flags, seg.slot, 0)
      if (Atomics.load(flags, seg.slot) !== 1) {
        throw new DecodeError(db.file, 0, 'truncated', 'bbolt: a value could not be read while hashing (file shorter than expected?)', CORRUPT_HINT)
      }
      seg.crc = res[seg.slot]!
      Atomics.store(flags, seg.slot, 0)
      inFlight--
    }
    h = crc32cCombine(h, seg.crc, seg.len)
  }
  const flushCur = (): void => {
    if (cur.len > 0) queue.push(cur)
    cur = { crc: 0, len: 0 }
  }
  const drainDone = (): void => {
    while (queue.length > 0) {
      const s = queue[0]!
      if (s.slot !== undefined && Atomics.load(flags, s.slot) === 0) break
      settle(queue.shift()!)
    }
  }
  const hasher: Crc32cHasher = {
    update(b) {
      cur.crc = crc32cFast(cur.crc, b)
      cur.len += b.length
    },
    updateRange(offset, length) {
      if (length < PARALLEL_MIN) {
        // Read inline through the serial hasher into the current segment.
        const s = serialHasher(db)
        s.updateRange(offset, length)
        cur.crc = crc32cCombine(cur.crc, s.digest() as number, length)
        cur.len += length
        return
      }
      flushCur()
      drainDone()
      while (inFlight >= WINDOW) settle(queue.shift()!)
      const slot = nextJob % WINDOW
      const job = nextJob++
      inFlight++
      queue.push({ crc: 0, len: length, slot })
      workers[job % workers.length]!.postMessage({ slot, offset, length })
    },
    digest() {
      try {
        flushCur()
        while (queue.length > 0) settle(queue.shift()!)
        return h >>> 0
      } finally {
        hasher.close?.()
      }
    },
  }
  hasher.close = () => { for (const w of workers) void w.terminate() }
  return { hasher, threads: n }
}
