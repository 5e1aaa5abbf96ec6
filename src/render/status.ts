/**
 * Renderers of `status` results: JSON is the whole result (docs/status.md); the table is one
 * screen of the same facts; simple is `key: value` lines; ndjson is the result on one line.
 */
import type { StatusResult } from '../app/status-types.js'
import { renderResult, type OutputFormat, type Sink } from './output.js'

export async function renderStatus(r: StatusResult, format: OutputFormat, out: Sink): Promise<void> {
  await renderResult(r, format, out, { simple: (x) => screen(x, true), table: (x) => screen(x, false) })
}

const v = (x: bigint | number | string | null | undefined): string => (x === null || x === undefined ? '-' : String(x))

function screen(r: StatusResult, simple: boolean): string {
  const rows: [string, string][] = []
  const row = (k: string, val: string): void => { rows.push([k, val]) }
  row('data dir', `${r.dataDir} (${r.state})`)
  row('in use', r.inUse.checked ? (r.inUse.held ? `YES: ${r.inUse.locks.map((l) => `${l.lockClass} ${l.file.split('/').slice(-2).join('/')}${l.pid ? ` pid ${l.pid}` : ''}`).join('; ')}` : 'no (no locks in /proc/locks)') : `unknown (${r.inUse.reason ?? 'not checked'})`)
  row('member id', v(r.memberId))
  row('cluster id', v(r.clusterId))
  row('hard state', r.hardState ? `term ${r.hardState.term}, vote ${r.hardState.vote}, commit ${r.hardState.commit}` : '-')
  row('wal index', `first ${v(r.firstIndex)}, last ${v(r.lastIndex)}`)
  row('snapshot (wal)', r.snapshot.wal ? `index ${r.snapshot.wal.index}, term ${r.snapshot.wal.term}` : '-')
  row('snapshot (file)', r.snapshot.file ? `${r.snapshot.file.name} (${r.snapshot.file.status})${r.snapshot.newestUsable ? `; etcd would load ${r.snapshot.newestUsable.name}` : ''}` : `none (${r.snapshot.files} .snap files)`)
  row('db', `consistent index ${v(r.consistentIndex)}, term ${v(r.consistentTerm)}, revision ${v(r.revision)}, compacted ${v(r.compactRevision)}`)
  row('members (db)', r.members.db ? r.members.db.map((m) => `${m.id}${m.name ? ` ${m.name}` : ' (unstarted)'}${m.isLearner ? ' learner' : ''}${m.id === r.memberId ? ' *' : ''}`).join(', ') || '(none)' : '-')
  if (r.members.dbRemoved?.length) row('removed (db)', r.members.dbRemoved.map((m) => m.id).join(', '))
  if (r.members.walConfChanges.length) row('conf changes (wal)', r.members.walConfChanges.map((c) => `${c.type} ${c.nodeId}@${c.index}${c.committed ? '' : ' (uncommitted)'}`).join(', '))
  if (r.members.selfRemovedInWal) row('REMOVED', `this member was removed at index ${r.members.selfRemovedInWal.index}`)
  row('version', `${v(r.version.etcdGuess)}${r.version.decidedBy ? ` (from ${r.version.decidedBy})` : ''}${r.version.storageVersion ? `, storage ${r.version.storageVersion}` : ''}${r.version.clusterVersion ? `, cluster ${r.version.clusterVersion}` : ''}`)
  if (r.version.sources.length > 1) row('version sources', r.version.sources.map((x) => `${x.source} ${x.detail}`).join('; '))
  if (r.members.bySource.length) {
    row('membership', `member: wal / ${r.members.snapSource ? r.members.snapSource.file : '.snap'} / db`)
    for (const m of r.members.bySource) row('', `${m.id}: ${v(m.wal)} / ${v(m.snap)} / ${v(m.db)}`)
  }
  if (r.compatibility) {
    const c = r.compatibility
    row('wal needs', c.walMinVersion ? `etcd >= ${c.walMinVersion.version} (${c.walMinVersion.because}); ${v(c.entriesAfterSnapshot)} entries after the snapshot, ${v(c.v2EntriesAfterSnapshot)} v2 (${v(c.v2DisallowedAfterSnapshot)} refused by 3.6)` : '-')
    for (const x of c.verdicts) row(`etcd ${x.version}`, x.verdict)
  }
  row('sizes', `wal ${r.sizes.walBytes} B in ${r.sizes.walSegments} segment(s), ${r.sizes.snapFiles} .snap ${r.sizes.snapBytes} B, db ${v(r.sizes.dbBytes)} B`)
  row('wal integrity', `${r.integrity.wal.status}: ${r.integrity.wal.detail}`)
  row('db integrity', `${r.integrity.db.status}: ${r.integrity.db.detail}`)
  for (const i of r.integrity.invariants) row(`invariant`, `${i.ok === null ? 'n/a ' : i.ok ? 'ok  ' : 'FAIL'} ${i.name}: ${i.detail}`)
  const width = Math.max(...rows.map(([k]) => k.length))
  const lines = rows.map(([k, val]) => (simple ? `${k}: ${val}` : `${k.padEnd(width)}  ${val}`))
  if (r.findings.length) {
    lines.push(simple ? 'findings:' : '', ...(simple ? [] : ['findings:']))
    for (const f of r.findings) lines.push(`  ${f.severity}: ${f.detail}${f.hint ? ` (${f.hint})` : ''}`)
  }
  return lines.filter((l, i) => !(simple && l === '' && i > 0)).join('\n') + '\n'
}
