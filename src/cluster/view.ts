/**
 * The live cluster as a quorum of its members reports it (RECOVERY.md §3.2–§3.3, §5): every
 * configured endpoint is asked for `Status` and `MemberList` with its own client, then every client
 * URL those member lists name; answers are grouped by `header.cluster_id`, and a group counts only
 * when at least q(voters) distinct voting members answered, agree on the membership and name a
 * leader. Evidence from fewer members (one stale endpoint of an old cluster) never stands in for it.
 */
import { idHex } from '../format/ids.js'
import type { ClientFactory } from './connection.js'
import { memberList, type Member, type MemberListResult } from './members.js'
import { endpointStatus, type EndpointStatus } from './status.js'

/** What one endpoint said (or why it said nothing). */
export interface EndpointAnswer {
  endpoint: string
  /** Found in a member list rather than given with --endpoints. */
  discovered: boolean
  status: EndpointStatus | null
  memberList: MemberListResult | null
  error: { code: string; message: string; hint?: string } | null
}

/** Answers that share one cluster ID. */
export interface ClusterGroup {
  clusterId: bigint
  clusterIdHex: string
  /** The membership most answering voters agree on. */
  members: Member[]
  voters: number
  quorum: number
  /** Distinct voting members that answered Status with this cluster ID. */
  answeredVoters: bigint[]
  /** Answering voters whose member list equals `members` (as a set of IDs). */
  agreeingVoters: number
  leader: bigint
  leaderHex: string
  /** The leader's own Status answer, when it answered. */
  leaderStatus: EndpointStatus | null
  /** Highest committed index and term among the answers. */
  raftIndex: bigint
  raftTerm: bigint
  endpoints: string[]
  quorumOk: boolean
}

export type ViewFailure = 'UNREACHABLE' | 'NO_QUORUM' | 'AUTH' | 'TLS' | 'CONFLICTING_CLUSTERS'

export interface ClusterView {
  answers: EndpointAnswer[]
  groups: ClusterGroup[]
  /** The quorum-backed cluster, or null (see `failure`). */
  primary: ClusterGroup | null
  /** Set when `primary` is null. */
  failure: ViewFailure | null
  /** Endpoints that answered with a cluster ID other than the primary's. */
  foreignEndpoints: string[]
}

/** q(n) = ⌊n/2⌋ + 1. */
export function quorumOf(n: number): number {
  return Math.floor(n / 2) + 1
}

async function ask(f: ClientFactory, endpoint: string, discovered: boolean): Promise<EndpointAnswer> {
  const c = f.forEndpoint(endpoint)
  const out: EndpointAnswer = { endpoint: c.endpoint, discovered, status: null, memberList: null, error: null }
  try {
    out.status = await endpointStatus(c)
    out.memberList = await memberList(c, true)
  } catch (err) {
    const e = err as { code?: string; message?: string; hint?: string }
    out.error = { code: e.code ?? 'rpc', message: e.message ?? String(err), ...(e.hint ? { hint: e.hint } : {}) }
  }
  return out
}

/**
 * Asks every configured endpoint, then (once) every client URL the answers' member lists name.
 * Every request is bounded by the factory's dial and command timeouts.
 */
export async function gatherClusterView(f: ClientFactory, opts: { discover?: boolean; maxDiscovered?: number } = {}): Promise<ClusterView> {
  const first = await Promise.all(f.opts.endpoints.map((e) => ask(f, e, false)))
  const asked = new Set(first.map((a) => a.endpoint))
  const answers = [...first]
  if (opts.discover !== false) {
    const more: string[] = []
    for (const a of first) {
      for (const m of a.memberList?.members ?? []) {
        for (const u of m.clientURLs) {
          let url: string
          try {
            url = new URL(u).origin
          } catch {
            continue
          }
          if (!asked.has(url) && !more.includes(url)) more.push(url)
        }
      }
    }
    const extra = await Promise.all(more.slice(0, opts.maxDiscovered ?? 16).map((e) => ask(f, e, true)))
    for (const a of extra) {
      asked.add(a.endpoint)
      answers.push(a)
    }
  }
  return analyseAnswers(answers)
}

const idSetKey = (ms: readonly Member[]): string => ms.map((m) => m.id).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).join(',')

function mostCommon<T>(xs: T[], key: (x: T) => string): { value: T; count: number } | undefined {
  const counts = new Map<string, { value: T; count: number }>()
  for (const x of xs) {
    const k = key(x)
    const e = counts.get(k)
    if (e) e.count++
    else counts.set(k, { value: x, count: 1 })
  }
  let best: { value: T; count: number } | undefined
  for (const e of counts.values()) if (!best || e.count > best.count) best = e
  return best
}

/** Groups answers by cluster ID and decides which group, if any, is quorum-backed. Pure. */
export function analyseAnswers(answers: EndpointAnswer[]): ClusterView {
  // One answer per member: the same member reached through two URLs counts once.
  const byCluster = new Map<bigint, EndpointAnswer[]>()
  for (const a of answers) {
    const h = a.status?.header ?? a.memberList?.header
    if (!h || h.clusterId === 0n) continue
    const list = byCluster.get(h.clusterId) ?? []
    list.push(a)
    byCluster.set(h.clusterId, list)
  }
  const groups: ClusterGroup[] = []
  for (const [clusterId, as] of byCluster) {
    const lists = as.filter((a) => a.memberList).map((a) => a.memberList!)
    const chosen = mostCommon(lists, (l) => idSetKey(l.members))
    const members = chosen?.value.members ?? []
    const voterIds = new Set(members.filter((m) => !m.isLearner).map((m) => m.id))
    const statuses = as.filter((a) => a.status).map((a) => a.status!)
    const answered = [...new Set(statuses.map((s) => s.header.memberId).filter((id) => voterIds.has(id)))]
    const key = chosen ? idSetKey(chosen.value.members) : ''
    const agreeing = new Set(as.filter((a) => a.memberList && idSetKey(a.memberList.members) === key && voterIds.has(a.memberList.header.memberId)).map((a) => a.memberList!.header.memberId)).size
    const leaderVote = mostCommon(statuses.filter((s) => s.leader !== 0n && voterIds.has(s.header.memberId)), (s) => s.leader.toString())
    const leader = leaderVote?.value.leader ?? 0n
    const voters = voterIds.size
    const quorum = quorumOf(voters)
    groups.push({
      clusterId,
      clusterIdHex: idHex(clusterId),
      members,
      voters,
      quorum,
      answeredVoters: answered,
      agreeingVoters: agreeing,
      leader,
      leaderHex: idHex(leader),
      leaderStatus: statuses.find((s) => s.header.memberId === leader) ?? null,
      raftIndex: statuses.reduce((m, s) => (s.raftIndex > m ? s.raftIndex : m), 0n),
      raftTerm: statuses.reduce((m, s) => (s.raftTerm > m ? s.raftTerm : m), 0n),
      endpoints: as.map((a) => a.endpoint),
      quorumOk: voters > 0 && answered.length >= quorum && agreeing >= quorum && leader !== 0n && (leaderVote?.count ?? 0) >= quorum,
    })
  }
  groups.sort((a, b) => b.answeredVoters.length - a.answeredVoters.length)
  const backed = groups.filter((g) => g.quorumOk)
  let primary: ClusterGroup | null = null
  let failure: ViewFailure | null = null
  if (backed.length === 1 || (backed.length > 1 && backed[0]!.answeredVoters.length > backed[1]!.answeredVoters.length)) {
    primary = backed[0]!
  } else if (backed.length > 1) {
    failure = 'CONFLICTING_CLUSTERS'
  } else if (groups.length > 0) {
    failure = 'NO_QUORUM'
  } else {
    const codes = answers.map((a) => a.error?.code ?? '')
    failure = codes.length > 0 && codes.every((c) => c === 'auth' || c === 'permission') ? 'AUTH'
      : codes.length > 0 && codes.every((c) => c.startsWith('tls-')) ? 'TLS'
      : 'UNREACHABLE'
  }
  const foreignEndpoints = primary ? groups.filter((g) => g !== primary).flatMap((g) => g.endpoints) : []
  return { answers, groups, primary, failure, foreignEndpoints }
}
