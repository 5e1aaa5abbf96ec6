/**
 * Renderer of `db space`: JSON is the full result; ndjson one line per prefix; table a summary,
 * the prefixes (top 20 by bytes), the largest and most-revised keys, pages and the forecast.
 */
import { newTable } from './table.js'
import type { DbSpaceResult, TopKeyRow } from '../app/db-space.js'
import { bytesLabel } from '../format/value.js'
import { toJson, toJsonLine } from './json.js'
import type { OutputFormat } from './output.js'

/** Human size: 1.2 MiB. */
export function size(n: number): string {
  const neg = n < 0
  let v = Math.abs(n)
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let u = 0
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++ }
  return `${neg ? '-' : ''}${u === 0 ? v : v.toFixed(1)} ${units[u]}`
}

const table = (head: string[]) => newTable({ head, style: { head: [], border: [] } })
/** Keys longer than this are cut in the table (JSON has them whole). */
const KEY_WIDTH = 50
const cut = (s: string, n = KEY_WIDTH): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s)
const TABLE_PREFIXES = 20

function topTable(title: string, rows: TopKeyRow[]): string {
  if (rows.length === 0) return ''
  const t = table([title, 'revs', 'bytes', 'latest', 'deleted'])
  for (const r of rows) t.push([cut(bytesLabel(r.key)) + (r.truncated ? '…' : ''), r.revisions, size(r.bytes), size(r.latestBytes), r.deleted ? 'yes' : ''])
  return t.toString() + '\n'
}

export function renderDbSpace(r: DbSpaceResult, w: OutputFormat): string {
  if (w === 'json') return toJson(r) + '\n'
  if (w === 'ndjson') return r.prefixes.map((p) => toJsonLine(p)).join('\n') + (r.prefixes.length ? '\n' : '')
  const f = r.forecast
  if (w === 'simple') {
    return r.prefixes.map((p) => `${p.prefix}\t${p.keys}\t${p.bytes}\t${p.liveBytes}\t${p.historyBytes}\t${p.tombstoneBytes}`).join('\n') +
      (r.prefixes.length ? '\n' : '') + `forecast\t${f.atRevision}\t${f.bytes}\t${f.reclaimBytes}\n`
  }
  const out: string[] = []
  // Bytes per category; revision counts are in JSON/ndjson. About 100 columns wide.
  const t = table(['prefix', 'keys', 'revs', 'live', 'history', 'tombs', 'compacted'])
  for (const p of r.prefixes.slice(0, TABLE_PREFIXES)) {
    t.push([cut(p.prefix || '(no /)', 30), p.keys, p.revisions, size(p.liveBytes), size(p.historyBytes), size(p.tombstoneBytes), size(p.keptBytes)])
  }
  const s = r.totals
  t.push(['TOTAL', s.keys, s.revisions, size(s.liveBytes), size(s.historyBytes), size(s.tombstoneBytes), size(s.keptBytes)])
  out.push(t.toString() + '\n')
  if (r.prefixes.length > TABLE_PREFIXES) out.push(`(${r.prefixes.length - TABLE_PREFIXES} more prefixes: -w json or -w ndjson lists them all)\n`)
  if (r.prefixesCapped) out.push('note: more than 10000 prefixes; the rest are counted under (other)\n')
  out.push(topTable('largest keys', r.largestKeys))
  out.push(topTable('most revisions', r.mostRevisions))
  const pg = r.pages
  const rows: [string, string][] = [
    ['revision / compacted at', `${r.revision} / ${r.compactRevision}`],
    ['data size (etcd dbSize)', `${size(r.dataSize)} (${pg.total} pages of ${pg.pageSize})`],
    ['free pages', `${pg.free} (${size(pg.freeBytes)}); freelist ${pg.freelistPersisted ? `persisted, ${pg.freelistPages} page(s)` : 'not persisted'}`],
    ['in use (etcd dbSizeInUse)', size(r.sizeInUse)],
    [`after compact ${f.atRevision} + defrag`, `${size(f.bytes)} (${f.pages} pages), frees ${size(f.reclaimBytes)}; ${f.removedRevisions} of ${s.revisions} revisions removed`],
  ]
  if (r.quota) {
    rows.push(['quota-backend-bytes', `${size(r.quota.quotaBackendBytes)}: ${r.quota.usedPercent} % used, room ${size(r.quota.room)}; after compact + defrag ${size(r.quota.roomAfterForecast)}`])
  }
  const kv = newTable({ style: { head: [], border: [] } })
  for (const [k, v] of rows) kv.push({ [k]: v })
  out.push(kv.toString() + '\n')
  return out.join('')
}
