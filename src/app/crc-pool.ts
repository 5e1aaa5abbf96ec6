/**
 * A parallel Crc32cHasher for `db status` on big dbs: large values are read and hashed by worker
 * threads, small items inline, and the pieces are folded in hash order with crc32cCombine. The main
 * thread stays synchronous: it blocks with Atomics.wait only when the in-flight window is full or
 * at the end, so memory stays bounded (workers × 4 MiB) however large the db is.
 */
import { DecodeError } from '../errors.js'
import { CORRUPT_HINT, type BoltFile } from '../format/bbolt/file.js'
import { crc32cCombine, crc32cFast } from '../format/backend/crc32c-fast.js'
import { serialHasher, type Crc32cHasher } from '../format/backend/hash.js'
import { openFile } from '../io/byte-source.js'
import { defaultThreads, fromSources, startWorker } from '../workers/pool.js'
import { hashRange, loadNativeCrc32c, publish, type CrcJob } from '../workers/crc.js'

/** Ranges at least this large go to a worker. */
const PARALLEL_MIN = 256 << 10
/** Jobs in flight at most. */
const WINDOW = 16

loadNativeCrc32c()

type Segment = { crc: number; len: number; slot?: number }

/**
 * Returns a parallel hasher when it pays off (db >= 64 MiB, more than one CPU), else the serial
 * one. `threads` overrides the worker count (0 = serial). From the TypeScript sources (vitest) the
 * jobs run in this thread through the worker's own `hashRange` (workers/pool.ts): the same
 * windows, slots and combining, no stale compiled worker.
 */
export function createHasher(db: BoltFile, threads?: number): { hasher: Crc32cHasher; threads: number } {
  const n = threads ?? defaultThreads()
  if (n < 1 || (threads === undefined && db.dataSize < 64 << 20)) return { hasher: serialHasher(db), threads: 0 }
  const results = new SharedArrayBuffer(4 * WINDOW)
  const flagsBuf = new SharedArrayBuffer(4 * WINDOW)
  const flags = new Int32Array(flagsBuf)
  const res = new Uint32Array(results)
  const workers: { postMessage(job: CrcJob): void; terminate(): unknown }[] = fromSources()
    ? [inThread(db.src.path, res, flags)]
    : Array.from({ length: n }, () => {
      const w = startWorker('crc', { path: db.src.path, results, flags: flagsBuf })
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

/** The crc worker's job loop run in this thread (from the sources): each job is done when posted. */
function inThread(path: string, res: Uint32Array, flags: Int32Array): { postMessage(job: CrcJob): void; terminate(): void } {
  const src = openFile(path)
  const buf = new Uint8Array(4 << 20)
  let open = true
  return {
    postMessage: (job) => publish(res, flags, job.slot, hashRange(src, buf, job)),
    terminate: () => {
      if (open) src.close()
      open = false
    },
  }
}
