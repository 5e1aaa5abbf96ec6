/**
 * Worker thread of the parallel `wal -w ndjson` (app/wal-parallel.ts): presents one chunk per
 * message and hands its lines back as one UTF-8 buffer (transferred, not copied).
 */
import { parentPort } from 'node:worker_threads'
import { presentChunk, type ChunkJob } from './wal-fast.js'
import type { WorkerMessage } from './wal-parallel.js'

parentPort!.on('message', ({ job, buffer, out }: { job: ChunkJob; buffer: ArrayBuffer; out?: ArrayBuffer }) => {
  let m: WorkerMessage
  try {
    const { lines, outcome } = presentChunk(job, new Uint8Array(buffer, 0, job.length), out ? new Uint8Array(out) : undefined)
    // the input goes back too: the main thread reads the next chunk into it
    m = { t: 'done', outcome, lines, input: buffer }
    parentPort!.postMessage(m, [lines.buffer as ArrayBuffer, buffer])
  } catch (err) {
    m = { t: 'error', id: job.id, message: (err as Error).message }
    parentPort!.postMessage(m)
  }
})
