/**
 * Renderers for `etcd-inspect wal` and `wal verify`: table, simple, json, ndjson. JSON is the full
 * result (render/json.ts); table and simple show a subset of the same facts. Entries arrive
 * decoded (app/wal.ts `streamWal`) and are presented here (render/wal-entry.ts), or arrive already
 * written by the workers of the parallel path (app/wal-parallel.ts blocks, written by
 * render/wal-line.ts and `EntryRowWriter` below): the same bytes either way.
 */
import { newTable } from './table.js'
import { jsonString, toJson, toJsonLine } from './json.js'
import type { Sink, OutputFormat } from './output.js'
import type { VerifyResult, WalEntry, WalResult, WalStreamItem } from '../app/wal.js'
import type { ChunkEntrySink } from '../app/wal-fast.js'
import type { WalBlock } from '../app/wal-parallel.js'
import { presentEntry, presentWalResult, type PresentOptions, type WalEntryOut } from './wal-entry.js'
import { entryJson, entryLine, fastPut, put, putUint, type FastPutKind } from './wal-line.js'
import { DigestBatch } from '../format/digest.js'
import { newPutShape } from '../format/raft/put-shape.js'
import type { WalFinding } from '../format/wal/decoder.js'
import { bytesLabel, type FormattedBytes } from '../format/value.js'
import { valueClassLabel, type ValueClass } from '../format/k8s/value.js'

const plain = { head: [] as string[], border: [] as string[] }
const compact = { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' }

function findingLine(f: WalFinding): string {
  const where = f.offset >= 0 ? `${f.file}@${f.offset}` : f.file
  return `${f.severity.toUpperCase()} ${f.code} ${where}: ${f.detail}${f.hint ? ` (${f.hint})` : ''}`
}

/** One-line description of an entry's payload (table and simple views). */
export function entryDetail(e: WalEntryOut): string {
  const r = e.request
  if (e.confChange) {
    const m = e.confChange.member as { name?: string; peerURLs?: string[]; isPromote?: boolean } | undefined
    return `${e.confChange.type} ${e.confChange.nodeId}${m ? ` ${m.name ?? ''} ${(m.peerURLs ?? []).join(',')}${m.isPromote ? ' promote' : ''}` : ''}`.trim()
  }
  if (e.confChangeV2) return `${e.confChangeV2.transition} ${JSON.stringify(e.confChangeV2.changes)}`
  if (!r) return ''
  switch (r.kind) {
    case 'put': return `key=${JSON.stringify(r.key)} value=${bytesLabel(r.value as FormattedBytes)}${r.valueClass ? ` ${valueClassLabel(r.valueClass as ValueClass)}` : ''}${r.lease ? ` lease=${r.lease}` : ''}`
    case 'deleteRange':
    case 'range': return `key=${JSON.stringify(r.key)}${r.rangeEnd !== undefined ? ` range_end=${JSON.stringify(r.rangeEnd)}` : ''}`
    case 'txn': {
      const ops = (xs: unknown) => (xs as { kind: string; key?: string; valueClass?: ValueClass }[])
        .map((o) => `${o.kind}${o.key !== undefined ? ' ' + JSON.stringify(o.key) : ''}${o.valueClass ? ` (${valueClassLabel(o.valueClass)})` : ''}`).join(', ')
      const cmps = (r.compare as { key: string; target: string; result: string }[]).map((c) => `${c.target.toLowerCase()}(${JSON.stringify(c.key)}) ${c.result}`).join(', ')
      return `compare[${cmps}] success[${ops(r.success)}] failure[${ops(r.failure)}]`
    }
    case 'v2': return `${r.method} ${r.path}${r.val ? ` ${typeof r.val === 'object' ? bytesLabel(r.val as FormattedBytes) : JSON.stringify(r.val)}` : ''}`
    case 'unknown': return `${e.unknown?.reason ?? ''} ${e.unknown?.hex.slice(0, 32) ?? ''}`
    case 'noop': return ''
    default: {
      const { kind: _k, ...rest } = r
      return toJsonLine(rest)
    }
  }
}

function kindOfOut(e: WalEntryOut): string {
  return e.request?.kind ?? e.type
}

function summaryLines(r: Omit<WalResult, 'entries'>): string[] {
  const s = r.summary
  const hs = s.hardState
  const out = [
    `member ${r.memberId ?? '?'} cluster ${r.clusterId ?? '?'}  hardState term=${hs?.term ?? '-'} vote=${hs?.vote ?? '-'} commit=${hs?.commit ?? '-'}`,
    `entries ${s.entries} (shown ${s.shown})  index ${s.firstIndex ?? '-'}..${s.lastIndex ?? '-'}  term ${s.minTerm ?? '-'}..${s.maxTerm ?? '-'}  uncommitted ${s.uncommitted.count}${s.uncommitted.count ? ` (${s.uncommitted.from}..${s.uncommitted.to})` : ''}  replaced ${s.replaced}`,
    `by kind: ${Object.entries(s.byKind).map(([k, n]) => `${k}=${n}`).join(' ')}`,
    `end: ${s.end}  errors ${s.errors} warnings ${s.warnings}${s.lastValid ? `  last valid ${s.lastValid.file}@${s.lastValid.offset}` : ''}`,
  ]
  if (r.fromSnapshot) out.splice(1, 0, `from snapshot index ${r.fromSnapshot.index} term ${r.fromSnapshot.term}`)
  return out
}

/** Renders a full result (the same bytes as streaming its items). */
export async function renderWal(r: WalResult, format: OutputFormat, sink: Sink, opts: PresentOptions = {}): Promise<void> {
  const { entries, ...rest } = r
  const items: WalStreamItem[] = [
    { kind: 'header', header: { version: r.version, dir: r.dir, walDir: r.walDir, memberId: r.memberId, clusterId: r.clusterId, hardState: r.hardState, fromSnapshot: r.fromSnapshot, files: r.files } },
    ...entries.map((entry) => ({ kind: 'entry' as const, entry })),
    { kind: 'summary', result: rest },
  ]
  await renderWalStream(items, sink, format, opts)
}

/** Rows per page of the entry table: column widths are measured per page (and only ever grow). */
const TABLE_PAGE = 512
const TABLE_HEAD = ['index', 'term', 'type', 'kind', 'detail'] as const

const enc = new TextEncoder()

/**
 * Rows of the entry table as UTF-8 bytes: per row five cells (index, term, type, kind: ASCII;
 * detail), `ends` holding each cell's end offset. The workers write them (EntryRowWriter), the
 * table pages through them, so a row is never a string on the main thread of the parallel path.
 */
class RowBytes {
  bytes: Uint8Array
  op = 0
  ends: Int32Array
  n = 0
  constructor(bytes = 64 * 1024, rows = 1024) {
    this.bytes = new Uint8Array(bytes)
    this.ends = new Int32Array(rows * 5)
  }
  room(bytes: number, rows: number): void {
    if (this.op + bytes > this.bytes.length) {
      const nb = new Uint8Array(Math.max(this.bytes.length * 2, this.op + bytes))
      nb.set(this.bytes.subarray(0, this.op))
      this.bytes = nb
    }
    if ((this.n + rows) * 5 > this.ends.length) {
      const ne = new Int32Array(Math.max(this.ends.length * 2, (this.n + rows) * 5))
      ne.set(this.ends.subarray(0, this.n * 5))
      this.ends = ne
    }
  }
  addCells(cells: readonly string[]): void {
    let len = 0
    for (const c of cells) len += c.length
    this.room(len * 3, 1)
    const e = this.n * 5
    for (let i = 0; i < 5; i++) {
      this.op += enc.encodeInto(cells[i]!, this.bytes.subarray(this.op)).written
      this.ends[e + i] = this.op
    }
    this.n++
  }
  /** Appends rows [from, to) of another store's bytes. */
  addRows(bytes: Uint8Array, ends: Int32Array, from: number, to: number): void {
    if (to <= from) return
    const s = from === 0 ? 0 : ends[from * 5 - 1]!
    const e = ends[to * 5 - 1]!
    this.room(e - s, to - from)
    this.bytes.set(bytes.subarray(s, e), this.op)
    const shift = this.op - s
    let k = this.n * 5
    for (let i = from * 5; i < to * 5; i++) this.ends[k++] = ends[i]! + shift
    this.op += e - s
    this.n += to - from
  }
  /** Drops the first `rows` rows. */
  shift(rows: number): void {
    if (rows >= this.n) {
      this.op = 0
      this.n = 0
      return
    }
    const s = this.ends[rows * 5 - 1]!
    this.bytes.copyWithin(0, s, this.op)
    this.op -= s
    this.ends.copyWithin(0, rows * 5, this.n * 5)
    this.n -= rows
    for (let i = 0; i < this.n * 5; i++) this.ends[i]! -= s
  }
}

/** n spaces at o[q] (none when n <= 0); returns the next position. */
function spaces(o: Uint8Array, q: number, n: number): number {
  for (let i = 0; i < n; i++) o[q++] = 0x20
  return q
}

/** b[s, e) at o[q]; returns the next position. */
function copy(o: Uint8Array, q: number, b: Uint8Array, s: number, e: number): number {
  if (e - s > 48) {
    o.set(b.subarray(s, e), q)
    return q + e - s
  }
  for (let i = s; i < e; i++) o[q++] = b[i]!
  return q
}

/** The table cells of one presented entry. */
function tableCells(e: WalEntryOut): string[] {
  return [String(e.index), String(e.term), e.type + (e.committed ? '' : ' (uncommitted)') + (e.replaced ? ' (replaced)' : ''), kindOfOut(e), entryDetail(e)]
}

/** The `-w simple` line of one presented entry. */
function simpleLine(e: WalEntryOut): string {
  return `${e.index} ${e.term} ${e.type} ${kindOfOut(e)}${e.committed ? '' : ' uncommitted'}${e.replaced ? ' replaced' : ''} ${entryDetail(e)}`.trimEnd() + '\n'
}

/**
 * The entry table as the entries come: fixed columns, widths measured over each page of rows and
 * never narrowed, so memory is one page whatever the size of the log (cli-table3 needs every row
 * before it prints one, and its layout grows faster than linearly with rows). Pages are counted in
 * log order, wherever the rows were written.
 */
class EntryTable {
  private page = new RowBytes()
  private widths: number[] = TABLE_HEAD.slice(0, 4).map((h) => h.length)
  private started = false
  add(e: WalEntryOut): void {
    this.page.addCells(tableCells(e))
  }
  addRows(bytes: Uint8Array, ends: Int32Array, n: number): void {
    this.page.addRows(bytes, ends, 0, n)
  }
  get full(): boolean {
    return this.page.n >= TABLE_PAGE
  }
  /** Full pages (or with `all`, every row) as text bytes, the header line before the first page. */
  take(all = false): Uint8Array {
    const parts: Uint8Array[] = []
    while (this.page.n >= TABLE_PAGE || (all && this.page.n > 0)) {
      parts.push(this.takePage(Math.min(TABLE_PAGE, this.page.n)))
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts)
  }
  private takePage(rows: number): Uint8Array {
    const p = this.page
    const w = this.widths
    const ends = p.ends
    for (let r = 0; r < rows; r++) {
      let s = r === 0 ? 0 : ends[r * 5 - 1]!
      for (let i = 0; i < 4; i++) {
        const e = ends[r * 5 + i]!
        if (e - s > w[i]!) w[i] = e - s
        s = e
      }
    }
    const rowWidth = w[0]! + w[1]! + w[2]! + w[3]! + 9
    const head = this.started ? '' : TABLE_HEAD[0].padStart(w[0]!) + '  ' + TABLE_HEAD[1].padStart(w[1]!) + '  ' + TABLE_HEAD[2].padEnd(w[2]!) + '  ' + TABLE_HEAD[3].padEnd(w[3]!) + '  ' + TABLE_HEAD[4] + '\n'
    this.started = true
    const b = p.bytes
    const o = new Uint8Array(head.length + rows * rowWidth + (ends[rows * 5 - 1]! - 0))
    let q = enc.encodeInto(head, o).written
    const w0 = w[0]!
    const w1 = w[1]!
    const w2 = w[2]!
    const w3 = w[3]!
    // cells and padding copied byte by byte: a subarray and a set per cell (ten a row) made this
    // thread the bottleneck of `-w table` on a million-entry log
    for (let r = 0; r < rows; r++) {
      const s0 = r === 0 ? 0 : ends[r * 5 - 1]!
      const e0 = ends[r * 5]!
      const e1 = ends[r * 5 + 1]!
      const e2 = ends[r * 5 + 2]!
      const e3 = ends[r * 5 + 3]!
      const e4 = ends[r * 5 + 4]!
      // index and term right-aligned, type left-aligned, kind padded only when a detail follows
      q = spaces(o, q, w0 - (e0 - s0))
      q = copy(o, q, b, s0, e0)
      q = spaces(o, q, 2 + w1 - (e1 - e0))
      q = copy(o, q, b, e0, e1)
      q = spaces(o, q, 2)
      q = copy(o, q, b, e1, e2)
      q = spaces(o, q, 2 + w2 - (e2 - e1))
      q = copy(o, q, b, e2, e3)
      if (e4 > e3) {
        q = spaces(o, q, 2 + w3 - (e3 - e2))
        q = copy(o, q, b, e3, e4)
      }
      o[q++] = 0x0a
    }
    p.shift(rows)
    return o.subarray(0, q)
  }
}

const B_NORMAL = enc.encode('normal')
const B_NORMAL_UNCOMMITTED = enc.encode('normal (uncommitted)')
const B_PUT = enc.encode('put')
const B_SIMPLE_PUT = enc.encode(' normal put ')
const B_SIMPLE_PUT_UNCOMMITTED = enc.encode(' normal put uncommitted ')
const B_KEY = enc.encode('key="')
const B_VALUE = enc.encode('" value=<redacted len:')
const B_SHA = enc.encode(' sha256:')
const B_KIND: Record<FastPutKind, Uint8Array> = { text: enc.encode('> text'), opaque: enc.encode('> opaque'), cbor: enc.encode('> cbor') }

/**
 * entryDetail of a fast-path put (key printable, needing no escape; value redacted, class without
 * details). The digest's 16 bytes are left to `digests`, filled once the chunk is written.
 */
function putPutDetail(o: Uint8Array, q: number, b: Uint8Array, ks: number, ke: number, vs: number, ve: number, kind: FastPutKind, digests: DigestBatch): number {
  q = put(o, q, B_KEY)
  for (let i = ks; i < ke; i++) o[q++] = b[i]!
  q = put(o, q, B_VALUE)
  q = putUint(o, q, ve - vs)
  q = put(o, q, B_SHA)
  digests.add(vs, ve, q)
  return put(o, q + 16, B_KIND[kind])
}

/** How the workers of the parallel path write table and simple output. */
export type RowStyle = 'table' | 'simple'

/**
 * The ChunkEntrySink of the table and simple formats (workers/wal-chunk.ts): every entry presented
 * and written as the reader path writes it, the table as cells (RowBytes) the main thread pages.
 */
export class EntryRowWriter implements ChunkEntrySink {
  private rows: RowBytes | undefined
  private ob: Uint8Array
  private op = 0
  private buf: Uint8Array = new Uint8Array(0)
  private view: DataView = new DataView(new ArrayBuffer(0))
  private readonly shape = newPutShape()
  /**
   * `digests`: where the value digests of the rows written since `begin` wait for `take` (a
   * worker passes the same one for every chunk: its room is 48 KB).
   */
  constructor(style: RowStyle, out: Uint8Array | undefined, want: number, private readonly digests = new DigestBatch()) {
    // rows sized for the chunk (~350 bytes an entry on bench/wal): the row ends go to the main thread whole, not copied
    if (style === 'table') this.rows = new RowBytes(out !== undefined && out.length >= want ? 0 : want, Math.max(1024, Math.ceil(want / 256)))
    if (style === 'table' && out !== undefined && out.length >= want) this.rows!.bytes = out
    this.ob = style === 'simple' ? (out !== undefined && out.length >= want ? out : new Uint8Array(want)) : new Uint8Array(0)
  }
  /** The chunk whose bytes `raw` positions point into. */
  begin(buf: Uint8Array): void {
    this.buf = buf
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
    this.digests.clear()
  }
  /**
   * The put shape of the line writer's fast path (render/wal-line.ts `fastPut`), written from its
   * bytes as presentEntry + tableCells / simpleLine would write it:
   * `key="K" value=<redacted len:N sha256:H> KIND`.
   */
  raw(s: number, e: number, index: number, term: number, _offset: number, committed: boolean): boolean {
    const b = this.buf
    const p = this.shape
    const kind = fastPut(this.view, b, s, e, p)
    if (kind === null) return false
    const need = 128 + (p.keyEnd - p.keyStart)
    let q: number
    if (this.rows) {
      const r = this.rows
      r.room(need, 1)
      const o = r.bytes
      const at = r.n * 5
      q = putUint(o, r.op, index)
      r.ends[at] = q
      q = putUint(o, q, term)
      r.ends[at + 1] = q
      q = put(o, q, committed ? B_NORMAL : B_NORMAL_UNCOMMITTED)
      r.ends[at + 2] = q
      q = put(o, q, B_PUT)
      r.ends[at + 3] = q
      q = putPutDetail(o, q, b, p.keyStart, p.keyEnd, p.valueStart, p.valueEnd, kind, this.digests)
      r.ends[at + 4] = q
      r.op = q
      r.n++
      return true
    }
    if (this.op + need > this.ob.length) this.grow(need)
    const o = this.ob
    q = putUint(o, this.op, index)
    o[q++] = 0x20
    q = putUint(o, q, term)
    q = put(o, q, committed ? B_SIMPLE_PUT : B_SIMPLE_PUT_UNCOMMITTED)
    q = putPutDetail(o, q, b, p.keyStart, p.keyEnd, p.valueStart, p.valueEnd, kind, this.digests)
    o[q++] = 0x0a
    this.op = q
    return true
  }
  private grow(n: number): void {
    const nb = new Uint8Array(Math.max(this.ob.length * 2, this.op + n))
    nb.set(this.ob.subarray(0, this.op))
    this.ob = nb
  }
  entry(d: WalEntry): void {
    const e = presentEntry(d)
    if (this.rows) return this.rows.addCells(tableCells(e))
    const line = simpleLine(e)
    if (this.op + line.length * 3 > this.ob.length) this.grow(line.length * 3)
    this.op += enc.encodeInto(line, this.ob.subarray(this.op)).written
  }
  restart(): void {
    if (this.rows) this.rows.n = this.rows.op = 0
    this.op = 0
    this.digests.clear()
  }
  take(): { bytes: Uint8Array; rows?: Int32Array } {
    if (this.rows) {
      this.digests.fill(this.buf, this.rows.bytes)
      return { bytes: this.rows.bytes.subarray(0, this.rows.op), rows: this.rows.ends.subarray(0, this.rows.n * 5) }
    }
    this.digests.fill(this.buf, this.ob)
    return { bytes: this.ob.subarray(0, this.op) }
  }
}

function segmentsTable(segments: WalResult['segments']): string {
  const segs = newTable({ head: ['segment', 'seq', 'size', 'records', 'entries', 'index', 'term', 'end'], style: plain, chars: compact })
  for (const s of segments) {
    segs.push([s.file.split('/').pop()!, String(s.seq ?? ''), String(s.size), String(s.records), String(s.entries),
      s.firstIndex !== undefined ? `${s.firstIndex}..${s.lastIndex}` : '-', s.firstTerm !== undefined ? `${s.firstTerm}..${s.lastTerm}` : '-',
      `${s.end ?? 'not read'}${s.zeroTail ? ` (${s.zeroTailBytes} zero bytes)` : ''}`])
  }
  return segs.toString() + '\n'
}

/** A member of the top-level JSON object, pretty-printed one level in (as toJson(r) prints it). */
// An absent value (no metadata record: memberId undefined) renders as `: undefined`, which the
// caller filters out; toJson(undefined) is undefined, not a string.
const member = (k: string, v: unknown): string => `  ${jsonString(k)}: ${v === undefined ? 'undefined' : toJson(v).replace(/\n/g, '\n  ')}`

/** What renderWalStream takes: `streamWal`'s items, or the parallel path's (which adds blocks). */
export type WalRenderItem = WalStreamItem | WalBlock

/**
 * Renders the streamed items in any format as they come; returns the summary result. Memory is
 * flat in every format: ndjson and simple write a line per entry, the table a page of rows at a
 * time, and JSON writes the document incrementally: the members known before the entries
 * (version, dir, walDir, fromSnapshot, files), the entries one compact object per line, then the
 * members known only once the log is read (identity and HardState as the checked reader saw them,
 * segments, snapshots, findings, summary). Writes go out in ~256 KiB batches; blocks the workers
 * wrote go out as they are.
 */
export async function renderWalStream(items: Iterable<WalRenderItem> | AsyncIterable<WalRenderItem>, sink: Sink, format: OutputFormat = 'ndjson', opts: PresentOptions = {}): Promise<Omit<WalResult, 'entries'> | undefined> {
  let last: Omit<WalResult, 'entries'> | undefined
  let pending = ''
  const flush = async () => {
    if (pending.length === 0) return
    const p = sink.write(pending)
    pending = ''
    if (p) await p
  }
  const table = format === 'table' ? new EntryTable() : undefined
  let jsonEntries = 0
  const block = async (b: WalBlock) => {
    await flush()
    let bytes = b.bytes
    if (table) {
      table.addRows(bytes, b.rows!, b.entries)
      b.release?.()
      if (table.full) await sink.write(table.take())
      return
    }
    // the workers write every JSON entry after a comma: not the document's first
    if (format === 'json' && jsonEntries === 0 && bytes.length > 0) bytes = bytes.subarray(1)
    jsonEntries += b.entries
    if (bytes.length === 0) b.release?.()
    else if (b.release && sink.writeOwned && bytes.byteOffset === 0) {
      await sink.writeOwned(bytes)
      b.release()
    } else {
      await sink.write(bytes)
      // a sink that does not say when it is done with the bytes keeps them: no reuse
    }
  }
  const one = (it: WalStreamItem) => {
    if (it.kind === 'entry') {
      const e = presentEntry(it.entry, opts)
      if (format === 'ndjson') pending += entryLine(e) + '\n'
      else if (format === 'json') pending += (jsonEntries++ ? ',\n    ' : '\n    ') + entryJson(e)
      else if (format === 'simple') pending += simpleLine(e)
      else {
        table!.add(e)
        if (table!.full) pending += Buffer.from(table!.take()).toString('utf8')
      }
    } else if (it.kind === 'finding') {
      // ndjson streams findings in log order; the other formats list them all at the end.
      if (format === 'ndjson') pending += toJsonLine({ kind: 'finding', ...it.finding }) + '\n'
    } else if (it.kind === 'header') {
      if (format === 'json') {
        const h = it.header
        pending += '{\n' + [member('version', h.version), member('dir', h.dir), member('walDir', h.walDir),
          ...(h.fromSnapshot !== undefined ? [member('fromSnapshot', h.fromSnapshot)] : []), member('files', h.files)].join(',\n') + ',\n  "entries": ['
      }
    } else if (it.kind === 'summary') {
      const r = it.result
      last = r
      if (format === 'ndjson') pending += toJsonLine({ kind: 'summary', ...r }) + '\n'
      else if (format === 'json') {
        pending += (jsonEntries ? '\n  ],\n' : '],\n') + [member('memberId', r.memberId), member('clusterId', r.clusterId), member('hardState', r.hardState),
          member('segments', r.segments), member('snapshots', r.snapshots), member('findings', r.findings), member('summary', r.summary)]
          .filter((m) => !m.endsWith(': undefined')).join(',\n') + '\n}\n'
      } else {
        if (table) pending += Buffer.from(table.take(true)).toString('utf8') + segmentsTable(r.segments)
        for (const f of r.findings) pending += findingLine(f) + '\n'
        for (const l of summaryLines(r)) pending += l + '\n'
      }
    }
  }
  if (Symbol.asyncIterator in items) {
    for await (const it of items) {
      if (it.kind === 'block') await block(it)
      else one(it)
      if (pending.length >= 256 * 1024) await flush()
    }
  } else {
    for (const it of items) {
      if (it.kind === 'block') await block(it)
      else one(it)
      if (pending.length >= 256 * 1024) await flush()
    }
  }
  await flush()
  return last
}

/** `-w json` of a whole `runWal` result, as a value for toJson (the contract of docs/wal.md). */
export { presentWalResult }

/** Renders `wal verify`: one line per segment plus a verdict. */
export async function renderVerify(r: VerifyResult, format: OutputFormat, sink: Sink): Promise<void> {
  if (format === 'json') return void (await sink.write(toJson(r) + '\n'))
  if (format === 'ndjson') {
    for (const s of r.segments) await sink.write(toJsonLine({ kind: 'segment', ...s }) + '\n')
    for (const f of r.findings) await sink.write(toJsonLine({ kind: 'finding', ...f }) + '\n')
    return void (await sink.write(toJsonLine({ kind: 'verdict', verdict: r.verdict, memberId: r.memberId, clusterId: r.clusterId, hardState: r.hardState }) + '\n'))
  }
  for (const s of r.segments) {
    await sink.write(`${s.status.padEnd(9)} ${s.file} size=${s.size} records=${s.records} entries=${s.entries} index=${s.firstIndex ?? '-'}..${s.lastIndex ?? '-'} end=${s.end ?? 'not read'}${s.lastValidOffset !== undefined ? ` lastValid=${s.lastValidOffset}` : ''}\n`)
  }
  for (const f of r.findings) if (f.severity !== 'info') await sink.write(findingLine(f) + '\n')
  const what = r.verdict === 'clean' ? 'clean: the CRC chain holds and the log ends cleanly'
    : r.verdict === 'torn-tail' ? 'torn-tail: the last segment ends in a torn write (normal after a crash; etcd repairs it on start)'
      : 'corrupt: see the errors above'
  await sink.write(`verdict: ${what} (member ${r.memberId ?? '?'} cluster ${r.clusterId ?? '?'})\n`)
}
