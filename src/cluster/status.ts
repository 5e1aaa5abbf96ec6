/**
 * `Maintenance.Status` of one endpoint (which member answered is in `header.memberId`).
 */
import { idHex } from '../format/ids.js'
import type { EndpointClient } from './connection.js'
import { headerFrom, toBig, type ResponseHeader } from './members.js'

export interface EndpointStatus {
  endpoint: string
  header: ResponseHeader
  version: string
  dbSize: bigint
  dbSizeInUse: bigint
  /** The leader this member believes in; 0 = none. */
  leader: bigint
  leaderHex: string
  /** Committed raft index. */
  raftIndex: bigint
  raftTerm: bigint
  raftAppliedIndex: bigint
  /** Alarm/error strings (e.g. NOSPACE). */
  errors: string[]
  isLearner: boolean
}

export async function endpointStatus(client: EndpointClient): Promise<EndpointStatus> {
  const r = await client.call('status', (o) => client.etcd.maintenance.status(o))
  const leader = toBig(r.leader)
  return {
    endpoint: client.endpoint,
    header: headerFrom(r.header),
    version: r.version ?? '',
    dbSize: toBig(r.dbSize),
    dbSizeInUse: toBig(r.dbSizeInUse),
    leader,
    leaderHex: idHex(leader),
    raftIndex: toBig(r.raftIndex),
    raftTerm: toBig(r.raftTerm),
    raftAppliedIndex: toBig(r.raftAppliedIndex),
    errors: [...(r.errors ?? [])],
    isLearner: !!r.isLearner,
  }
}
