/**
 * Worker thread of the parallel `wal -w ndjson` (app/wal-parallel.ts): presents one segment per
 * job and hands the lines over as UTF-8 batches, blocking while `IN_FLIGHT` batches are unwritten.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { openFile } from '../io/byte-source.js'
import { presentSegment, type SegmentJob } from './wal-fast.js'
import type { WorkerMessage } from './wal-parallel.js'

const IN_FLIGHT = 8
const flight = new Int32Array((workerData as { sab: SharedArrayBuffer }).sab)
// entryLine's JSON.stringify fallbacks serialise bigints as decimal strings (as renderWalStream does).
;(BigInt.prototype as unknown as { toJSON: () => string }).toJSON = function (this: bigint) { return this.toString() }

const post = (m: WorkerMessage, transfer?: ArrayBuffer[]) => parentPort!.postMessage(m, transfer)

parentPort!.on('message', ({ job, path }: { job: SegmentJob; path: string }) => {
  const seg = job.segment
  let src: ReturnType<typeof openFile> | undefined
  try {
    src = openFile(path)
    const outcome = presentSegment(job, src, (bytes, upTo) => {
      for (let v = Atomics.load(flight, 0); v >= IN_FLIGHT; v = Atomics.load(flight, 0)) Atomics.wait(flight, 0, v, 1000)
      Atomics.add(flight, 0, 1)
      // Each batch has its own ArrayBuffer (presentSegment allocates one per batch): hand it over without a copy.
      post({ t: 'lines', seg, bytes, upTo }, [bytes.buffer as ArrayBuffer])
    }, (head) => post({ t: 'head', seg, head }))
    post({ t: 'done', seg, outcome })
  } catch (err) {
    post({ t: 'error', seg, message: (err as Error).message })
  } finally {
    src?.close()
  }
})
