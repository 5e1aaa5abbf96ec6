/**
 * Renderers for `etcd-inspect wal` and `wal verify`: table, simple, json, ndjson. JSON is the full
 * result (render/json.ts); table and simple show a subset of the same facts.
 */
import Table from 'cli-table3'
import { toJson, toJsonLine } from './json.js'
import type { Sink, OutputFormat } from './output.js'
import type { VerifyResult, WalEntryOut, WalResult, WalStreamItem } from '../app/wal.js'
import type { WalFinding } from '../format/wal/decoder.js'
import { bytesLabel, type FormattedBytes } from '../format/value.js'

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
    case 'put': return `key=${JSON.stringify(r.key)} value=${bytesLabel(r.value as FormattedBytes)}${r.lease ? ` lease=${r.lease}` : ''}`
    case 'deleteRange':
    case 'range': return `key=${JSON.stringify(r.key)}${r.rangeEnd !== undefined ? ` range_end=${JSON.stringify(r.rangeEnd)}` : ''}`
    case 'txn': {
      const ops = (xs: unknown) => (xs as { kind: string; key?: string }[]).map((o) => `${o.kind}${o.key !== undefined ? ' ' + JSON.stringify(o.key) : ''}`).join(', ')
      const cmps = (r.compare as { key: string; target: string; result: string }[]).map((c) => `${c.target.toLowerCase()}(${JSON.stringify(c.key)}) ${c.result}`).join(', ')
      return `compare[${cmps}] success[${ops(r.success)}] failure[${ops(r.failure)}]`
    }
    case 'v2': return `${r.method} ${r.path}${r.val ? ` ${JSON.stringify(r.val)}` : ''}`
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

/** Renders a full result. */
export async function renderWal(r: WalResult, format: OutputFormat, sink: Sink): Promise<void> {
  if (format === 'json') return void (await sink.write(toJson(r) + '\n'))
  if (format === 'ndjson') {
    for (const e of r.entries) await sink.write(toJsonLine({ kind: 'entry', ...e }) + '\n')
    for (const f of r.findings) await sink.write(toJsonLine({ kind: 'finding', ...f }) + '\n')
    const { entries: _e, ...rest } = r
    return void (await sink.write(toJsonLine({ kind: 'summary', ...rest }) + '\n'))
  }
  if (format === 'simple') {
    for (const e of r.entries) await sink.write(`${e.index} ${e.term} ${e.type} ${kindOfOut(e)}${e.committed ? '' : ' uncommitted'}${e.replaced ? ' replaced' : ''} ${entryDetail(e)}`.trimEnd() + '\n')
    for (const f of r.findings) await sink.write(findingLine(f) + '\n')
    for (const l of summaryLines(r)) await sink.write(l + '\n')
    return
  }
  const segs = new Table({ head: ['segment', 'seq', 'size', 'records', 'entries', 'index', 'term', 'end'], style: plain, chars: compact })
  for (const s of r.segments) {
    segs.push([s.file.split('/').pop()!, String(s.seq ?? ''), String(s.size), String(s.records), String(s.entries),
      s.firstIndex !== undefined ? `${s.firstIndex}..${s.lastIndex}` : '-', s.firstTerm !== undefined ? `${s.firstTerm}..${s.lastTerm}` : '-',
      `${s.end ?? 'not read'}${s.zeroTail ? ` (${s.zeroTailBytes} zero bytes)` : ''}`])
  }
  await sink.write(segs.toString() + '\n')
  if (r.entries.length) {
    const t = new Table({ head: ['index', 'term', 'type', 'kind', 'detail'], style: plain, chars: compact })
    for (const e of r.entries) {
      t.push([String(e.index), String(e.term), e.type + (e.committed ? '' : ' (uncommitted)') + (e.replaced ? ' (replaced)' : ''), kindOfOut(e), entryDetail(e)])
    }
    await sink.write(t.toString() + '\n')
  }
  for (const f of r.findings) await sink.write(findingLine(f) + '\n')
  for (const l of summaryLines(r)) await sink.write(l + '\n')
}

// A JSON string literal as JSON.stringify writes it; strings without quotes, backslashes, control
// characters or surrogates (nearly all keys) are copied as they are.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/
const jstr = (s: string): string => (NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : '"' + s + '"')

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

const PUT_KEYS = new Set(['kind', 'key', 'keyEncoding', 'value', 'lease', 'prevKv', 'ignoreValue', 'ignoreLease'])
const HEADER_KEYS = new Set(['id', 'username', 'authRevision'])

function hasOnly(o: object, keys: Set<string>): boolean {
  for (const k in o) if (!keys.has(k)) return false
  return true
}

function requestJson(r: NonNullable<WalEntryOut['request']>): string {
  if (r.kind !== 'put' || !hasOnly(r, PUT_KEYS) || typeof r.key !== 'string') return JSON.stringify(r)
  // presentOp's key order for a put: kind, key, keyEncoding, value, lease, prevKv, ignoreValue, ignoreLease.
  let s = '{"kind":"put","key":' + jstr(r.key)
  if (r.keyEncoding !== undefined) s += ',"keyEncoding":' + JSON.stringify(r.keyEncoding)
  if (r.value !== undefined) s += ',"value":' + valueJson(r.value as FormattedBytes)
  if (r.lease !== undefined) s += ',"lease":' + JSON.stringify(r.lease)
  if (r.prevKv !== undefined) s += ',"prevKv":' + JSON.stringify(r.prevKv)
  if (r.ignoreValue !== undefined) s += ',"ignoreValue":' + JSON.stringify(r.ignoreValue)
  if (r.ignoreLease !== undefined) s += ',"ignoreLease":' + JSON.stringify(r.ignoreLease)
  return s + '}'
}

function headerJson(h: Record<string, unknown>): string {
  if (!hasOnly(h, HEADER_KEYS) || (h.id !== undefined && typeof h.id !== 'string')) return JSON.stringify(h)
  // presentEntry's key order: id, username, authRevision.
  let s = ''
  if (h.id !== undefined) s += ',"id":' + jstr(h.id as string)
  if (h.username !== undefined) s += ',"username":' + JSON.stringify(h.username)
  if (h.authRevision !== undefined) s += ',"authRevision":' + JSON.stringify(h.authRevision)
  return '{' + s.slice(1) + '}'
}

const fileJson = new Map<string, string>()

/**
 * One `{"kind":"entry",…}` line, byte-identical to JSON.stringify of the presented entry (bigints
 * as decimal strings): the fixed fields and put requests are written by hand in presentEntry's key
 * order (about 5x faster than JSON.stringify with a bigint toJSON); anything else goes through
 * JSON.stringify. Call only while BigInt.prototype.toJSON is installed (renderWalStream).
 */
export function entryLine(e: WalEntryOut): string {
  let f = fileJson.get(e.file)
  if (f === undefined) {
    f = JSON.stringify(e.file)
    if (fileJson.size > 1024) fileJson.clear()
    fileJson.set(e.file, f)
  }
  let s = '{"kind":"entry","index":"' + e.index + '","term":"' + e.term + '","type":' + jstr(e.type) + ',"file":' + f +
    ',"offset":' + JSON.stringify(e.offset) + ',"dataBytes":' + JSON.stringify(e.dataBytes) + ',"committed":' + JSON.stringify(e.committed)
  // presentEntry's key order: replaces, then request (+ header | + unknown) or confChange or confChangeV2; runWal adds replaced.
  if (e.replaces !== undefined) s += ',"replaces":' + JSON.stringify(e.replaces)
  if (e.request !== undefined) s += ',"request":' + requestJson(e.request)
  if (e.header !== undefined) s += ',"header":' + headerJson(e.header)
  if (e.confChange !== undefined) s += ',"confChange":' + JSON.stringify(e.confChange)
  if (e.confChangeV2 !== undefined) s += ',"confChangeV2":' + JSON.stringify(e.confChangeV2)
  if (e.unknown !== undefined) s += ',"unknown":' + JSON.stringify(e.unknown)
  if (e.replaced !== undefined) s += ',"replaced":' + JSON.stringify(e.replaced)
  return s + '}'
}

/** Streams ndjson: one line per entry and finding, then one summary line; writes in ~256 KiB batches. */
export async function renderWalStream(items: Iterable<WalStreamItem>, sink: Sink): Promise<Omit<WalResult, 'entries'> | undefined> {
  let last: Omit<WalResult, 'entries'> | undefined
  let pending = ''
  const flush = async () => {
    if (pending.length === 0) return
    const p = sink.write(pending)
    pending = ''
    if (p) await p
  }
  // Hot path: JSON.stringify without a replacer is about 2x faster than with one (measured in
  // bench/wal.mjs); bigints serialise through a toJSON installed only while this loop runs.
  // Presented entries hold no Uint8Array (presentEntry formats every byte string).
  const proto = BigInt.prototype as unknown as { toJSON?: () => string }
  const saved = Object.getOwnPropertyDescriptor(proto, 'toJSON')
  proto.toJSON = function (this: bigint) { return this.toString() }
  try {
    for (const it of items) {
      if (it.kind === 'entry') {
        pending += entryLine(it.entry) + '\n'
      } else if (it.kind === 'finding') pending += toJsonLine({ kind: 'finding', ...it.finding }) + '\n'
    else if (it.kind === 'summary') {
      last = it.result
      pending += toJsonLine({ kind: 'summary', ...it.result }) + '\n'
    }
      if (pending.length >= 256 * 1024) await flush()
    }
  } finally {
    if (saved) Object.defineProperty(proto, 'toJSON', saved)
    else delete proto.toJSON
  }
  await flush()
  return last
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
