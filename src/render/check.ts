/**
 * Renderers of `check` results: `json` (the stable contract: verdict, exitCode, reason, next,
 * evidence, ...), `table` (a human summary of the same facts), `simple` (one line), `ndjson`
 * (one line of JSON), and the `--pre-start` line for systemd (quiet on exit 0).
 */
import { newTable } from './table.js'
import type { CheckResult } from '../app/check.js'
import { renderResult, type OutputFormat, type Sink } from './output.js'

/** One line: `VERDICT[/SUB] (exit N): reason; next: step`. */
export function checkLine(r: CheckResult): string {
  return `${r.verdict}${r.subReason ? `/${r.subReason}` : ''} (exit ${r.exitCode}): ${r.reason}; next: ${r.next}`
}

/** The `--pre-start` output: nothing for an exit-0 verdict, else one line for stderr. */
export function preStartLine(r: CheckResult, exitCode: number): string | null {
  if (exitCode === 0 && r.exitCode === 0) return null
  return `etcd-inspect check: ${checkLine(r)}${r.commands.length ? ` [${r.commands[0]}${r.commands.length > 1 ? ' …' : ''}]` : ''}`
}

/**
 * The table for a human. What an operator must copy is never cut: the commands are printed below
 * it, one per line, unboxed; long values inside wrap (never truncate) and endpoints are values,
 * not labels (a label column is narrow).
 */
function table(r: CheckResult): string {
  const t = newTable({ style: { head: [], border: [] }, wordWrap: true, wrapOnWordBoundary: false, colWidths: [22, 90] })
  const e = r.evidence
  const l = e.local
  t.push(
    ['verdict', `${r.verdict}${r.subReason ? ` (${r.subReason})` : ''}, exit ${r.exitCode}${r.wouldBe ? `; evidence pointed at ${r.wouldBe}` : ''}`],
    ['reason', r.reason],
    ['next', r.next],
  )
  t.push(
    ['data dir', `${e.dataDir} (${e.state})`],
    ['member / cluster', `${l.memberId ?? '-'} / ${l.clusterId ?? '-'}`],
    ['hard state', l.hardState ? `term ${l.hardState.term}, vote ${l.hardState.vote}, commit ${l.hardState.commit}` : '-'],
    ['last index / snapshot', `${l.lastIndex ?? '-'} / ${l.snapshotIndex ?? '-'} (consistent index ${l.consistentIndex ?? '-'}, revision ${l.revision ?? '-'})`],
  )
  if (e.cluster) {
    t.push(
      ['live cluster', `${e.cluster.clusterId}: ${e.cluster.answeredVoters.length} of ${e.cluster.voters} voters answered (quorum ${e.cluster.quorum}), leader ${e.cluster.leader}, raft index ${e.cluster.raftIndex}, term ${e.cluster.raftTerm}`],
      ['member by ID', e.memberById ? `${e.memberById.id} ${e.memberById.name || '(unstarted)'} ${e.memberById.peerURLs.join(',')}${e.memberById.isLearner ? ' learner' : ''}` : '-'],
      ['member by peer URL', e.memberByPeerUrl.map((m) => `${m.id} ${m.name || '(unstarted)'} ${m.peerURLs.join(',')}`).join('; ') || '-'],
      ['leader match', e.leaderMatch === null ? '-' : String(e.leaderMatch)],
    )
    if (e.behind !== null) t.push(['behind', `${e.behind} entries`])
  }
  if (e.witness) t.push(['witness', `${e.witness.ts}: commit ${e.witness.lastSeenCommit}, term ${e.witness.lastSeenTerm}`])
  for (const a of e.endpoints) t.push([a.discovered ? 'endpoint (found)' : 'endpoint', `${a.endpoint}: ${a.ok ? `member ${a.memberId} of ${a.clusterId}` : `error: ${a.error}`}`])
  if (r.witnessFile.written) t.push(['witness written', r.witnessFile.path ?? ''])
  for (const w of r.warnings) t.push(['warning', w])
  const cmds = r.commands.length ? `commands (run as printed):\n${r.commands.map((c) => `  ${c}`).join('\n')}\n` : ''
  return t.toString() + '\n' + cmds
}

export async function renderCheck(r: CheckResult, format: OutputFormat, out: Sink): Promise<void> {
  await renderResult(r, format, out, { simple: (x) => checkLine(x) + '\n', table })
}
