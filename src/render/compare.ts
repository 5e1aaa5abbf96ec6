/**
 * Renderers of `compare` results: JSON is the whole result (docs/compare.md); the table is one
 * row per member and the verdict, the divergence and the restore plan below; simple is
 * `key: value` lines; ndjson is one line per member, then the verdict line.
 */
import { newTable } from './table.js'
import type { CompareMember, CompareResult } from '../app/compare.js'
import { bytesLabel } from '../format/value.js'
import { renderResult, type OutputFormat, type Sink } from './output.js'

export async function renderCompare(r: CompareResult, format: OutputFormat, out: Sink): Promise<void> {
  await renderResult(r, format, out, {
    ndjson: (x) => [...x.members.map((m) => ({ kind: 'member', ...m })), { kind: 'verdict', verdict: x.verdict, reasons: x.reasons, clusterId: x.clusterId, hash: x.hash, restore: x.restore }],
    simple: (x) => text(x, true),
    table: (x) => text(x, false),
  })
}

const v = (x: bigint | number | string | null | undefined): string => (x === null || x === undefined || x === '' ? '-' : String(x))
const hex8 = (h: number | null): string => (h === null ? '-' : h.toString(16).padStart(8, '0'))

function state(m: CompareMember): string {
  // A db without a WAL is still hashed and compared (app/compare.ts): its role, then its state.
  if (m.role === 'no-wal' && m.state !== 'not-compared') return `NO-WAL, ${memberState(m)}`
  if (m.role !== 'member') return m.role.toUpperCase()
  return memberState(m)
}

function memberState(m: CompareMember): string {
  if (m.state === 'behind' && m.lacks) return `behind (lacks ${m.lacks.from}..${m.lacks.to})`
  if (m.state === 'diverged') return `DIVERGED${m.divergence?.firstRevision != null ? ` at ${m.divergence.firstRevision}` : ''}`
  return m.state
}

function membership(m: CompareMember): string {
  if (!m.members) return '-'
  return m.members.map((p) => `${p.name || p.id}${p.isLearner ? '(learner)' : ''}`).join(',') + (m.removedMembers?.length ? ` -${m.removedMembers.length} removed` : '')
}

function text(r: CompareResult, simple: boolean): string {
  const lines: string[] = []
  if (simple) {
    for (const m of r.members) {
      lines.push(`member: ${m.dataDir}`)
      const kv: [string, string][] = [
        ['state', state(m)], ['role detail', v(m.roleDetail)], ['member id', v(m.memberId)], ['cluster id', v(m.clusterId)], ['name', v(m.name)],
        ['hard state', m.hardState ? `term ${m.hardState.term} commit ${m.hardState.commit}` : '-'], ['last wal entry', `${v(m.lastIndex)} term ${v(m.lastTerm)}`],
        ['consistent index', v(m.consistentIndex)], ['revision', v(m.revision)], ['compact revision', v(m.compactRevision)],
        ['members', membership(m)], ['etcd version', v(m.etcdVersion)], ['hash', `${hex8(m.hash)}${m.hashNote ? ` (${m.hashNote})` : ''}`],
      ]
      if (m.live) kv.push(['live', m.live.error ? `error: ${m.live.error}` : `${m.live.endpoint} revision ${m.live.revision} raft ${m.live.raftIndex}/${m.live.raftAppliedIndex} hashkv ${hex8(m.live.hash)}`])
      for (const [k, val] of kv) lines.push(`  ${k}: ${val}`)
    }
  } else {
    const t = newTable({
      head: ['data dir', 'state', 'member', 'cluster', 'name', 'term/commit', 'last idx/term', 'cons. idx', 'rev', 'compact', 'members', 'version', `hash@${v(r.hash.revision)}`],
      style: { head: [], border: [] },
    })
    for (const m of r.members) {
      t.push([m.dataDir, state(m), v(m.memberId), v(m.clusterId), v(m.name), m.hardState ? `${m.hardState.term}/${m.hardState.commit}` : '-',
        `${v(m.lastIndex)}/${v(m.lastTerm)}`, v(m.consistentIndex), v(m.revision), v(m.compactRevision), membership(m), v(m.etcdVersion), hex8(m.hash)])
    }
    lines.push(t.toString())
    if (r.live.length) {
      const lt = newTable({ head: ['endpoint', 'member', 'revision', 'raft index', 'applied', 'term', 'version', 'hashkv', 'error'], style: { head: [], border: [] } })
      for (const l of r.live) lt.push([l.endpoint, v(l.memberId), v(l.revision), v(l.raftIndex), v(l.raftAppliedIndex), v(l.raftTerm), v(l.version), hex8(l.hash), v(l.error)])
      lines.push('live:', lt.toString())
    }
  }
  lines.push(`verdict: ${r.verdict}`)
  for (const x of r.reasons) lines.push(`  ${x}`)
  lines.push(`hash revision: ${v(r.hash.revision)} (${r.hash.note})${r.hash.agree === null ? '' : r.hash.agree ? ': all agree' : ': they differ'}`)
  for (const m of r.members) {
    if (m.hashNote && (m.role === 'member' || m.role === 'no-wal')) lines.push(`  ${m.dataDir}: ${m.hashNote}`)
    const d = m.divergence
    if (!d) continue
    lines.push(`divergence of ${m.dataDir} from ${d.against}: ${d.detail}`)
    for (const k of d.keys) {
      lines.push(`  key ${bytesLabel(k.key)}: ${k.members.map((x) => `${x.dataDir}: ${x.modRevision === null ? 'absent' : x.deleted ? `deleted at ${x.modRevision}` : `mod ${x.modRevision} ${x.value ? bytesLabel(x.value) : ''}`}`).join('; ')}`)
    }
  }
  if (r.restore) {
    const p = r.restore
    lines.push(`restore from: ${p.source} (${p.name}, ${p.memberId})`)
    for (const x of p.reasons) lines.push(`  because ${x}`)
    for (const w of p.warnings) lines.push(`  warning: ${w}`)
    for (const l of p.losses) lines.push(`  ${l.dataDir} would lose ${l.lose}`)
    lines.push('commands:')
    for (const c of p.commands) lines.push(`  # ${c.note}`, `  ${c.cmd}`)
  }
  return lines.join('\n') + '\n'
}
