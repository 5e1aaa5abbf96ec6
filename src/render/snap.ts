/**
 * Renderers of `snap` results. JSON is the whole result (the contract in docs/snap.md); table and
 * simple show a subset of the same facts; ndjson streams one line per `.snap` file, then one
 * `{"type":"summary",...}` line with the cadence and WAL view.
 */
import { newTable } from './table.js'
import { describeSnapshotCountDefaults } from '../format/snap/snapshot-count.js'
import type { SnapResult } from '../app/snap.js'
import { renderResult, type OutputFormat, type Sink } from './output.js'

const plain = { head: [] as string[], border: [] as string[] }

export async function renderSnap(r: SnapResult, format: OutputFormat, out: Sink): Promise<void> {
  await renderResult(r, format, out, { ndjson, simple, table })
}

function* ndjson(r: SnapResult): Iterable<unknown> {
  for (const s of r.snapshots) yield { type: 'snapshot', ...s }
  yield {
    type: 'summary', path: r.path, snapDir: r.snapDir, broken: r.broken, snapDbs: r.snapDbs, dbTmp: r.dbTmp, db: r.db,
    other: r.other, cadence: r.cadence, wal: r.wal, findings: r.findings,
  }
}

function simple(r: SnapResult): string {
  const lines: string[] = []
  for (const s of r.snapshots) {
    lines.push([s.file, s.status, s.term ?? '-', s.index ?? '-', s.crc, s.walRecord].join(', '))
  }
  for (const b of r.broken) lines.push(`${b.file}, broken`)
  for (const d of r.snapDbs) lines.push(`${d.file}, snap-db, index ${d.index}`)
  for (const t of r.dbTmp) lines.push(`${t.file}, db-tmp`)
  lines.push(`next snapshot at, ${r.cadence.nextSnapshotAt}`)
  lines.push(`newest usable, ${r.wal.newestUsable?.file ?? '-'}`)
  lines.push(`wal covers, ${r.wal.coverage.covered ?? 'unknown'}`)
  return lines.join('\n') + '\n'
}

function table(r: SnapResult): string {
  const parts: string[] = []
  parts.push(`snap dir: ${r.snapDir ?? '(none)'}`)
  if (r.snapshots.length === 0) {
    parts.push('no .snap files')
  } else {
    const t = newTable({ head: ['FILE', 'STATUS', 'TERM', 'INDEX', 'CRC', 'SIZE', 'VOTERS', 'LEARNERS', 'V2 MEMBERS', 'V2 KEYS', 'WAL RECORD'], style: plain })
    for (const s of r.snapshots) {
      t.push([
        s.file, s.status, String(s.term ?? '-'), String(s.index ?? '-'), s.crc, String(s.size),
        s.confState?.voters.join(',') ?? '-', s.confState?.learners.join(',') || '-',
        s.v2store ? String(s.v2store.members.length) : '-', s.v2store?.v2Keys ?? '-', s.walRecord,
      ])
    }
    parts.push(t.toString())
  }
  const others: string[] = []
  for (const b of r.broken) others.push(`  ${b.file}  broken  ${b.size} B`)
  for (const d of r.snapDbs) others.push(`  ${d.file}  leader-sent db at index ${d.index}  ${d.size} B`)
  for (const d of r.dbTmp) others.push(`  ${d.file}  defrag leftover  ${d.size} B`)
  if (r.db) others.push(`  ${r.db.file}  bbolt backend  ${r.db.size} B`)
  for (const o of r.other) others.push(`  ${o.file}  unexpected  ${o.size} B`)
  if (others.length) parts.push('other files:\n' + others.join('\n'))

  const c = r.cadence
  const cad = [
    `cadence: --snapshot-count ${c.snapshotCount} (${c.snapshotCountSource === 'flag' ? 'given' : c.snapshotCountSource === 'version' ? `etcd ${c.snapshotCountVersion}'s default (from the .snap v2 store /0/version)` : `version unknown: etcd 3.4/3.5's default assumed; defaults: ${describeSnapshotCountDefaults()}`})`,
  ]
  if (c.observedDistance !== null) cad.push(`  observed: snapshots every ${c.observedDistance} entries (median of ${c.points.length - 1} distance(s))`)
  if (c.points.length) {
    cad.push('  ' + c.points.map((p) => `${p.index}${p.distance !== null ? ` (+${p.distance})` : ''}[${p.sources.join('+')}]`).join('  '))
  }
  if (c.minDistance !== null) cad.push(`  distance min ${c.minDistance} max ${c.maxDistance}; expected >= ${c.expectedDistance}; consistent: ${c.consistentWithCount}`)
  cad.push(`  next snapshot at index ${c.nextSnapshotAt}${c.entriesUntilNext !== null ? ` (${c.entriesUntilNext > 0n ? `${c.entriesUntilNext} entries after the last entry ${c.lastIndex}` : `due: last entry is ${c.lastIndex}`})` : ''}`)
  parts.push(cad.join('\n'))

  const w = r.wal
  const wl = [`wal: ${w.read ? `commit ${w.commit ?? '?'}, ${w.records.length} snapshot record(s), ${w.recordsWithoutFile} without a .snap` : w.detail}`]
  for (const rec of w.records) wl.push(`  record index ${rec.index} term ${rec.term}${rec.file ? ` -> ${rec.file}` : ''}${rec.valid === false ? ' (beyond commit)' : ''}`)
  wl.push(`  newest usable: ${w.newestUsableDetail}`)
  wl.push(`  coverage: ${w.coverage.covered === null ? 'unknown' : w.coverage.covered ? 'yes' : 'NO'} - ${w.coverage.detail}`)
  parts.push(wl.join('\n'))

  if (r.findings.length) parts.push('findings:\n' + r.findings.map((f) => `  ${f.severity}: ${f.detail}${f.hint ? ` (${f.hint})` : ''}`).join('\n'))
  return parts.join('\n\n') + '\n'
}
