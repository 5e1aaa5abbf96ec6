/**
 * The pre-restart verdict (RECOVERY.md §4): offline evidence of the data dir (collectStatus) +
 * the quorum-backed live cluster view + the leader's progress + the witness → one verdict, first
 * match wins, with its reason, next step, commands and the raw evidence. Pure: no I/O.
 */
import { FALLBACK_SNAPSHOT_COUNT } from '../format/snap/snapshot-count.js'
import type { StatusResult } from './status-types.js'
import type { ClusterView, ClusterGroup } from '../cluster/view.js'
import type { RaftStatus } from '../cluster/debug-vars.js'
import type { PeerProbe } from '../cluster/peer-probe.js'
import { findById, findByPeerUrl, sameUrlSet, type Member } from '../cluster/members.js'
import type { Witness } from '../io/witness.js'
import { idFromHex, idHex } from '../format/ids.js'
import { shellQuote } from './shell.js'

/** Verdict names and their exit codes (RECOVERY.md §4; README "Exit codes"). */
export const VerdictExit = {
  OK: 0,
  EMPTY_READY_TO_JOIN: 0,
  LEARNER_PENDING: 0,
  BEHIND_NEEDS_SNAPSHOT: 1,
  IN_USE: 10,
  EMPTY_NOT_ADDED: 11,
  CONFIG_DRIFT: 12,
  CORRUPT: 20,
  DATA_LOST: 21,
  FOREIGN_CLUSTER: 22,
  REMOVED_MEMBER: 23,
  IDENTITY_MISMATCH: 24,
  ROLLED_BACK: 25,
  DIVERGED: 26,
  UNKNOWN: 30,
} as const
export type Verdict = keyof typeof VerdictExit
export const Verdicts = Object.keys(VerdictExit) as Verdict[]

/** Verdicts whose next step archives or replaces data: they need an unambiguous quorum. */
export const DESTRUCTIVE: ReadonlySet<Verdict> = new Set<Verdict>(['DATA_LOST', 'FOREIGN_CLUSTER', 'REMOVED_MEMBER', 'ROLLED_BACK', 'DIVERGED'])

/** etcd 3.4's default --snapshot-count and the entries the leader keeps after a snapshot. */
export const DEFAULT_SNAPSHOT_COUNT = FALLBACK_SNAPSHOT_COUNT
export const SNAPSHOT_CATCH_UP_ENTRIES = 5_000n

/** What the operator told us about the member's configuration. */
export interface CheckConfig {
  dataDir: string
  /** --name (ETCD_NAME). */
  name?: string
  /** --initial-advertise-peer-urls (ETCD_INITIAL_ADVERTISE_PEER_URLS). */
  peerURLs?: string[]
  /** --initial-cluster-state (ETCD_INITIAL_CLUSTER_STATE). */
  initialClusterState?: 'new' | 'existing'
  /** --snapshot-count of the cluster (for BEHIND_NEEDS_SNAPSHOT). */
  snapshotCount: bigint
  /** `etcdctl` with the connection flags, for the printed commands. */
  etcdctl: string
  /** The connection flags as text, for the printed `etcd-inspect replace` command. */
  connectionFlags: string
  /**
   * The flags `replace plan` needs besides the connection (`--config`, `--systemd-unit`, and
   * `--state-dir` when given), so the printed command runs as printed.
   */
  replaceFlags?: string
}

export interface DecideInput {
  offline: StatusResult
  view: ClusterView
  /** raft.status from the leader's /debug/vars (null: not fetched or not available). */
  leaderProgress: RaftStatus | null
  witness: Witness | null
  /** Peer stream probe for a member ID absent from the list (410 confirms the removal). */
  peerProbe?: PeerProbe | null
  config: CheckConfig
}

export interface MemberEvidence {
  id: string
  name: string
  peerURLs: string[]
  clientURLs: string[]
  isLearner: boolean
  started: boolean
}

export interface CheckEvidence {
  dataDir: string
  state: StatusResult['state']
  local: {
    memberId: string | null
    clusterId: string | null
    hardState: StatusResult['hardState']
    lastIndex: bigint | null
    snapshotIndex: bigint | null
    consistentIndex: bigint | null
    revision: bigint | null
    dbBytes: number | null
    integrityOk: boolean
    inUse: boolean
    selfRemovedInDb: boolean | null
    selfRemovedInWal: boolean
  }
  cluster: {
    clusterId: string
    voters: number
    quorum: number
    answeredVoters: string[]
    leader: string
    raftIndex: bigint
    raftTerm: bigint
    /** The leader's db size: what a snapshot transfer would send. */
    leaderDbSize: bigint | null
    members: MemberEvidence[]
  } | null
  /** The member with the data dir's ID in the live membership. */
  memberById: MemberEvidence | null
  /** Members owning the configured (or recorded) peer URLs. */
  memberByPeerUrl: MemberEvidence[]
  /** Leader's `progress[id].match` for the data dir's member (null: unknown). */
  leaderMatch: bigint | null
  /** Entries the data dir is behind the cluster's committed index. */
  behind: bigint | null
  witness: Witness | null
  /** A peer's answer about the data dir's member ID, when it is absent from the member list. */
  peerProbe: PeerProbe | null
  endpoints: { endpoint: string; discovered: boolean; ok: boolean; clusterId: string | null; memberId: string | null; error: string | null; code: string | null }[]
  /** Endpoints answering for a cluster other than the quorum-backed one. */
  foreignEndpoints: string[]
  /** Why there is no quorum-backed view (UNKNOWN). */
  failure: ClusterView['failure']
}

export interface Decision {
  verdict: Verdict
  subReason: string | null
  exitCode: number
  reason: string
  next: string
  commands: string[]
  warnings: string[]
  /** For a downgraded verdict: what the evidence pointed at before the safety rule applied. */
  wouldBe: Verdict | null
  evidence: CheckEvidence
}

const memberEv = (m: Member): MemberEvidence => ({ id: m.idHex, name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs, isLearner: m.isLearner, started: m.started })

function evidenceOf(input: DecideInput, byId: Member | undefined, byUrl: Member[], leaderMatch: bigint | null, behind: bigint | null): CheckEvidence {
  const o = input.offline
  const p = input.view.primary
  return {
    dataDir: o.dataDir,
    state: o.state,
    local: {
      memberId: o.memberId,
      clusterId: o.clusterId,
      hardState: o.hardState,
      lastIndex: o.lastIndex,
      snapshotIndex: o.snapshotIndex,
      consistentIndex: o.consistentIndex,
      revision: o.revision,
      dbBytes: o.sizes.dbBytes,
      integrityOk: o.integrity.ok,
      inUse: o.inUse.held,
      selfRemovedInDb: o.members.selfRemovedInDb,
      selfRemovedInWal: o.members.selfRemovedInWal !== null,
    },
    cluster: p
      ? {
        clusterId: p.clusterIdHex,
        voters: p.voters,
        quorum: p.quorum,
        answeredVoters: p.answeredVoters.map(idHex),
        leader: p.leaderHex,
        raftIndex: p.raftIndex,
        raftTerm: p.raftTerm,
        leaderDbSize: p.leaderStatus?.dbSize ?? null,
        members: p.members.map(memberEv),
      }
      : null,
    memberById: byId ? memberEv(byId) : null,
    memberByPeerUrl: byUrl.map(memberEv),
    leaderMatch,
    behind,
    witness: input.witness,
    peerProbe: input.peerProbe ?? null,
    endpoints: input.view.answers.map((a) => {
      const h = a.status?.header ?? a.memberList?.header
      return {
        endpoint: a.endpoint, discovered: a.discovered, ok: !a.error,
        clusterId: h ? h.clusterIdHex : null, memberId: h ? h.memberIdHex : null,
        error: a.error ? a.error.message + (a.error.hint ? ` (${a.error.hint})` : '') : null, code: a.error?.code ?? null,
      }
    }),
    foreignEndpoints: input.view.foreignEndpoints,
    failure: input.view.failure,
  }
}

const q = shellQuote

/** `ETCD_INITIAL_CLUSTER` for a joining member: started members + self (RECOVERY.md §6.3 step 6). */
export function renderInitialCluster(members: readonly Member[], self: { name: string; peerURLs: string[] }): string {
  const parts: string[] = []
  for (const m of members) {
    if (!m.started) continue
    for (const u of m.peerURLs) parts.push(`${m.name}=${u}`)
  }
  for (const u of self.peerURLs) parts.push(`${self.name}=${u}`)
  return parts.join(',')
}

function restoreFingerprint(o: StatusResult): boolean {
  const hs = o.hardState
  if (!hs || hs.term !== 1n) return false
  const n = BigInt(o.members.db?.length ?? 0)
  return n > 0n && hs.commit === n && o.snapshotIndex === n
}

function fmtBytes(n: bigint | null): string {
  if (n === null) return 'unknown size'
  const v = Number(n)
  if (v >= 1 << 30) return `${(v / (1 << 30)).toFixed(1)} GiB`
  if (v >= 1 << 20) return `${(v / (1 << 20)).toFixed(1)} MiB`
  if (v >= 1 << 10) return `${(v / (1 << 10)).toFixed(1)} KiB`
  return `${v} B`
}

/** Decides the verdict. First match wins; later findings become warnings. */
export function decide(input: DecideInput): Decision {
  const { offline: o, view, config: c } = input
  const p: ClusterGroup | null = view.primary
  const warnings: string[] = []
  const ctl = c.etcdctl
  const replace = (extra = ''): string => `etcd-inspect replace plan${c.replaceFlags ? ' ' + c.replaceFlags : ''} --data-dir ${q(c.dataDir)}${extra}${c.connectionFlags ? ' ' + c.connectionFlags : ''}`
  const archive = (idh: string): string => `mv ${q(c.dataDir)} ${q(c.dataDir)}.removed-${idh}-$(date -u +%Y%m%dT%H%M%SZ)   # archive; never delete`
  if (view.foreignEndpoints.length > 0) {
    warnings.push(`ignored: ${view.foreignEndpoints.join(', ')} answer(s) for another cluster than the quorum-backed one (${p?.clusterIdHex}); a stale endpoint? remove it from --endpoints`)
  }
  for (const a of view.answers) {
    if (a.error && !a.discovered) warnings.push(`${a.error.message}${a.error.hint ? ` (${a.error.hint})` : ''}`)
  }

  const origin = (u: string): string => {
    try {
      return new URL(u).origin
    } catch {
      return u
    }
  }
  const memberClientUrls = new Set((p?.members ?? []).flatMap((m) => m.clientURLs.map(origin)))
  // The checked member's own client URL is expected to be down (and, once removed, unlisted).
  const ownClientUrls = new Set((o.members.db?.find((m) => m.id === o.memberId)?.clientURLs ?? []).map(origin))
  const deadStrangers = view.answers.filter((a) => a.error && !a.discovered && !memberClientUrls.has(origin(a.endpoint)) && !ownClientUrls.has(origin(a.endpoint))).map((a) => a.endpoint)
  // They matter when they could be at least as many members as those that answered.
  const unaccounted = p && deadStrangers.length >= p.answeredVoters.length ? deadStrangers : []
  let byId: Member | undefined
  let byUrl: Member[] = []
  let leaderMatch: bigint | null = null
  let behind: bigint | null = null
  const done = (verdict: Verdict, reason: string, next: string, commands: string[] = [], subReason: string | null = null): Decision => {
    let v = verdict
    let wouldBe: Verdict | null = null
    let r = reason
    let n = next
    let cmds = commands
    let sub = subReason
    if (DESTRUCTIVE.has(v) && (view.foreignEndpoints.length > 0 || !p)) {
      // RECOVERY.md §3.3: an endpoint of another cluster must never lead to destructive advice.
      wouldBe = v
      v = 'UNKNOWN'
      sub = 'CONFLICTING_CLUSTERS'
      r = `the evidence points at ${verdict} (${reason}), but ${view.foreignEndpoints.join(', ')} answer(s) for another cluster, so no destructive advice is given`
      n = 'remove the stale endpoint(s) from --endpoints (or stop that old cluster) and run the check again'
      cmds = []
    } else if (DESTRUCTIVE.has(v) && unaccounted.length > 0) {
      // Configured endpoints that did not answer and are not members of the answering cluster may
      // be the real cluster (partitioned or down) while a stale one answers: no destructive advice.
      wouldBe = v
      v = 'UNKNOWN'
      sub = 'UNACCOUNTED_ENDPOINTS'
      r = `the evidence points at ${verdict} (${reason}), but ${unaccounted.join(', ')} did not answer and are not client URLs of cluster ${p?.clusterIdHex}: they may belong to the cluster this dir should join`
      n = 'make those endpoints reachable, or drop them from --endpoints if they are not members, and run the check again'
      cmds = []
    }
    return { verdict: v, subReason: sub, exitCode: VerdictExit[v], reason: r, next: n, commands: cmds, warnings, wouldBe, evidence: evidenceOf(input, byId, byUrl, leaderMatch, behind) }
  }

  // 0. IN_USE
  if (o.inUse.held) {
    // The member, as the cluster lists it, belongs in the evidence too.
    byId = p && o.memberId !== null ? findById(p.members, idFromHex(o.memberId)) : undefined
    const who = o.inUse.locks.map((l) => `${l.file} (${l.lockClass} ${l.access}${l.pid !== null ? ` pid ${l.pid}` : ''}${l.command ? ` ${l.command}` : ''})`).join(', ')
    return done('IN_USE', `an etcd process holds the data dir: ${who}`, 'this member is running: query it online instead; never touch a running member\'s data dir', [`${ctl} endpoint status -w table`])
  }
  // A reader that could not run (permissions, or a reader missing from this build) is not corruption.
  const unreadable = [o.integrity.wal, o.integrity.db].filter((x) => x.status === 'unavailable')
  // Permission denied is the reader's problem, not the data's; any other error finding is the data's.
  const hardError = o.integrity.wal.status === 'corrupt' || o.integrity.db.status === 'corrupt' || o.integrity.invariants.some((i) => i.ok === false) || o.findings.some((f) => f.severity === 'error' && f.code !== 'permission')
  if (unreadable.length > 0 && !hardError && o.state !== 'empty') {
    return done('UNKNOWN', `the data dir could not be read completely: ${unreadable.map((x) => x.detail).join('; ')}`, 'run etcd-inspect status on the data dir (as a user that can read it) and check again', [`etcd-inspect status ${q(c.dataDir)}`], 'OFFLINE_UNREADABLE')
  }
  // 1. CORRUPT
  // A file that cannot be read for another reason than permissions (e.g. member/snap/db is a
  // directory) is damage too: etcd cannot start on it, so the live cluster must not be asked.
  const unreadableByError = unreadable.length > 0 && hardError
  if (!o.integrity.ok || unreadableByError || o.state === 'no-wal' || (o.state === 'initialized' && (o.memberId === null || o.clusterId === null))) {
    const errs = o.findings.filter((f) => f.severity === 'error').map((f) => `${f.code}${f.file ? ` ${f.file}${f.offset !== undefined ? `@${f.offset}` : ''}` : ''}: ${f.detail}`)
    const inv = o.integrity.invariants.filter((i) => i.ok === false).map((i) => `${i.name} violated: ${i.detail}`)
    let sub: string | null = o.integrity.wal.status === 'corrupt' ? 'WAL' : o.integrity.db.status === 'corrupt' || o.integrity.db.status === 'missing' ? 'DB' : inv.length ? 'INVARIANT' : unreadableByError ? (o.integrity.wal.status === 'unavailable' ? 'WAL' : 'DB') : null
    let reason = [...errs, ...inv].join('; ') || `wal: ${o.integrity.wal.detail}; db: ${o.integrity.db.detail}`
    if (o.state === 'no-wal') {
      sub = 'NO_WAL'
      reason = 'member/snap/db exists without member/wal: etcd would bootstrap a new member on top of an old db'
    }
    return done('CORRUPT', reason, 'do not start this data: replace the member (the data dir is archived, never deleted)', [replace(o.memberId ? ` --member ${o.memberId}` : '')], sub)
  }
  // From here on the live cluster decides.
  if (!p) {
    const sub = view.failure ?? 'UNREACHABLE'
    const what = sub === 'UNREACHABLE' ? 'no endpoint answered' : sub === 'AUTH' ? 'every endpoint refused the credentials' : sub === 'TLS' ? 'every endpoint failed the TLS handshake' : sub === 'CONFLICTING_CLUSTERS' ? 'endpoints of more than one cluster answered with a quorum each' : `fewer than a quorum of voting members answered with one cluster ID, membership and leader`
    // Every endpoint that did not answer, and (no quorum) which voters did: one member's error
    // is not the story when most of the cluster is down.
    const silent = view.answers.filter((a) => a.error).map((a) => `${a.endpoint}${a.discovered ? ' (found)' : ''} (${a.error!.message})`)
    const g = view.groups[0]
    const answered = g ? g.members.filter((m) => g.answeredVoters.includes(m.id)).map((m) => `${m.name || '(unstarted)'} ${m.idHex}`) : []
    const noQuorum = sub === 'NO_QUORUM' || sub === 'UNREACHABLE'
    const quorumText = g
      ? `a quorum is not available: ${g.answeredVoters.length} of ${g.voters} voting members answered (${answered.join(', ') || 'none'}; quorum ${g.quorum}${g.leader === 0n ? ', no leader' : `, leader ${g.leaderHex}`})`
      : 'no endpoint answered, so a quorum is not available'
    let offlineHint = ''
    if (input.witness && o.hardState) {
      offlineHint = o.hardState.commit >= input.witness.lastSeenCommit
        ? `; offline-consistent with the witness of ${input.witness.ts} (commit ${o.hardState.commit} >= ${input.witness.lastSeenCommit})`
        : `; offline: commit ${o.hardState.commit} is below the witness's ${input.witness.lastSeenCommit}: likely rolled back`
    }
    const first = view.answers.find((a) => a.error)?.error
    const hint = !noQuorum && first?.hint ? `; ${first.hint}` : ''
    const reason = noQuorum
      ? `cannot decide safely: ${quorumText}${silent.length ? `; no answer from ${silent.join('; ')}` : ''}${offlineHint}`
      : `cannot decide safely: ${what}${silent.length ? ` (${silent.join('; ')}${hint})` : ''}${offlineHint}`
    const next = noQuorum
      ? 'never archive or replace on UNKNOWN (a partition is not a removal): bring the members that did not answer back; if most of the cluster is down, every member\'s check blocks its start until a quorum answers, so start a majority of the members together with this check bypassed (docs/check.md, "A cluster that is down"), then check the rest'
      : 'never archive or replace on UNKNOWN (a partition is not a removal): fix connectivity/credentials and check again'
    return done('UNKNOWN', reason, next, [`${ctl} endpoint status -w table`], sub)
  }

  // 2. Empty data dir: no identity on disk; the peer URLs decide.
  if (o.state === 'empty') {
    if (!c.peerURLs?.length) {
      return done('UNKNOWN', 'the data dir is empty and no --initial-advertise-peer-urls (or ETCD_INITIAL_ADVERTISE_PEER_URLS) was given, so the member cannot be looked up', 'pass --initial-advertise-peer-urls (and --name) as etcd is configured', [], 'NO_PEER_URLS')
    }
    byUrl = findByPeerUrl(p.members, c.peerURLs)
    const name = c.name ?? 'NAME'
    if (byUrl.length === 0) {
      return done('EMPTY_NOT_ADDED', `the data dir is empty and no member of cluster ${p.clusterIdHex} has peer URL ${c.peerURLs.join(',')}: starting with 'existing' fails ("member count is unequal"), with 'new' it forms a separate cluster`, 'add the member as a learner first, then start it with --initial-cluster-state=existing', [`${ctl} member add ${q(name)} --peer-urls=${c.peerURLs.join(',')} --learner`])
    }
    const owner = byUrl[0]!
    byId = owner
    if (!owner.started) {
      const ic = renderInitialCluster(p.members.filter((m) => m.id !== owner.id), { name, peerURLs: c.peerURLs })
      if (c.initialClusterState === 'new') {
        return done('CONFIG_DRIFT', `member ${owner.idHex} was added for ${c.peerURLs.join(',')} and never started, but the configuration says --initial-cluster-state=new`, 'start it with --initial-cluster-state=existing and the initial cluster below', [`ETCD_INITIAL_CLUSTER_STATE=existing`, `ETCD_INITIAL_CLUSTER=${ic}`], 'INITIAL_CLUSTER_STATE_NEW')
      }
      return done('EMPTY_READY_TO_JOIN', `the data dir is empty and member ${owner.idHex}${owner.isLearner ? ' (learner)' : ''} was added for ${c.peerURLs.join(',')} and never started`, `start etcd with --initial-cluster-state=existing and --initial-cluster=${ic}${owner.isLearner ? `, then promote it: ${ctl} member promote ${owner.idHex}` : ''}`, [`ETCD_INITIAL_CLUSTER_STATE=existing`, `ETCD_INITIAL_CLUSTER=${ic}`])
    }
    return done('DATA_LOST', `the data dir is empty but member ${owner.idHex} (${owner.name}) with peer URL ${owner.peerURLs.join(',')} has started before: its data is gone (volume re-provisioned or --data-dir changed)`, 'check --data-dir first; if the data is really gone, remove the old member and re-add it as a learner (etcd-inspect replace)', [replace(` --member ${owner.idHex}`), `# by hand: ${ctl} member remove ${owner.idHex} && ${ctl} member add ${q(owner.name)} --peer-urls=${owner.peerURLs.join(',')} --learner`])
  }

  const N = idFromHex(o.memberId!)
  const W = idFromHex(o.clusterId!)
  const hs = o.hardState
  const commit = hs?.commit ?? 0n
  const localLast = o.lastIndex ?? commit
  const selfDb = o.members.db?.find((m) => m.id === o.memberId)
  const myUrls = c.peerURLs?.length ? c.peerURLs : selfDb?.peerURLs ?? o.members.walConfChanges.find((x) => x.nodeId === o.memberId && x.peerURLs?.length)?.peerURLs ?? []
  byUrl = myUrls.length ? findByPeerUrl(p.members, myUrls) : []

  // 3. FOREIGN_CLUSTER
  if (W !== p.clusterId) {
    const restored = restoreFingerprint(o)
    const inL = findById(p.members, N)
    const name = c.name ?? selfDb?.name ?? 'NAME'
    const reason = `the data dir belongs to cluster ${o.clusterId}, the live cluster (${p.answeredVoters.length} of ${p.voters} voters agree) is ${p.clusterIdHex}${restored ? '; the dir has the shape of an unstarted snapshot restore' : ''}`
    const sub = restored ? 'RESTORED_SNAPSHOT' : 'OLD_CLUSTER'
    // This host's peer URL may be registered already, and etcd refuses a `member add` for it
    // ("Peer URLs already exists"): the owner decides the way back in.
    const owners = [...(inL ? [inL] : []), ...byUrl.filter((m) => m.id !== inL?.id)]
    const live = owners.find((m) => view.answers.some((a) => a.status && a.status.header.memberId === m.id && a.status.header.clusterId === p.clusterId))
    if (live) {
      return done('FOREIGN_CLUSTER', `${reason}; member ${live.idHex} (${live.name}) owns ${live.peerURLs.join(',')} and is running`, `never start it here: archive the dir; member ${live.idHex} runs with this host's peer URL: find out which host runs it before adding anything`, [archive(o.memberId ?? 'unknown')], sub)
    }
    const unstarted = byUrl.find((m) => !m.started)
    if (unstarted && !inL) {
      // Added for this peer URL and never started: the empty dir joins as that member.
      return done('FOREIGN_CLUSTER', `${reason}; member ${unstarted.idHex} was added for ${unstarted.peerURLs.join(',')} and never started`, 'never start it here: archive the dir, then start with an empty dir and --initial-cluster-state=existing: the member is already added', [
        archive(o.memberId ?? 'unknown'),
        `ETCD_INITIAL_CLUSTER_STATE=existing`,
        `ETCD_INITIAL_CLUSTER=${renderInitialCluster(p.members.filter((m) => m.id !== unstarted.id), { name, peerURLs: unstarted.peerURLs })}`,
      ], sub)
    }
    // A member that holds this ID or this host's peer URL and does not answer is what this host
    // used to run: its data is not in this dir, so it is removed and added again as a learner.
    return done('FOREIGN_CLUSTER', `${reason}${owners.length ? `; ${owners.map((m) => `member ${m.idHex}${m.name ? ` (${m.name})` : ''}`).join(', ')}, not answering, ${owners.length > 1 ? 'hold' : 'holds'} this ${inL ? 'member ID or ' : ''}peer URL` : ''}`, `never start it here: archive the dir and join fresh as a learner${owners.length ? ` (after removing ${owners.map((m) => m.idHex).join(', ')}, whose data this dir is not)` : ''}`, [
      archive(o.memberId ?? 'unknown'),
      ...owners.map((m) => `${ctl} member remove ${m.idHex}`),
      `${ctl} member add ${q(name)} --peer-urls=${myUrls.join(',') || 'PEER_URL'} --learner`,
    ], sub)
  }

  // 4. REMOVED_MEMBER
  byId = findById(p.members, N)
  if (!byId) {
    const others = byUrl.filter((m) => m.id !== N)
    const proof = [
      `absent from the member list ${p.agreeingVoters} of ${p.voters} voters agree on`,
      ...(o.members.selfRemovedInDb ? ['listed in the db\'s members_removed'] : []),
      ...(o.members.selfRemovedInWal ? [`RemoveNode(${o.memberId}) at index ${o.members.selfRemovedInWal.index} in the WAL${o.members.selfRemovedInWal.committed ? ' (committed)' : ''}`] : []),
      ...(input.peerProbe?.removed ? [`peer ${input.peerProbe.peerURL} answers 410 "${input.peerProbe.body || 'removed member'}"`] : []),
    ]
    if (others.length > 0) {
      const owner = others[0]!
      const fresh = !owner.started
      return done('REMOVED_MEMBER', `member ${o.memberId} was removed from cluster ${p.clusterIdHex} (${proof.join('; ')}) and member ${owner.idHex}${owner.name ? ` (${owner.name})` : ' (never started)'} now owns its peer URL ${owner.peerURLs.join(',')}`, fresh ? 'archive this dir, then start with an empty dir and --initial-cluster-state=existing: the replacement member is already added' : 'archive this dir; the peer URL belongs to a started member: find out which host runs it before adding anything', [
        archive(o.memberId!),
        ...(fresh ? [`ETCD_INITIAL_CLUSTER_STATE=existing`, `ETCD_INITIAL_CLUSTER=${renderInitialCluster(p.members.filter((m) => m.id !== owner.id), { name: c.name ?? selfDb?.name ?? 'NAME', peerURLs: owner.peerURLs })}`] : []),
      ], 'REPLACED')
    }
    return done('REMOVED_MEMBER', `member ${o.memberId} was removed from cluster ${p.clusterIdHex} (${proof.join('; ')}): etcd would exit with "the member has been permanently removed from the cluster"`, 'archive the dir, add the member again as a learner, start it with --initial-cluster-state=existing', [
      archive(o.memberId!),
      `${ctl} member add ${q(c.name ?? selfDb?.name ?? 'NAME')} --peer-urls=${myUrls.join(',') || 'PEER_URL'} --learner`,
    ])
  }

  // 5. IDENTITY_MISMATCH
  if (c.peerURLs?.length && !sameUrlSet(byId.peerURLs, c.peerURLs)) {
    const running = view.answers.find((a) => a.status && a.status.header.memberId === N && a.status.header.clusterId === p.clusterId)
    if (running) {
      return done('IDENTITY_MISMATCH', `the data dir is member ${byId.idHex} (${byId.name}, peer URL ${byId.peerURLs.join(',')}), which is running and answers at ${running.endpoint}; this host is configured as ${c.peerURLs.join(',')}`, 'never start it: two processes with one member ID split votes and corrupt data; fix the mount or --data-dir', [])
    }
  }
  if (input.witness && c.name && input.witness.name && input.witness.name !== c.name) {
    return done('IDENTITY_MISMATCH', `the witness for member ${byId.idHex} names ${input.witness.name}, but this member is configured as --name ${c.name}`, 'never start it: the data dir belongs to another member; fix the mount or --data-dir', [])
  }

  // 6. ROLLED_BACK
  const lp = input.leaderProgress
  if (lp && lp.id === p.leader && lp.raftState === 'StateLeader') {
    const pr = lp.progress.find((x) => x.id === N)
    leaderMatch = pr ? pr.match : null
  }
  if (leaderMatch !== null && leaderMatch > localLast) {
    return done('ROLLED_BACK', `leader ${p.leaderHex} holds match ${leaderMatch} for member ${byId.idHex}, but the data dir's log ends at ${localLast}: it is older than what this member acknowledged (etcd would panic "tocommit(${leaderMatch}) is out of range [lastIndex(${localLast})]")`, 'do not start it under this ID: replace the member (remove, archive, add as learner); never "try it"', [replace(` --member ${byId.idHex}`)], 'LEADER_PROGRESS')
  }
  const w = input.witness
  if (w && hs && commit < w.lastSeenCommit) {
    return done('ROLLED_BACK', `the witness of ${w.ts} saw commit ${w.lastSeenCommit} (term ${w.lastSeenTerm}) in this member's data dir; it now holds commit ${commit} (term ${hs.term}): restored from an older copy`, 'do not start it under this ID: replace the member (remove, archive, add as learner); never "try it"', [replace(` --member ${byId.idHex}`)], 'WITNESS')
  }
  if (restoreFingerprint(o) && byId.started) warnings.push('the data dir has the shape of an unstarted snapshot restore, yet the member has started before')

  // 7. DIVERGED
  if (hs && (commit > p.raftIndex || hs.term > p.raftTerm)) {
    return done('DIVERGED', `the data dir is ahead of the live cluster (commit ${commit} vs ${p.raftIndex}, term ${hs.term} vs ${p.raftTerm}): the cluster went back in time or the histories differ`, 'do not start it; decide which side is authoritative, then replace the member', [replace(` --member ${byId.idHex}`)])
  }

  // 8. CONFIG_DRIFT
  if (c.peerURLs?.length && !sameUrlSet(byId.peerURLs, c.peerURLs)) {
    return done('CONFIG_DRIFT', `member ${byId.idHex} is registered with peer URL ${byId.peerURLs.join(',')}, but configured with ${c.peerURLs.join(',')}`, byId.isLearner ? 'a learner\'s peer URLs must not be updated (3.4 clears its learner flag): remove and re-add it, or fix the configuration' : 'update the registered peer URLs (needs quorum) and reissue the peer certificate for the new address, or fix the configuration', byId.isLearner ? [] : [`${ctl} member update ${byId.idHex} --peer-urls=${c.peerURLs.join(',')}`], 'PEER_URLS')
  }
  if (c.name && byId.started && byId.name !== c.name) {
    return done('CONFIG_DRIFT', `member ${byId.idHex} is registered as ${byId.name}, but configured with --name ${c.name}`, `set --name ${byId.name} (the name is part of --initial-cluster and of what peers expect)`, [`ETCD_NAME=${byId.name}`], 'NAME')
  }

  // 9. BEHIND_NEEDS_SNAPSHOT
  behind = p.raftIndex > commit ? p.raftIndex - commit : 0n
  const limit = c.snapshotCount + SNAPSHOT_CATCH_UP_ENTRIES
  if (behind > limit) {
    const size = p.leaderStatus?.dbSize ?? null
    return done('BEHIND_NEEDS_SNAPSHOT', `the data dir is ${behind} entries behind the cluster (commit ${commit}, cluster ${p.raftIndex}; more than --snapshot-count ${c.snapshotCount} + ${SNAPSHOT_CATCH_UP_ENTRIES} catch-up entries): the leader will send a full snapshot of about ${fmtBytes(size)}${size !== null ? ` (${size} bytes)` : ''}`, 'start it; expect a snapshot transfer of that size before it serves', [])
  }

  // 10. LEARNER_PENDING
  if (byId.isLearner) {
    return done('LEARNER_PENDING', `member ${byId.idHex} is a learner of cluster ${p.clusterIdHex}`, `start it, wait until it caught up, then promote it`, [`${ctl} member promote ${byId.idHex}`])
  }

  // 11. OK
  return done('OK', `member ${byId.idHex}${byId.name ? ` (${byId.name})` : ''} of cluster ${p.clusterIdHex}; ${behind} entries behind (commit ${commit}, cluster ${p.raftIndex}); ${p.answeredVoters.length} of ${p.voters} voters answered`, 'start it', [])
}
