/**
 * `etcd-inspect wal -w ndjson` on worker threads: segments are independent for reading (each
 * starts with a CRC record carrying the chain and with the metadata), so each worker presents whole
 * segments (app/wal-fast.ts) while this thread checks the links between them and writes the
 * batches in log order. The output is byte-identical to the reader path (`streamWal` +
 * `renderWalStream`); where a segment is not regular, the reader path takes over at the exact
 * entry where the workers stopped, so findings and the summary are the reader's.
 *
 * Memory stays bounded: a worker blocks (Atomics.wait) once it has `IN_FLIGHT` batches not yet
 * written, so a slow reader of stdout holds back the workers instead of filling the heap.
 */
import { existsSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { idHex } from '../format/ids.js'
import { decodeMetadata, type HardState } from '../format/raft/entry.js'
import type { SnapshotRecord } from '../format/wal/log.js'
import { toJsonLine } from '../render/json.js'
import type { Sink } from '../render/output.js'
import { renderWalStream } from '../render/wal.js'
import { listingFindings, openWal, prePass, streamWal, type WalOptions, type WalResult, type WalResultSummary } from './wal.js'
import type { SegmentHead, SegmentJob, SegmentOutcome } from './wal-fast.js'

/** Batches a worker may have handed over but not yet seen written. */
const IN_FLIGHT = 8
/** Below this many bytes of segments, starting workers costs more than it saves. */
const MIN_BYTES = 8 * 1024 * 1024

export interface ParallelOptions {
  /** Worker threads (default: available CPUs, at most 4; the reader path when that is 1). */
  threads?: number
  /** Use workers whatever the size of the log (tests). */
  force?: boolean
}

/** Messages from a worker (app/wal-worker.ts). */
export type WorkerMessage =
  | { t: 'head'; seg: number; head: SegmentHead }
  | { t: 'lines'; seg: number; bytes: Uint8Array; upTo: number }
  | { t: 'done'; seg: number; outcome: SegmentOutcome }
  | { t: 'error'; seg: number; message: string }

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

interface SegState {
  head?: SegmentHead
  chunks: { bytes: Uint8Array; upTo: number }[]
  outcome?: SegmentOutcome
  error?: string
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
  const commit = pre.hardState?.commit
  for (const f of findings) await sink.write(toJsonLine({ kind: 'finding', ...f }) + '\n')

  const n = segs.length
  const states: SegState[] = segs.map(() => ({ chunks: [] }))
  let wake: (() => void) | null = null
  const signal = () => {
    const w = wake
    wake = null
    w?.()
  }
  const waitFor = async (cond: () => boolean) => {
    while (!cond()) await new Promise<void>((r) => { wake = r })
  }
  const pool = Array.from({ length: Math.min(threads, n) }, () => {
    const sab = new SharedArrayBuffer(4)
    const w = new Worker(file, { workerData: { sab } })
    return { w, flight: new Int32Array(sab) }
  })
  let next = 0
  /** Segment → the pool slot of the worker presenting it (whose in-flight count a write releases). */
  const owner: number[] = []
  const assign = (p: (typeof pool)[number]) => {
    if (next >= n) return
    const k = next++
    owner[k] = pool.indexOf(p)
    const job: SegmentJob = { segment: k, file: segs[k]!.file, seq: segs[k]!.seq, nameIndex: segs[k]!.nameIndex, last: k === n - 1, commit }
    p.w.postMessage({ job, path: listing.segments[k]!.path })
  }
  for (const p of pool) {
    p.w.on('message', (m: WorkerMessage) => {
      const s = states[m.seg]!
      if (m.t === 'head') s.head = m.head
      else if (m.t === 'lines') s.chunks.push({ bytes: m.bytes, upTo: m.upTo })
      else if (m.t === 'done') {
        s.outcome = m.outcome
        assign(p)
      } else s.error = m.message
      signal()
    })
    p.w.on('error', (e) => {
      for (const s of states) if (!s.outcome) s.error ??= e.message
      signal()
    })
    assign(p)
  }

  // Links between segments, as the reader checks them (app/wal.ts verifyByScan mirrors the same rules).
  let chain = 0
  let meta: Uint8Array | null = null
  let prevLast: bigint | undefined
  let snapIndex: bigint | undefined
  const linked = (k: number, h: SegmentHead): boolean => {
    if (h.crcRecord === null || (chain !== 0 && h.crcRecord !== chain)) return false
    if (h.metadata !== null) {
      if (meta === null) meta = h.metadata
      else if (!sameBytes(meta, h.metadata)) return false
    }
    const nameIndex = segs[k]!.nameIndex
    if (prevLast !== undefined && nameIndex !== undefined && nameIndex !== prevLast + 1n) return false
    if (h.firstIndex !== null) {
      if (prevLast !== undefined && h.firstIndex !== prevLast + 1n) return false
      let si = snapIndex
      if (h.snapBeforeFirst !== null && (si === undefined || h.snapBeforeFirst > si)) si = h.snapBeforeFirst
      if (nameIndex !== undefined && h.firstIndex > nameIndex + 1n && !(si !== undefined && h.firstIndex <= si + 1n)) return false
    }
    return true
  }

  const outcomes: SegmentOutcome[] = []
  let resumeAt: { segment: number; skip: number } | null = null
  try {
    for (let k = 0; k < n && resumeAt === null; k++) {
      const s = states[k]!
      await waitFor(() => s.head !== undefined || s.error !== undefined || s.outcome !== undefined)
      let written = 0
      if (s.error !== undefined || !s.head || !linked(k, s.head)) {
        resumeAt = { segment: k, skip: 0 }
        break
      }
      for (;;) {
        await waitFor(() => s.chunks.length > 0 || s.outcome !== undefined || s.error !== undefined)
        while (s.chunks.length > 0) {
          const c = s.chunks.shift()!
          await sink.write(c.bytes)
          written = c.upTo
          release(k)
        }
        if (s.error !== undefined) {
          resumeAt = { segment: k, skip: written }
          break
        }
        if (s.outcome !== undefined && s.chunks.length === 0) break
      }
      if (resumeAt !== null) break
      const o = s.outcome!
      if (o.irregular !== null) {
        resumeAt = { segment: k, skip: written }
        break
      }
      outcomes.push(o)
      chain = o.crcEnd
      if (o.stats.lastIndex !== undefined) prevLast = o.stats.lastIndex
      for (const r of o.snapshots) if (snapIndex === undefined || r.index > snapIndex) snapIndex = r.index
    }
  } finally {
    await Promise.all(pool.map((p) => p.w.terminate()))
  }
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
    entries += o.stats.entries
    if (o.hardState) hardState = o.hardState
    if (o.minTerm !== undefined && (minTerm === undefined || o.minTerm < minTerm)) minTerm = o.minTerm
    if (o.maxTerm !== undefined && (maxTerm === undefined || o.maxTerm > maxTerm)) maxTerm = o.maxTerm
    if (o.stats.firstIndex !== undefined && (firstIndex === undefined || o.stats.firstIndex < firstIndex)) firstIndex = o.stats.firstIndex
    if (o.stats.lastIndex !== undefined) lastIndex = o.stats.lastIndex
    snapshots.push(...o.snapshots)
  }
  const last = outcomes.at(-1)!
  let memberId: string | undefined
  let clusterId: string | undefined
  if (meta !== null) {
    const m = decodeMetadata(meta)
    memberId = idHex(m.nodeId)
    clusterId = idHex(m.clusterId)
  }
  const summary: WalResultSummary = {
    end: 'clean', entries, shown: entries, byType, byKind, firstIndex, lastIndex, minTerm, maxTerm, hardState,
    uncommitted, replaced: 0, errors: 0, warnings: 0, lastValid: { file: last.stats.file, offset: last.stats.lastValidOffset! },
  }
  const result: Omit<WalResult, 'entries'> = {
    version: 1, dir, walDir: layout.walDir, memberId, clusterId, hardState, fromSnapshot: undefined,
    segments: outcomes.map((o) => o.stats), files: { tmp: listing.tmp, broken: listing.broken, unknown: listing.unknown }, snapshots, findings, summary,
  }
  await sink.write(toJsonLine({ kind: 'summary', ...result }) + '\n')
  return { result }

  function release(k: number): void {
    const f = pool[owner[k]!]?.flight
    if (f) {
      Atomics.sub(f, 0, 1)
      Atomics.notify(f, 0)
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
