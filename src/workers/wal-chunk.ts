/**
 * Worker entry of the parallel `wal` (app/wal-parallel.ts): one chunk of whole frames per job,
 * walked by app/wal-fast.ts `presentChunk` and written by the render module of the requested
 * format (render/wal-line.ts for ndjson and json, render/wal.ts rows for table and simple). The
 * written bytes come back as one buffer (transferred, not copied), the input buffer too (the main
 * thread reads the next chunk into it).
 */
import { presentChunk, type ChunkJob, type ChunkOutcome } from '../app/wal-fast.js'
import { EntryLineWriter } from '../render/wal-line.js'
import { EntryRowWriter, type RowStyle } from '../render/wal.js'
import type { LineStyle } from '../render/wal-line.js'
import { serve } from './pool.js'
import { DigestBatch } from '../format/digest.js'

export type ChunkStyle = LineStyle | RowStyle

export interface ChunkRequest {
  job: ChunkJob
  style: ChunkStyle
  /** The chunk's bytes (job.length of them are frames). */
  buffer: ArrayBuffer
  /** A buffer to write the output into, when it is large enough. */
  out?: ArrayBuffer
}

export interface ChunkReply {
  outcome: ChunkOutcome
  /** The output of the entries presented (`outcome.presented` of them). */
  bytes: Uint8Array
  /** Table rows: the end offsets of each row's five cells in `bytes`. */
  rows?: Int32Array
  input: ArrayBuffer
}

/**
 * What this thread reuses from chunk to chunk: a line writer per style (with its digest batch), the
 * row writers' digest batch and the room for the deferred CRC checks. Arrays left behind per chunk
 * are freed only when V8 collects, which is rare in a worker that allocates little: 0.1 MB a chunk
 * showed as ~5 MB of RSS. (handle runs to the end before the next job: one of each is enough.)
 */
const lineWriters = new Map<LineStyle, EntryLineWriter>()
/** The row writers' digests (a row writer is made per chunk: its rows go out with the reply). */
const rowDigests = new DigestBatch()
const crcScratch = new Int32Array(4 * 8192)

export function handle(req: ChunkRequest): { result: ChunkReply; transfer: ArrayBuffer[] } {
  const { job, style } = req
  const buf = new Uint8Array(req.buffer, 0, job.length)
  // output is about as long as the records it comes from; the writers grow it for long lines
  const want = Math.max(4096, job.length + (job.length >>> 2))
  const out = req.out ? new Uint8Array(req.out) : undefined
  let reply: ChunkReply
  if (style === 'ndjson' || style === 'json') {
    let w = lineWriters.get(style)
    if (w === undefined) lineWriters.set(style, (w = new EntryLineWriter(style)))
    w.begin(buf, job.file, out, want)
    const outcome = presentChunk(job, buf, w, crcScratch)
    reply = { outcome, bytes: w.take(), input: req.buffer }
  } else if (style === 'table' || style === 'simple') {
    const w = new EntryRowWriter(style, out, want, rowDigests)
    w.begin(buf)
    const outcome = presentChunk(job, buf, w, crcScratch)
    const { bytes, rows } = w.take()
    reply = { outcome, bytes, rows, input: req.buffer }
  } else throw new Error(`wal-chunk: unknown output style ${String(style)}`)
  const transfer = [req.buffer, reply.bytes.buffer as ArrayBuffer]
  if (reply.rows) transfer.push(reply.rows.buffer as ArrayBuffer)
  return { result: reply, transfer: [...new Set(transfer)] }
}

serve('wal-chunk', handle)
