/**
 * Worker of the parallel snapshot-status hash: reads one value range of the db with positioned
 * reads (its own O_RDONLY descriptor, no lock) into a reused buffer, computes its CRC-32C and
 * publishes it in the shared result slots.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { openFile } from '../io/byte-source.js'
import { crc32cFast } from '../format/backend/crc32c-fast.js'
import { loadNativeCrc32c } from './crc-pool.js'

const { path, results, flags } = workerData as { path: string; results: SharedArrayBuffer; flags: SharedArrayBuffer }
const res = new Uint32Array(results)
const flag = new Int32Array(flags)
loadNativeCrc32c()
const src = openFile(path)
const buf = new Uint8Array(4 << 20)

parentPort!.on('message', (job: { slot: number; offset: number; length: number }) => {
  let h = 0
  let state = 1
  try {
    for (let done = 0; done < job.length;) {
      const n = Math.min(buf.length, job.length - done)
      const view = n === buf.length ? buf : buf.subarray(0, n)
      if (src.readInto(job.offset + done, view) < n) { state = 2; break }
      h = crc32cFast(h, view)
      done += n
    }
  } catch {
    state = 2
  }
  res[job.slot] = h >>> 0
  Atomics.store(flag, job.slot, state)
  Atomics.notify(flag, job.slot)
})
