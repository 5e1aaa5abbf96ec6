/**
 * Renderers for `replace plan|apply|resume|status|abort`. JSON is the result object itself
 * (the plan JSON is the versioned plan); the table view shows a subset of the same facts.
 */
import { newTable } from './table.js'
import type { Plan } from '../app/replace/model.js'
import type { AbortResult, ApplyResult, StatusResult } from '../app/replace/apply.js'
import { toJson } from './json.js'
import type { OutputFormat } from './output.js'

const table = (head: string[]) => newTable({ head, style: { head: [], border: [] }, wordWrap: true })

/** `next`: the printed `replace apply` line (app/replace/model.ts applyCommand), for table and simple. */
export function renderPlan(p: Plan, fmt: OutputFormat, next?: string): string {
  if (fmt === 'json' || fmt === 'ndjson') return fmt === 'json' ? toJson(p) + '\n' : JSON.stringify(p) + '\n'
  const tail = next ? `next: review the steps, then run them: \`${next}\`${next.includes(' --plan ') ? '' : ' (it plans again from the live cluster; to run exactly this plan, add -o FILE here and apply --plan FILE)'}\n` : ''
  const lines = [
    `replace plan ${p.opId} (version ${p.version}, mode ${p.mode}, reason ${p.reason})`,
    `cluster ${p.cluster.idHex}, leader ${p.cluster.leaderHex}, members: ${p.cluster.members.map((m) => `${m.name || '(unstarted)'}=${m.idHex}${m.isLearner ? ' (learner)' : ''}`).join(', ')}`,
    ...(p.mode === 'surge' ? [`replacement ${p.replacement.name} ${p.replacement.peerURLs.join(',')} (new host; added before the old member is removed)`] : []),
    `target ${p.target.name} ${p.target.idHex} ${p.target.peerURLs.join(',')}${p.target.inMembership ? '' : ' (already removed)'}; data dir ${p.target.dataDir}${p.target.dataDirIdentity ? ` (WAL: member ${p.target.dataDirIdentity.memberIdHex})` : ' (no WAL)'}`,
    `quorum: ${p.quorum.healthyVoters}/${p.quorum.voters} voters healthy; failures tolerated before ${p.quorum.toleranceBefore}, during ${p.quorum.toleranceDuring}, after ${p.quorum.toleranceAfter}`,
    `TLS: ${p.tls.checked ? (p.tls.findings.length ? p.tls.findings.join('; ') : 'server and peer certs OK') : 'not checked (no https URLs)'}`,
    ...p.warnings.map((w) => `warning: ${w}`),
  ]
  if (fmt === 'simple') return lines.join('\n') + '\n' + p.steps.map((s) => `${s.n} ${s.kind}${s.destructive ? ' !' : ''} ${s.title}`).join('\n') + '\n' + tail
  const t = table(['#', 'step', 'destructive', 'actions', 'rollback'])
  for (const s of p.steps) t.push([String(s.n), `${s.kind}\n${s.title}`, s.destructive ? 'yes' : 'no', s.actions.join('\n'), s.rollback])
  const cfg = p.steps.find((s) => s.kind === 'write-config')
  const diff = cfg && cfg.kind === 'write-config' ? `config diff:\n${cfg.diff}` : ''
  return lines.join('\n') + '\n' + t.toString() + '\n' + diff + (diff && !diff.endsWith('\n') ? '\n' : '') + tail
}

export function renderApply(r: ApplyResult, fmt: OutputFormat): string {
  if (fmt === 'json') return toJson(r) + '\n'
  if (fmt === 'ndjson') return r.steps.map((s) => JSON.stringify(s)).join('\n') + '\n'
  const head = `replace ${r.opId}: ${r.status}${r.resumed ? ' (resumed)' : ''} in ${(r.totalMs / 1000).toFixed(1)}s`
  const facts = Object.entries(r.facts).map(([k, v]) => `${k}: ${v}`)
  if (fmt === 'simple') return [head, ...r.steps.map((s) => `${s.n} ${s.kind} ${s.outcome} ${s.ms}ms`), ...facts].join('\n') + '\n'
  const t = table(['#', 'step', 'outcome', 'time'])
  for (const s of r.steps) t.push([String(s.n), s.title, s.outcome, `${(s.ms / 1000).toFixed(2)}s`])
  return [head, t.toString(), ...facts].join('\n') + '\n'
}

export function renderStatus(r: StatusResult, fmt: OutputFormat): string {
  if (fmt === 'json') return toJson(r) + '\n'
  if (fmt === 'ndjson') return r.ops.map((o) => JSON.stringify(o)).join('\n') + '\n'
  const lock = !r.lock ? '' : r.lock.alive
    ? `; locked by pid ${r.lock.pid} (op ${r.lock.opId}, running)`
    : `; stale lock file of pid ${r.lock.pid} (op ${r.lock.opId}): that process is not running`
  const out = [`state dir ${r.stateDir}${lock}`]
  if (r.ops.length === 0) out.push(r.journal ? 'no operations' : `no operations (no journal in ${r.stateDir})`)
  for (const o of r.ops) {
    out.push(`${o.opId}: ${o.status}${o.status !== o.journalStatus ? ` (journal says ${o.journalStatus}; ${o.interruptedBecause})` : ''} (target ${o.target.name} ${o.target.idHex}, updated ${o.updatedAt})`)
    if (o.lastError) out.push(`  last error: ${o.lastError}`)
    if (o.stoppedAt) out.push(`  stopped at step ${o.stoppedAt.n} (${o.stoppedAt.kind}: ${o.stoppedAt.title}): ${o.stoppedAt.state === 'pending' ? 'not started' : o.stoppedAt.state === 'intent' ? 'begun, not finished' : o.stoppedAt.state}`)
    if (o.next) out.push(`  next: ${o.next}`)
    if (fmt === 'simple') continue
    const t = table(['#', 'step', 'state', 'at'])
    for (const s of o.steps) t.push([String(s.n), s.title, s.state, s.at ?? ''])
    out.push(t.toString())
  }
  return out.join('\n') + '\n'
}

export function renderAbort(r: AbortResult, fmt: OutputFormat): string {
  if (fmt === 'json') return toJson(r) + '\n'
  return [`aborted ${r.opId} (was ${r.previousStatus})${r.removedLearner ? `; removed unstarted learner ${r.removedLearner}` : ''}`, ...r.notes].join('\n') + '\n'
}
