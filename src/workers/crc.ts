/**
 * Worker entry of the parallel snapshot-status hash (app/crc-pool.ts): reads one value range of
 * the db with positioned reads (its own O_RDONLY descriptor, no lock) into a reused buffer,
 * computes its CRC-32C and publishes it in the shared result slots. `hashRange` is also what the
 * pool runs in its own thread from the TypeScript sources (workers/pool.ts).
 */
import { createRequire } from 'node:module'
import { isMainThread, parentPort, workerData } from 'node:worker_threads'
import { openFile, type ByteSource } from '../io/byte-source.js'
import { crc32cFast, useNativeCrc32c, type NativeCrc32c } from '../format/backend/crc32c-fast.js'

/** Uses the optional native `@node-rs/crc32` when it is installed (not a dependency by default). */
export function loadNativeCrc32c(): boolean {
  try {
    const m = createRequire(import.meta.url)('@node-rs/crc32') as { crc32c?: NativeCrc32c }
    return typeof m.crc32c === 'function' && useNativeCrc32c(m.crc32c)
  } catch {
    return false
  }
}

/** A job: a range of the db file, and the result slot it publishes into. */
export interface CrcJob { slot: number; offset: number; length: number }

/** CRC-32C of `length` bytes at `offset`, read through `buf`; state 1 done, 2 short read. */
export function hashRange(src: Pick<ByteSource, 'readInto'>, buf: Uint8Array, job: CrcJob): { crc: number; state: 1 | 2 } {
  let h = 0
  try {
    for (let done = 0; done < job.length;) {
      const n = Math.min(buf.length, job.length - done)
      const view = n === buf.length ? buf : buf.subarray(0, n)
      if (src.readInto(job.offset + done, view) < n) return { crc: h >>> 0, state: 2 }
      h = crc32cFast(h, view)
      done += n
    }
  } catch {
    return { crc: h >>> 0, state: 2 }
  }
  return { crc: h >>> 0, state: 1 }
}

/** Publishes a result into the shared slots and wakes the waiting thread. */
export function publish(res: Uint32Array, flag: Int32Array, slot: number, r: { crc: number; state: 1 | 2 }): void {
  res[slot] = r.crc
  Atomics.store(flag, slot, r.state)
  Atomics.notify(flag, slot)
}

const data = workerData as { entry?: string; path: string; results: SharedArrayBuffer; flags: SharedArrayBuffer } | null
if (!isMainThread && parentPort && data?.entry === 'crc') {
  const res = new Uint32Array(data.results)
  const flag = new Int32Array(data.flags)
  loadNativeCrc32c()
  const src = openFile(data.path)
  const buf = new Uint8Array(4 << 20)
  parentPort.on('message', (job: CrcJob) => publish(res, flag, job.slot, hashRange(src, buf, job)))
}
