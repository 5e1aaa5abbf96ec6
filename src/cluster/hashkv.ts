/**
 * `Maintenance.HashKV` of one endpoint (what `etcdctl endpoint hashkv --rev R` prints). etcd3's
 * own `maintenance.hashKV()` looks the method up as `hashKV` while grpc-js names it `hashKv`
 * (STYLE.md §17 pitfall 8), so the call goes to the Maintenance service client of the endpoint's
 * one host directly, through `client.call` (dial, deadline, error mapping as for every request).
 */
import type grpc from '@grpc/grpc-js'
import type { EndpointClient } from './connection.js'
import { ClusterError } from '../errors.js'
import { headerFrom, toBig, type ResponseHeader } from './members.js'

export interface EndpointHashKV {
  endpoint: string
  header: ResponseHeader
  /** CRC-32C, unsigned. */
  hash: number
  /** The member's compaction revision (-1 when never compacted, as etcd answers). */
  compactRevision: bigint
}

type Unary = (req: object, opts: grpc.CallOptions, cb: (err: Error | null, res: Record<string, unknown>) => void) => void
interface HostInternals { pool?: { hosts?: Array<{ getServiceClient(name: string): { hashKv?: Unary } }> } }

export async function endpointHashKV(client: EndpointClient, revision: bigint): Promise<EndpointHashKV> {
  const r = await client.call('hashkv', (o) => new Promise<Record<string, unknown>>((resolve, reject) => {
    const sc = (client.etcd as unknown as HostInternals).pool?.hosts?.[0]?.getServiceClient('Maintenance')
    if (!sc?.hashKv) return reject(new ClusterError(`${client.endpoint}: HashKV is not available in this gRPC client`, 'unavailable'))
    sc.hashKv.call(sc, { revision: revision.toString() }, o, (err, res) => (err ? reject(err) : resolve(res)))
  }))
  return {
    endpoint: client.endpoint,
    header: headerFrom(r.header as Parameters<typeof headerFrom>[0]),
    hash: Number(r.hash) >>> 0,
    compactRevision: toBig(r.compact_revision as string),
  }
}
