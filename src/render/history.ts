/**
 * Renderers of `history` and `db get … --rev`: JSON is the full result; ndjson one line per event;
 * table one row per event (revision, what, WAL index/term, request, value class and digest).
 */
import { newTable } from './table.js'
import type { GetAtRevisionResult, HistoryEvent, HistoryResult } from '../app/history.js'
import type { IndexResult } from '../app/index.js'
import { bytesLabel } from '../format/value.js'
import { toJson, toJsonLine } from './json.js'
import type { OutputFormat } from './output.js'

const cut = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s)

function what(e: HistoryEvent): string {
  const r = e.revision
  if (r?.tombstone) return 'delete'
  if (r) return `${r.version === 1n ? 'create' : `update v${r.version}`}${r.lease !== '0' ? ` lease ${r.lease}` : ''}`
  return e.wal!.op === 'put' ? 'put' : 'delete'
}

function request(e: HistoryEvent): string {
  const w = e.wal
  if (!w) return ''
  const txn = w.txn ? `txn ${w.txn.branch}[${w.txn.op}]` : w.request
  // The request ID is in JSON; the table keeps to what fits.
  return [txn, w.username ? `user ${w.username}` : ''].filter(Boolean).join(' ')
}

function valueCell(e: HistoryEvent): string {
  const r = e.revision
  if (r && !r.tombstone) return r.value.redacted ? `${cut(r.valueClass, 14)} ${r.valueSha256}` : cut(bytesLabel(r.value), 30)
  if (!r && e.wal?.value) return e.wal.value.redacted ? e.wal.valueSha256! : cut(bytesLabel(e.wal.value), 30)
  return ''
}

export function renderHistory(r: HistoryResult, w: OutputFormat): string {
  if (w === 'json') return toJson(r) + '\n'
  if (w === 'ndjson') return r.events.map((e) => toJsonLine(e)).join('\n') + (r.events.length ? '\n' : '')
  const multi = r.prefix
  if (w === 'simple') {
    return r.events.map((e) => [multi ? bytesLabel(e.key) : '', e.revision?.revision ?? '-', what(e), e.wal ? `${e.wal.index}/${e.wal.term}` : '-', request(e) || '-', valueCell(e) || '-', e.note ?? '']
      .filter((x, i) => multi || i > 0).join('\t')).join('\n') + (r.events.length ? '\n' : '')
  }
  const head = [...(multi ? ['key'] : []), 'revision', 'what', 'wal index/term', 'request', 'value (class sha256)']
  const t = newTable({ head, style: { head: [], border: [] } })
  for (const e of r.events) {
    const rv = e.revision
    t.push([...(multi ? [cut(bytesLabel(e.key), 24)] : []), rv?.revision ?? '-', cut(what(e), 30), e.wal ? `${e.wal.index}/${e.wal.term}` : '-', cut(request(e), 30),
      valueCell(e) || (e.note ? cut(e.note, 30) : '')])
  }
  const lines = [
    `${bytesLabel(r.key)}${r.prefix ? ' (prefix)' : ''}: ${r.events.filter((e) => e.revision).length} revisions in the db (revision ${r.revision}, compacted at ${r.compactRevision}, from ${r.source})` +
    (r.wal ? `; WAL ${r.wal.firstIndex ?? '?'}..${r.wal.lastIndex ?? '?'} (snapshot at ${r.wal.snapshotIndex}): ${r.wal.requests} requests (from ${r.wal.source})` : ''),
    ...r.notes.map((n) => `note: ${n}`),
  ]
  return t.toString() + '\n' + lines.join('\n') + '\n'
}

export function renderGetAtRevision(r: GetAtRevisionResult, w: OutputFormat): string {
  if (w === 'json') return toJson(r) + '\n'
  if (w === 'ndjson') return toJsonLine(r) + '\n'
  if (!r.kv) return w === 'simple' ? '' : `${bytesLabel(r.key)}: no value at revision ${r.atRevision} (db at ${r.revision})\n`
  const kv = r.kv
  if (w === 'simple') return `${bytesLabel(kv.key)}\n${kv.value.redacted ? `<redacted len:${kv.value.len} sha256:${kv.valueSha256}>` : bytesLabel(kv.value)}\n`
  const t = newTable({ style: { head: [], border: [] } })
  const rows: [string, string][] = [['key', bytesLabel(kv.key)], ['at revision', `${r.atRevision} (db at ${r.revision})`], ['create revision', String(kv.createRevision)],
    ['mod revision', String(kv.modRevision)], ['version', String(kv.version)], ['lease', kv.lease], ['value class', kv.valueClass], ['value', cut(bytesLabel(kv.value), 80)]]
  for (const [k, v] of rows) t.push({ [k]: v })
  return t.toString() + '\n'
}

export function renderIndex(r: IndexResult, w: OutputFormat): string {
  if (w === 'json') return toJson(r) + '\n'
  if (w === 'ndjson') return toJsonLine(r) + '\n'
  const wal = r.wal ? `; WAL: ${r.wal.requests} key requests, ${r.wal.ranges} range deletes in ${r.wal.segments.length} segments` : `; WAL: not indexed${r.walSkipped ? ` (${r.walSkipped})` : ''}`
  const problems = (r.wal?.problems ?? []).map((p) => `${p.severity}: ${p.file}@${p.offset}: ${p.code}: ${p.detail}${p.hint ? ` (${p.hint})` : ''}`)
  const end = r.wal?.end === 'corrupt' ? ['WAL corrupt: indexed up to the damage only; requests after it are not in the index'] : []
  return [`${r.reused ? 'index current' : `index built (${r.reason})`}: ${r.indexPath}: ${r.keys} keys, ${r.revisions} revisions${wal}; ${r.seconds} s`, ...end, ...problems].join('\n') + '\n'
}
