/**
 * `Cluster.MemberList` through one endpoint, with IDs as bigint (etcd3 hands them over as decimal
 * strings) and etcdctl-style hex. An empty `name` means "added, never started" (RECOVERY.md §3.2).
 */
import { idHex } from '../format/ids.js'
import type { Member as BackendMember } from '../format/backend/members.js'
import type { EndpointClient } from './connection.js'

/** A member as MemberList reports it: the backend's member shape plus whether it has started. */
export interface Member extends BackendMember {
  /** `name !== ''`: the member has started at least once. */
  started: boolean
}

/** The response header fields every etcd response carries. */
export interface ResponseHeader {
  clusterId: bigint
  clusterIdHex: string
  memberId: bigint
  memberIdHex: string
  raftTerm: bigint
  revision: bigint
}

export interface MemberListResult {
  endpoint: string
  header: ResponseHeader
  members: Member[]
}

/** Decimal string (or number) from etcd3 → bigint; missing → 0n. */
export function toBig(v: string | number | null | undefined): bigint {
  if (v === undefined || v === null || v === '') return 0n
  return BigInt(v)
}

export function headerFrom(h: { cluster_id?: string; member_id?: string; raft_term?: string; revision?: string } | null | undefined): ResponseHeader {
  const clusterId = toBig(h?.cluster_id)
  const memberId = toBig(h?.member_id)
  return { clusterId, clusterIdHex: idHex(clusterId), memberId, memberIdHex: idHex(memberId), raftTerm: toBig(h?.raft_term), revision: toBig(h?.revision) }
}

/** Converts one etcd3 member. */
export function memberFrom(m: { ID: string; name: string; peerURLs: string[]; clientURLs: string[]; isLearner?: boolean }): Member {
  const id = toBig(m.ID)
  return { id, idHex: idHex(id), name: m.name ?? '', peerURLs: [...(m.peerURLs ?? [])], clientURLs: [...(m.clientURLs ?? [])], isLearner: !!m.isLearner, started: (m.name ?? '') !== '' }
}

/**
 * MemberList via `client`'s endpoint. `linearizable` is sent (3.5+ honour it; 3.4 ignores the field
 * and answers from its applied membership, which is why callers ask several members).
 */
export async function memberList(client: EndpointClient, linearizable = true): Promise<MemberListResult> {
  const res = await client.call('member list', (o) => client.etcd.cluster.memberList({ linearizable }, o))
  return { endpoint: client.endpoint, header: headerFrom(res.header), members: (res.members ?? []).map(memberFrom) }
}

/** Compares URLs the way etcd does after parsing: scheme, host and port, no trailing slash. */
export function sameUrl(a: string, b: string): boolean {
  const n = (s: string): string => {
    try {
      const u = new URL(s)
      return `${u.protocol}//${u.host}`.toLowerCase()
    } catch {
      return s.trim().replace(/\/+$/, '').toLowerCase()
    }
  }
  return n(a) === n(b)
}

/** True when the two URL lists are equal as sets (order ignored). */
export function sameUrlSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.some((y) => sameUrl(x, y))) && b.every((y) => a.some((x) => sameUrl(x, y)))
}

/** The member with `id`, if listed. */
export function findById(members: readonly Member[], id: bigint): Member | undefined {
  return members.find((m) => m.id === id)
}

/** Members that own any of `peerURLs`. */
export function findByPeerUrl(members: readonly Member[], peerURLs: readonly string[]): Member[] {
  return members.filter((m) => m.peerURLs.some((u) => peerURLs.some((p) => sameUrl(u, p))))
}
