/**
 * `etcd-inspect wal -w ndjson` on worker threads. This thread reads the segments once, cuts them
 * into chunks of whole frames (looking only at the length words) and hands each chunk to a worker
 * with the CRC chain as the stored CRC of the record before it; workers present their chunks
 * (app/wal-fast.ts) and this thread checks the links between chunks and segments and writes the
 * lines in log order. The output is byte-identical to the reader path (`streamWal` +
 * `renderWalStream`); where anything is not regular, the reader path takes over at the exact
 * entry where the workers stopped, so findings and the summary are the reader's.
 *
 * Memory stays bounded: at most PER_WORKER chunks per worker are out at a time, and the next one is
 * read only when the oldest is written, so a slow reader of stdout holds everything back.
 */
import { existsSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { hardStateOut, idHex } from '../format/ids.js'
import { decodeMetadata, type HardState } from '../format/raft/entry.js'
import type { SegmentStats, SnapshotRecord } from '../format/wal/log.js'
import { LogLinks, type LinkPiece } from '../format/wal/links.js'
import { FRAME_HEADER_BYTES, Frame, FrameCursor } from '../format/wal/frame.js'
import { decodeRecordInto, type RecordPos } from '../format/wal/record.js'
import { openFile } from '../io/byte-source.js'
import { toJsonLine } from '../render/json.js'
import type { Sink } from '../render/output.js'
import { renderWalStream } from '../render/wal.js'
import { listingFindings, openWal, prePass, streamWal, type WalOptions, type WalResult, type WalResultSummary } from './wal.js'
import type { ChunkJob, ChunkOutcome } from './wal-fast.js'

/** Bytes of whole frames per chunk handed to a worker. */
const CHUNK = 1024 * 1024
/** Chunks per worker dispatched but not yet written: bounds memory whatever the log size. */
const PER_WORKER = 2
/** Below this many bytes of segments, starting workers costs more than it saves. */
const MIN_BYTES = 8 * 1024 * 1024

export interface ParallelOptions {
  /** Worker threads (default: available CPUs, at most 4; the reader path when that is 1). */
  threads?: number
  /** Use workers whatever the size of the log (tests). */
  force?: boolean
  /** Chunk size in bytes (tests use small ones to cross many chunk boundaries). */
  chunkBytes?: number
}

/** Messages from a worker (app/wal-worker.ts). */
export type WorkerMessage =
  | { t: 'done'; outcome: ChunkOutcome; lines: Uint8Array; input: ArrayBuffer }
  | { t: 'error'; id: number; message: string }

function workerFile(): string | null {
  // dist/app/wal-worker.js next to this file; under vitest (src/*.ts) the built copy.
  const candidates = [fileURLToPath(new URL('./wal-worker.js', import.meta.url)), fileURLToPath(new URL('../../dist/app/wal-worker.js', import.meta.url))]
  return candidates.find((p) => existsSync(p)) ?? null
}

/** Options the workers reproduce exactly; anything else (filters, values, tolerant) takes the reader path. */
function eligible(o: WalOptions): boolean {
  return o.startIndex === undefined && o.endIndex === undefined && !o.types?.length && o.key === undefined && o.prefix === undefined &&
    o.member === undefined && !o.fromSnapshot && !o.showValues && !o.tolerant && o.verifyCrc !== false && o.chunkBytes === undefined && o.resume === undefined
}

/** What follows a chunk in its segment: more chunks, the end of the file, the zero tail, or something for the reader. */
type Tail = 'more' | 'eof' | 'zero-tail' | 'odd'

interface Piece {
  job: ChunkJob
  buffer: ArrayBuffer
  tail: Tail
  zeroTailBytes: number
}

/**
 * Cuts the segments into chunks of whole frames, reading each byte once (read-only). Only the
 * length words are looked at here, plus the CRC field of each chunk's last record, which carries
 * the chain into the next chunk. Stops after the first chunk followed by anything odd.
 */
function* chunker(paths: readonly string[], names: readonly string[], commit: bigint | undefined, chunkBytes: number, spare: ArrayBuffer[]): Generator<Piece> {
  const n = paths.length
  const rec: RecordPos = { type: 0, crc: 0, dataStart: 0, dataEnd: 0 }
  let id = 0
  for (let k = 0; k < n; k++) {
    const src = openFile(paths[k]!)
    try {
      const size = src.byteLength
      let pos = 0
      let first = true
      let crc = 0
      for (;;) {
        // Buffers come back from the workers: reusing them keeps this thread out of the GC.
        const want = Math.min(chunkBytes, size - pos)
        const reuse = want === chunkBytes ? spare.pop() : undefined
        let buf = reuse ? new Uint8Array(reuse) : new Uint8Array(want)
        let got = src.readInto(pos, buf)
        // The one frame reader over the bytes just read; the region runs to the end of the file,
        // so a frame past the window is a ShortRead: the chunk ends before it.
        const cur = FrameCursor.over(buf, pos, got, size)
        let lastStart = -1
        let lastEnd = -1
        let tail: Tail = 'more'
        let zeroTailBytes = 0
        for (;;) {
          const r = cur.next()
          if (r === Frame.End) {
            tail = 'eof'
            break
          }
          if (r === Frame.ShortRead) break
          if (r === Frame.ZeroWord) {
            tail = k === n - 1 ? 'zero-tail' : 'odd'
            zeroTailBytes = cur.left
            break
          }
          if (r !== Frame.Ok || cur.reservedBits !== 0) {
            tail = 'odd'
            break
          }
          if (!cur.whole()) {
            if (cur.offset > pos) break
            // one frame larger than a chunk (bounded by the file size, checked by next())
            buf = new Uint8Array(FRAME_HEADER_BYTES + cur.frameBytes)
            got = src.readInto(pos, buf)
            if (got < buf.length) {
              tail = 'odd'
              break
            }
            cur.rewind(buf, pos, got, size)
            continue
          }
          lastStart = cur.recStart
          lastEnd = lastStart + cur.recBytes
          cur.advance()
        }
        const off = cur.offset - pos
        if (tail === 'more' && off === 0) tail = 'odd' // the file changed under us
        let nextCrc = crc
        if (lastStart >= 0) {
          try {
            decodeRecordInto(buf, lastStart, lastEnd, names[k]!, pos, rec)
            nextCrc = rec.crc
          } catch {
            tail = 'odd' // the worker stops at that record with the same verdict
          }
        }
        yield { job: { id: id++, segment: k, file: names[k]!, first, base: pos, length: off, crc, commit }, buffer: buf.buffer as ArrayBuffer, tail, zeroTailBytes }
        if (tail === 'odd') return
        if (tail !== 'more') break
        crc = nextCrc
        pos += off
        first = false
      }
    } finally {
      src.close()
    }
  }
}

/**
 * Writes the ndjson of `wal -w ndjson` to `sink` and returns the summary result (and where the
 * reader path took over, if it did), or returns null without writing anything when the reader path
 * should do it all (options, a small log, one CPU).
 */
export async function streamWalParallel(dir: string, opts: WalOptions, sink: Sink, cfg: ParallelOptions = {}): Promise<{ result: Omit<WalResult, 'entries'> | undefined; resumedAt?: { segment: number; skip: number } } | null> {
  if (!eligible(opts)) return null
  const threads = cfg.threads ?? Math.min(4, availableParallelism())
  const file = workerFile()
  if (threads < 1 || (threads < 2 && !cfg.force) || !file) return null
  const { layout, listing, opened } = openWal(dir, opts)
  let pre: ReturnType<typeof prePass>
  const display = (name: string) => relative(dir, `${layout.walDir}/${name}`) || name
  const findings = listingFindings(listing, display)
  try {
    const bytes = listing.segments.reduce((a, s) => a + s.size, 0)
    if (findings.some((f) => f.severity !== 'info') || (bytes < MIN_BYTES && !cfg.force)) return null
    pre = prePass(opened.segments, false)
  } finally {
    opened.close()
  }
  const segs = opened.segments
  const n = segs.length
  for (const f of findings) await sink.write(toJsonLine({ kind: 'finding', ...f }) + '\n')

  const chunkBytes = cfg.chunkBytes ?? CHUNK
  const spare: ArrayBuffer[] = []
  // Output buffers go round too, once the sink is done with them (writeOwned); a chunk's lines are
  // about as long as its records, longer ones get a new buffer that is then left to the GC.
  const outBytes = chunkBytes + (chunkBytes >>> 2) + 4096
  const outSpare: ArrayBuffer[] = []
  const pieces = chunker(listing.segments.map((s) => s.path), segs.map((s) => s.file), pre.hardState?.commit, chunkBytes, spare)
  const pool = Array.from({ length: threads }, () => ({ w: new Worker(file), busy: 0 }))
  /** Chunks dispatched and not yet written, by id. */
  const pending = new Map<number, { piece: Piece; slot: number; done?: { outcome: ChunkOutcome; lines: Uint8Array }; error?: string }>()
  let exhausted = false
  let wake: (() => void) | null = null
  const signal = () => {
    const w = wake
    wake = null
    w?.()
  }
  const waitFor = async (cond: () => boolean) => {
    while (!cond()) await new Promise<void>((r) => { wake = r })
  }
  let poolError: string | undefined
  pool.forEach((p, slot) => {
    p.w.on('message', (m: WorkerMessage) => {
      const id = m.t === 'done' ? m.outcome.id : m.id
      const e = pending.get(id)
      if (e) {
        if (m.t === 'done') {
          e.done = { outcome: m.outcome, lines: m.lines }
          if (m.input.byteLength === chunkBytes) spare.push(m.input)
        }
        else e.error = m.message
      }
      pool[slot]!.busy--
      signal()
    })
    p.w.on('error', (e) => {
      poolError ??= e.message
      signal()
    })
  })
  const dispatch = () => {
    while (!exhausted && pending.size < threads * PER_WORKER) {
      const r = pieces.next()
      if (r.done) {
        exhausted = true
        break
      }
      let slot = 0
      for (let i = 1; i < pool.length; i++) if (pool[i]!.busy < pool[slot]!.busy) slot = i
      pool[slot]!.busy++
      pending.set(r.value.job.id, { piece: r.value, slot })
      const out = outSpare.pop() ?? new ArrayBuffer(outBytes)
      pool[slot]!.w.postMessage({ job: r.value.job, buffer: r.value.buffer, out }, [r.value.buffer, out])
    }
  }

  // Links between chunks and segments, as the reader checks them (format/wal/links.ts).
  const links = new LogLinks()
  /** The piece of the log a chunk is, for the link rules. */
  const piece = (job: ChunkJob, o: ChunkOutcome): LinkPiece => ({
    file: job.file, head: job.first, nameIndex: segs[job.segment]!.nameIndex, crcRecord: o.crcRecord, metadata: o.metadata,
    firstIndex: o.firstIndex, lastIndex: o.lastIndex, firstOffset: o.firstOffset, snapBeforeFirst: o.snapBeforeFirst, snapshots: o.snapshots, crcEnd: o.crcEnd,
  })
  /**
   * The chunk links to what came before (a segment's head to the previous segment, its first
   * entry, in whichever chunk it comes, to the previous entry and the segment's name); the log's
   * first entry must follow the boot snapshot (with the pre-pass commit): anything else goes to
   * the reader, which knows every record and the final commit.
   */
  const linked = (job: ChunkJob, o: ChunkOutcome): boolean => {
    const hadFirst = links.firstEntry !== undefined
    if (links.add(piece(job, o)) !== null) return false
    return hadFirst || links.firstEntry === undefined || links.startGap(pre.hardState?.commit ?? 0n) === undefined
  }

  const outcomes: ChunkOutcome[] = []
  const segStats: SegmentStats[] = []
  let cur: SegmentStats | undefined
  let resumeAt: { segment: number; skip: number } | null = null
  let written = 0
  try {
    for (let id = 0; resumeAt === null; id++) {
      dispatch()
      if (!pending.has(id)) break // every chunk written
      const e = pending.get(id)!
      await waitFor(() => e.done !== undefined || e.error !== undefined || poolError !== undefined)
      pending.delete(id)
      const { job, tail, zeroTailBytes } = e.piece
      const k = job.segment
      if (job.first) {
        written = 0
        const s = segs[k]!
        cur = { file: s.file, seq: s.seq, nameIndex: s.nameIndex, size: listing.segments[k]!.size, records: 0, entries: 0, zeroTail: false, zeroTailBytes: 0 }
      }
      const o = e.done?.outcome
      if (o === undefined || !linked(job, o)) {
        resumeAt = { segment: k, skip: written }
        break
      }
      const lines = e.done!.lines
      const mine = lines.buffer.byteLength === outBytes
      if (lines.length > 0 && mine && sink.writeOwned) await sink.writeOwned(lines)
      else if (lines.length > 0) await sink.write(lines)
      if (mine && (lines.length === 0 || sink.writeOwned)) outSpare.push(lines.buffer as ArrayBuffer)
      written += o.presented
      if (o.irregular !== null || tail === 'odd') {
        resumeAt = { segment: k, skip: written }
        break
      }
      outcomes.push(o)
      const st = cur!
      st.records += o.records
      st.entries += o.entries
      if (o.firstIndex !== undefined && st.firstIndex === undefined) {
        st.firstIndex = o.firstIndex
        st.firstTerm = o.firstTerm
      }
      if (o.lastIndex !== undefined) {
        st.lastIndex = o.lastIndex
        st.lastTerm = o.lastTerm
      }
      if (tail !== 'more') {
        // the reader's key order: zeroTail, zeroTailBytes, first/last index and term, end, lastValidOffset
        segStats.push({
          file: st.file, seq: st.seq, nameIndex: st.nameIndex, size: st.size, records: st.records, entries: st.entries,
          zeroTail: tail === 'zero-tail', zeroTailBytes, firstIndex: st.firstIndex, firstTerm: st.firstTerm, lastIndex: st.lastIndex, lastTerm: st.lastTerm,
          end: tail, lastValidOffset: job.base + job.length,
        })
      }
    }
  } finally {
    await Promise.all(pool.map((p) => p.w.terminate()))
  }
  if (resumeAt === null && segStats.length !== n) resumeAt = { segment: segStats.length, skip: 0 }
  if (resumeAt !== null) {
    return { result: await renderWalStream(streamWal(dir, { ...opts, resume: resumeAt }), sink), resumedAt: resumeAt }
  }

  // Every segment was regular: the summary the reader path would have built.
  const byType: Record<string, number> = {}
  const byKind: Record<string, number> = {}
  const uncommitted: WalResultSummary['uncommitted'] = { count: 0, from: undefined, to: undefined }
  let entries = 0
  let hardState: HardState | undefined
  let minTerm: bigint | undefined
  let maxTerm: bigint | undefined
  let firstIndex: bigint | undefined
  let lastIndex: bigint | undefined
  const snapshots: SnapshotRecord[] = []
  for (const o of outcomes) {
    for (const [t, c] of Object.entries(o.byType)) byType[t] = (byType[t] ?? 0) + c
    for (const [t, c] of Object.entries(o.byKind)) byKind[t] = (byKind[t] ?? 0) + c
    const u = o.uncommitted
    uncommitted.count += u.count
    if (u.from !== undefined && (uncommitted.from === undefined || u.from < uncommitted.from)) uncommitted.from = u.from
    if (u.to !== undefined && (uncommitted.to === undefined || u.to > uncommitted.to)) uncommitted.to = u.to
    entries += o.entries
    if (o.hardState) hardState = o.hardState
    if (o.minTerm !== undefined && (minTerm === undefined || o.minTerm < minTerm)) minTerm = o.minTerm
    if (o.maxTerm !== undefined && (maxTerm === undefined || o.maxTerm > maxTerm)) maxTerm = o.maxTerm
    if (o.firstIndex !== undefined && (firstIndex === undefined || o.firstIndex < firstIndex)) firstIndex = o.firstIndex
    if (o.lastIndex !== undefined) lastIndex = o.lastIndex
    snapshots.push(...o.snapshots)
  }
  const last = segStats.at(-1)!
  let memberId: string | undefined
  let clusterId: string | undefined
  const meta = links.metadata
  if (meta !== null) {
    const m = decodeMetadata(meta)
    memberId = idHex(m.nodeId)
    clusterId = idHex(m.clusterId)
  }
  const summary: WalResultSummary = {
    end: 'clean', entries, shown: entries, byType, byKind, firstIndex, lastIndex, minTerm, maxTerm, hardState: hardStateOut(hardState),
    uncommitted, replaced: 0, errors: 0, warnings: 0, lastValid: { file: last.file, offset: last.lastValidOffset! },
  }
  const result: Omit<WalResult, 'entries'> = {
    version: 1, dir, walDir: layout.walDir, memberId, clusterId, hardState: hardStateOut(hardState), fromSnapshot: undefined,
    segments: segStats, files: { tmp: listing.tmp, broken: listing.broken, unknown: listing.unknown }, snapshots, findings, summary,
  }
  await sink.write(toJsonLine({ kind: 'summary', ...result }) + '\n')
  return { result }
}

