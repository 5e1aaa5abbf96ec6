/**
 * Renderers for `etcd-inspect wal` and `wal verify`: table, simple, json, ndjson. JSON is the full
 * result (render/json.ts); table and simple show a subset of the same facts.
 */
import Table from 'cli-table3'
import { jsonString, toJson, toJsonLine } from './json.js'
import type { Sink, OutputFormat } from './output.js'
import type { VerifyResult, WalEntryOut, WalResult, WalStreamItem } from '../app/wal.js'
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
export async function renderWal(r: WalResult, format: OutputFormat, sink: Sink): Promise<void> {
  const { entries, ...rest } = r
  const items: WalStreamItem[] = [
    { kind: 'header', header: { version: r.version, dir: r.dir, walDir: r.walDir, memberId: r.memberId, clusterId: r.clusterId, hardState: r.hardState, fromSnapshot: r.fromSnapshot, files: r.files } },
    ...entries.map((entry) => ({ kind: 'entry' as const, entry })),
    { kind: 'summary', result: rest },
  ]
  await renderWalStream(items, sink, format)
}

/** Rows per page of the entry table: column widths are measured per page (and only ever grow). */
const TABLE_PAGE = 512
const TABLE_HEAD = ['index', 'term', 'type', 'kind', 'detail'] as const

/**
 * The entry table as the entries come: fixed columns, widths measured over each page of rows and
 * never narrowed, so memory is one page whatever the size of the log (cli-table3 needs every row
 * before it prints one, and its layout grows faster than linearly with rows).
 */
class EntryTable {
  private rows: string[][] = []
  private widths: number[] = TABLE_HEAD.slice(0, 4).map((h) => h.length)
  private started = false
  add(e: WalEntryOut): void {
    this.rows.push([String(e.index), String(e.term), e.type + (e.committed ? '' : ' (uncommitted)') + (e.replaced ? ' (replaced)' : ''), kindOfOut(e), entryDetail(e)])
  }
  get full(): boolean {
    return this.rows.length >= TABLE_PAGE
  }
  /** The page so far as text (the header line before the first page). */
  take(): string {
    if (this.rows.length === 0) return ''
    const w = this.widths
    for (const r of this.rows) for (let i = 0; i < 4; i++) if (r[i]!.length > w[i]!) w[i] = r[i]!.length
    const fmt = (r: readonly string[]) => r[0]!.padStart(w[0]!) + '  ' + r[1]!.padStart(w[1]!) + '  ' + r[2]!.padEnd(w[2]!) + '  ' +
      (r[4] === '' ? r[3]! + '\n' : r[3]!.padEnd(w[3]!) + '  ' + r[4] + '\n')
    let out = this.started ? '' : fmt(TABLE_HEAD)
    this.started = true
    for (const r of this.rows) out += fmt(r)
    this.rows = []
    return out
  }
}

function segmentsTable(segments: WalResult['segments']): string {
  const segs = new Table({ head: ['segment', 'seq', 'size', 'records', 'entries', 'index', 'term', 'end'], style: plain, chars: compact })
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

/**
 * Renders the streamed items in any format as they come; returns the summary result. Memory is
 * flat in every format: ndjson and simple write a line per entry, the table a page of rows at a
 * time, and JSON writes the document incrementally: the members known before the entries
 * (version, dir, walDir, fromSnapshot, files), the entries one compact object per line, then the
 * members known only once the log is read (identity and HardState as the checked reader saw them,
 * segments, snapshots, findings, summary). Writes go out in ~256 KiB batches.
 */
export async function renderWalStream(items: Iterable<WalStreamItem>, sink: Sink, format: OutputFormat = 'ndjson'): Promise<Omit<WalResult, 'entries'> | undefined> {
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
  for (const it of items) {
    if (it.kind === 'entry') {
      const e = it.entry
      if (format === 'ndjson') pending += entryLine(e) + '\n'
      else if (format === 'json') pending += (jsonEntries++ ? ',\n    ' : '\n    ') + entryJson(e)
      else if (format === 'simple') pending += `${e.index} ${e.term} ${e.type} ${kindOfOut(e)}${e.committed ? '' : ' uncommitted'}${e.replaced ? ' replaced' : ''} ${entryDetail(e)}`.trimEnd() + '\n'
      else {
        table!.add(e)
        if (table!.full) pending += table!.take()
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
        if (table) pending += table.take() + segmentsTable(r.segments)
        for (const f of r.findings) pending += findingLine(f) + '\n'
        for (const l of summaryLines(r)) pending += l + '\n'
      }
    }
    if (pending.length >= 256 * 1024) await flush()
  }
  await flush()
  return last
}

const jstr = jsonString

function valueJson(v: FormattedBytes & { type?: string }): string {
  // formatBytes' key order: len, then sha256 + redacted, or text, or hex; valueOut appends type.
  let s = '{"len":' + v.len
  if (v.sha256 !== undefined) s += ',"sha256":' + jstr(v.sha256)
  if (v.text !== undefined) s += ',"text":' + jstr(v.text)
  if (v.hex !== undefined) s += ',"hex":' + jstr(v.hex)
  if (v.redacted !== undefined) s += ',"redacted":' + v.redacted
  if (v.type !== undefined) s += ',"type":' + jstr(v.type)
  return s + '}'
}

const PUT_KEYS = new Set(['kind', 'key', 'keyEncoding', 'value', 'valueClass', 'lease', 'prevKv', 'ignoreValue', 'ignoreLease'])
/** The classes without details, as JSON (the common ones). */
const PLAIN_CLASS: Record<string, string> = { opaque: '{"kind":"opaque"}', text: '{"kind":"text"}', cbor: '{"kind":"cbor"}' }

function classJson(c: ValueClass): string {
  return (Object.keys(c).length === 1 ? PLAIN_CLASS[c.kind] : undefined) ?? toJsonLine(c)
}
const HEADER_KEYS = new Set(['id', 'username', 'authRevision'])

function hasOnly(o: object, keys: Set<string>): boolean {
  for (const k in o) if (!keys.has(k)) return false
  return true
}

function requestJson(r: NonNullable<WalEntryOut['request']>): string {
  if (r.kind !== 'put' || !hasOnly(r, PUT_KEYS) || typeof r.key !== 'string') return toJsonLine(r)
  // presentOp's key order for a put: kind, key, keyEncoding, value, valueClass, lease, prevKv, ignoreValue, ignoreLease.
  let s = '{"kind":"put","key":' + jstr(r.key)
  if (r.keyEncoding !== undefined) s += ',"keyEncoding":' + toJsonLine(r.keyEncoding)
  if (r.value !== undefined) s += ',"value":' + valueJson(r.value as FormattedBytes)
  if (r.valueClass !== undefined) s += ',"valueClass":' + classJson(r.valueClass as ValueClass)
  if (r.lease !== undefined) s += ',"lease":' + toJsonLine(r.lease)
  if (r.prevKv !== undefined) s += ',"prevKv":' + toJsonLine(r.prevKv)
  if (r.ignoreValue !== undefined) s += ',"ignoreValue":' + toJsonLine(r.ignoreValue)
  if (r.ignoreLease !== undefined) s += ',"ignoreLease":' + toJsonLine(r.ignoreLease)
  return s + '}'
}

function headerJson(h: Record<string, unknown>): string {
  if (!hasOnly(h, HEADER_KEYS) || (h.id !== undefined && typeof h.id !== 'string')) return toJsonLine(h)
  // presentEntry's key order: id, username, authRevision.
  let s = ''
  if (h.id !== undefined) s += ',"id":' + jstr(h.id as string)
  if (h.username !== undefined) s += ',"username":' + toJsonLine(h.username)
  if (h.authRevision !== undefined) s += ',"authRevision":' + toJsonLine(h.authRevision)
  return '{' + s.slice(1) + '}'
}

const fileJson = new Map<string, string>()

/** An entry as a member of the JSON document's `entries` (entryLine without the kind). */
export function entryJson(e: WalEntryOut): string {
  return entryLine(e, '{"index":"')
}

/**
 * One `{"kind":"entry",…}` line, byte-identical to toJsonLine of the presented entry (bigints as
 * decimal strings): the fixed fields and put requests are written by hand in presentEntry's key
 * order (about 5x faster than the general serialiser); anything else goes through toJsonLine.
 */
export function entryLine(e: WalEntryOut, head = '{"kind":"entry","index":"'): string {
  let f = fileJson.get(e.file)
  if (f === undefined) {
    f = toJsonLine(e.file)
    if (fileJson.size > 1024) fileJson.clear()
    fileJson.set(e.file, f)
  }
  let s = head + e.index + '","term":"' + e.term + '","type":' + jstr(e.type) + ',"file":' + f +
    ',"offset":' + toJsonLine(e.offset) + ',"dataBytes":' + toJsonLine(e.dataBytes) + (e.committed ? ',"committed":true' : ',"committed":false')
  // presentEntry's key order: replaces, then request (+ header | + unknown) or confChange or confChangeV2; runWal adds replaced.
  if (e.replaces !== undefined) s += ',"replaces":' + toJsonLine(e.replaces)
  if (e.request !== undefined) s += ',"request":' + requestJson(e.request)
  if (e.header !== undefined) s += ',"header":' + headerJson(e.header)
  if (e.confChange !== undefined) s += ',"confChange":' + toJsonLine(e.confChange)
  if (e.confChangeV2 !== undefined) s += ',"confChangeV2":' + toJsonLine(e.confChangeV2)
  if (e.unknown !== undefined) s += ',"unknown":' + toJsonLine(e.unknown)
  if (e.replaced !== undefined) s += ',"replaced":' + toJsonLine(e.replaced)
  return s + '}'
}

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
