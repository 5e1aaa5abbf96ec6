/**
 * `etcd-inspect wal` on worker threads, in every format. This thread reads the segments once, cuts
 * them into chunks of whole frames (looking only at the length words) and hands each chunk to a
 * worker (workers/wal-chunk.ts, through the pool of workers/pool.ts) with the CRC chain as the
 * stored CRC of the record before it, or presents it itself when every worker has its window full
 * (this thread is one of the `threads`); workers present their chunks (app/wal-fast.ts walks them,
 * the render module of the format writes them) and this thread checks the links between chunks
 * and segments and yields the written blocks in log order. The output is byte-identical to the
 * reader path (`streamWal` + `renderWalStream`); where anything is not regular, the reader path
 * takes over at the exact entry where the workers stopped, so findings and the summary are the
 * reader's.
 *
 * Memory stays bounded: at most PER_WORKER chunks per worker are out at a time, and the next one is
 * read only when the oldest is consumed, so a slow reader of stdout holds everything back.
 */
import { relative } from 'node:path'
import { hardStateOut, idHex } from '../format/ids.js'
import { decodeMetadata, type HardState } from '../format/raft/entry.js'
import type { SegmentStats, SnapshotRecord } from '../format/wal/log.js'
import { LogLinks, type LinkPiece } from '../format/wal/links.js'
import { FRAME_HEADER_BYTES, Frame, FrameCursor } from '../format/wal/frame.js'
import { decodeRecordInto, type RecordPos } from '../format/wal/record.js'
import { openFile } from '../io/byte-source.js'
import { nativeDigest } from '../format/digest.js'
import { PARALLEL_MIN_BYTES } from './wal-ahead.js'
import { defaultThreads, orderedMap, prestart, type PoolJob, type Prestarted } from '../workers/pool.js'
import type { ChunkReply, ChunkRequest, ChunkStyle } from '../workers/wal-chunk.js'
import { listingFindings, openWal, prePass, replacedEntries, streamWal, type WalOptions, type WalResult, type WalResultSummary, type WalStreamItem } from './wal.js'
import type { ChunkJob, ChunkOutcome } from './wal-fast.js'

/** Bytes of whole frames per chunk handed to a worker. */
const CHUNK = 1024 * 1024
/** Chunks per worker dispatched but not yet written: bounds memory whatever the log size. */
const PER_WORKER = 2

/**
 * The sizes of the first frames of a segment (heads only: big payloads are skipped, not read), for
 * the average record size `workersPayOff` weighs.
 */
function sampleRecords(path: string, frames = 4096): { records: number; bytes: number } {
  const src = openFile(path)
  try {
    const cur = new FrameCursor(64 * 1024).reset(src)
    const out = { records: 0, bytes: 0 }
    while (out.records < frames && cur.next() === Frame.Ok && cur.head(0)) {
      out.records++
      out.bytes += cur.recBytes
      cur.advance()
    }
    return out
  } finally {
    src.close()
  }
}

/**
 * Whether the workers beat the reader path on one thread, from the log's size and its average
 * record size (sampled from the head of the last segment). Per-entry and per-byte costs measured
 * on bench/wal.mjs's two logs (docs/wal.md): the reader path ~9 µs per entry, the workers' fast path
 * ~2.75 µs per entry spread over the workers. Per byte (CRC-32C + SHA-256 of values, reading) ~2.1
 * ns on both paths without the native addon, and starting the workers and moving chunks ~0.5 s: a
 * log of a few thousand 100 KB values was done sooner on one thread (walbig: 1.31 vs 1.53 s). With
 * the addon the workers check a chunk's CRCs in one native call: ~1.3 ns per byte against the
 * reader's ~3.4 (walbig: 0.81–0.91 s on the workers, 1.26–1.87 s on one thread), ~0.45 s to start.
 * A log of a million small entries goes to the workers either way.
 */
export function workersPayOff(bytes: number, sample: { records: number; bytes: number }, threads: number, native = nativeDigest): boolean {
  if (sample.records === 0) return true
  const entries = bytes / (sample.bytes / sample.records + 8)
  const serial = entries * 9e-6 + bytes * (native ? 3.4e-9 : 2.1e-9)
  const parallel = (entries * 2.75e-6 + bytes * (native ? 1.3e-9 : 2.1e-9)) / Math.max(1, threads) + (native ? 0.45 : 0.5)
  return parallel < serial
}

export interface ParallelOptions {
  /** What the workers write: the output format (default ndjson). */
  style?: ChunkStyle
  /** Threads presenting chunks, this one and threads - 1 workers (default: available CPUs, at most 4; the reader path when that is 1). */
  threads?: number
  /** Use workers whatever the size of the log (tests). */
  force?: boolean
  /** Chunk size in bytes (tests use small ones to cross many chunk boundaries). */
  chunkBytes?: number
  /**
   * Workers the caller started ahead (cli/main.ts starts them before the CLI's modules load): used
   * instead of starting new ones, and stopped when this returns null. The caller stops them on any
   * other way out (an error before this is called).
   */
  started?: Prestarted
}

/**
 * Entries the workers wrote, in log order: `entries` of them in `bytes` (table rows: with their
 * cell ends in `rows`). `release` hands the output buffer back for reuse once the bytes are
 * written out (after the sink is done with them).
 */
export interface WalBlock {
  kind: 'block'
  bytes: Uint8Array
  entries: number
  rows?: Int32Array
  release?: () => void
}

/** A started parallel run: its items (for renderWalStream), and where the reader took over once they are read. */
export interface ParallelRun {
  items: AsyncGenerator<WalStreamItem | WalBlock>
  /** Set once the items are read: where the reader path took over, if it did. */
  resumedAt?: { segment: number; skip: number }
  /** The summary result, once the items are read. */
  result?: Omit<WalResult, 'entries'>
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
          if (cur.skipPlain() > 0) {
            lastStart = cur.recStart
            lastEnd = lastStart + cur.recBytes
          }
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
 * Starts `wal` on worker threads: the items to render (header, directory findings, the workers'
 * blocks, the reader path's items after a takeover, the summary), or null when the reader path
 * should do it all (options, a small log, one CPU, entries a later one replaced in a format that
 * marks them).
 */
export async function streamWalParallel(dir: string, opts: WalOptions, cfg: ParallelOptions = {}): Promise<ParallelRun | null> {
  let run: ParallelRun | null = null
  try {
    run = await startParallel(dir, opts, cfg)
    return run
  } finally {
    // workers started ahead and not taken (the reader path, or an error): stop them
    if (run === null) cfg.started?.stop()
  }
}

async function startParallel(dir: string, opts: WalOptions, cfg: ParallelOptions): Promise<ParallelRun | null> {
  if (!eligible(opts)) return null
  const style = cfg.style ?? 'ndjson'
  const threads = cfg.threads ?? defaultThreads()
  if (threads < 1 || (threads < 2 && !cfg.force)) return null
  const { layout, listing, opened } = openWal(dir, opts)
  let pre: ReturnType<typeof prePass>
  let started: Prestarted | undefined
  const display = (name: string) => relative(dir, `${layout.walDir}/${name}`) || name
  const findings = listingFindings(listing, display)
  try {
    const bytes = listing.segments.reduce((a, s) => a + s.size, 0)
    if (findings.some((f) => f.severity !== 'info') || (bytes < PARALLEL_MIN_BYTES && !cfg.force)) return null
    // --threads N asks for the workers; by default they start only where they pay off
    if (cfg.threads === undefined && !cfg.force && !workersPayOff(bytes, sampleRecords(listing.segments.at(-1)!.path), threads)) return null
    // the workers load (~0.1 s each) while this thread reads the pre-passes
    started = cfg.started ?? prestart('wal-chunk', threads - 1)
    pre = prePass(opened.segments, false)
    // table, simple and json mark the entries a later one replaced, known only further on: those logs go to the reader
    if (style !== 'ndjson' && replacedEntries(opened.segments, opts).size > 0) {
      started?.stop()
      return null
    }
  } catch (err) {
    started?.stop()
    throw err
  } finally {
    opened.close()
  }
  const run: ParallelRun = { items: undefined as unknown as ParallelRun['items'] }
  run.items = parallelItems(dir, opts, cfg, style, threads, { layout, listing, segs: opened.segments, findings, pre, started }, run)
  return run
}

async function* parallelItems(dir: string, opts: WalOptions, cfg: ParallelOptions, style: ChunkStyle, threads: number,
  w: { layout: ReturnType<typeof openWal>['layout']; listing: ReturnType<typeof openWal>['listing']; segs: ReturnType<typeof openWal>['opened']['segments']; findings: ReturnType<typeof listingFindings>; pre: ReturnType<typeof prePass>; started?: Prestarted },
  run: ParallelRun): AsyncGenerator<WalStreamItem | WalBlock> {
  const { layout, listing, segs, findings, pre } = w
  const n = segs.length
  const files = { tmp: listing.tmp, broken: listing.broken, unknown: listing.unknown }
  yield { kind: 'header', header: { version: 1, dir, walDir: layout.walDir, memberId: pre.memberId, clusterId: pre.clusterId, hardState: hardStateOut(pre.hardState), fromSnapshot: undefined, files } }
  for (const f of findings) yield { kind: 'finding', finding: f }

  const chunkBytes = cfg.chunkBytes ?? CHUNK
  const spare: ArrayBuffer[] = []
  // Output buffers go round too, once the sink is done with them (WalBlock.release); a chunk's
  // output is about as long as its records, longer ones get a new buffer left to the GC.
  const outBytes = chunkBytes + (chunkBytes >>> 2) + 4096
  const outSpare: ArrayBuffer[] = []
  const pieces = chunker(listing.segments.map((s) => s.path), segs.map((s) => s.file), pre.hardState?.commit, chunkBytes, spare)
  /** Chunks handed to the pool, in order (the pool answers in the same order). */
  const sent: Piece[] = []
  function* jobs(): Generator<PoolJob<ChunkRequest>> {
    for (const piece of pieces) {
      sent.push(piece)
      const out = outSpare.pop() ?? new ArrayBuffer(outBytes)
      yield { job: { job: piece.job, style, buffer: piece.buffer, out }, transfer: [piece.buffer, out] }
    }
  }
  const results = orderedMap<ChunkRequest, ChunkReply>('wal-chunk', jobs(), { threads, window: PER_WORKER, started: w.started, here: true })

  // Links between chunks and segments, as the reader checks them (format/wal/links.ts).
  const links = new LogLinks()
  /** The piece of the log a chunk is, for the link rules. */
  const linkPiece = (job: ChunkJob, o: ChunkOutcome): LinkPiece => ({
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
    if (links.add(linkPiece(job, o)) !== null) return false
    return hadFirst || links.firstEntry === undefined || links.startGap(pre.hardState?.commit ?? 0n) === undefined
  }

  const outcomes: ChunkOutcome[] = []
  const segStats: SegmentStats[] = []
  let cur: SegmentStats | undefined
  let resumeAt: { segment: number; skip: number } | null = null
  let written = 0
  try {
    for (let id = 0; resumeAt === null; id++) {
      const r = await results.next()
      if (r.done) break // every chunk written
      const piece = sent.shift()!
      const { job, tail, zeroTailBytes } = piece
      const k = job.segment
      if (job.first) {
        written = 0
        const s = segs[k]!
        cur = { file: s.file, seq: s.seq, nameIndex: s.nameIndex, size: listing.segments[k]!.size, records: 0, entries: 0, zeroTail: false, zeroTailBytes: 0 }
      }
      const reply = r.value.ok ? r.value.result : undefined
      const o = reply?.outcome
      if (reply && reply.input.byteLength === chunkBytes) spare.push(reply.input)
      if (o === undefined || !linked(job, o)) {
        resumeAt = { segment: k, skip: written }
        break
      }
      const bytes = reply!.bytes
      const mine = bytes.buffer.byteLength === outBytes
      yield { kind: 'block', bytes, entries: o.presented, rows: reply!.rows, release: mine ? () => void outSpare.push(bytes.buffer as ArrayBuffer) : undefined }
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
    await results.return(undefined)
    // the chunker may stop mid-segment (a takeover): let it close its file now
    pieces.return(undefined)
  }
  if (resumeAt === null && segStats.length !== n) resumeAt = { segment: segStats.length, skip: 0 }
  if (resumeAt !== null) {
    run.resumedAt = resumeAt
    // (no entry was replaced: streamWalParallel checked that for the formats that mark them)
    for (const it of streamWal(dir, { ...opts, resume: resumeAt })) {
      if (it.kind === 'summary') run.result = it.result
      yield it
    }
    return
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
  run.result = result
  yield { kind: 'summary', result }
}

