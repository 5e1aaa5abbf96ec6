/**
 * The cluster calls the replace runbook needs, on the shared connection layer
 * (cluster/connection.ts: one client per endpoint, retries and breaker off, bounded dial and
 * calls, TLS error advice). Only the replace-specific calls live here: remove, add learner,
 * promote, move leader, and a verified snapshot stream.
 */
import { createHash } from 'node:crypto'
import { createWriteStream, readFileSync, renameSync, openSync, fsyncSync, closeSync } from 'node:fs'
import type { Etcd3 } from 'etcd3'
import { ClusterError } from '../../errors.js'
import { idHex } from '../../format/ids.js'
import { createEndpointClient, normaliseEndpoint, type EndpointClient, type TlsMaterial } from '../../cluster/connection.js'
import type { ConnectionSpec, PlanMember } from './model.js'

export interface MemberListResult { clusterIdHex: string; fromMemberHex: string; members: PlanMember[] }

export interface EndpointStatus {
  endpoint: string
  ok: boolean
  error?: string
  memberIdHex?: string
  clusterIdHex?: string
  leaderHex?: string
  raftIndex?: bigint
  raftAppliedIndex?: bigint
  raftTerm?: bigint
  isLearner?: boolean
  dbSize?: bigint
  version?: string
}

const hexOf = (dec: string | undefined): string => idHex(BigInt(dec ?? '0'))
const decOf = (hex: string): string => BigInt('0x' + hex).toString()

export class ClusterOps {
  private readonly clients = new Map<string, EndpointClient>()
  private readonly tls: TlsMaterial
  constructor(readonly conn: ConnectionSpec) {
    const read = (p?: string): Buffer | undefined => (p ? readFileSync(p) : undefined)
    this.tls = { ca: read(conn.cacert), cert: read(conn.cert), key: read(conn.key), insecureSkipTlsVerify: !!conn.insecureSkipTlsVerify }
  }

  endpointClient(endpoint: string, commandTimeoutMs = this.conn.commandTimeoutMs): EndpointClient {
    const ep = normaliseEndpoint(endpoint, endpoint.startsWith('https://'))
    const k = `${ep}|${commandTimeoutMs}`
    let c = this.clients.get(k)
    if (!c) {
      c = createEndpointClient(ep, { ...this.conn, insecureSkipTlsVerify: !!this.conn.insecureSkipTlsVerify, password: this.conn.user ? process.env.ETCDCTL_PASSWORD : undefined, commandTimeoutMs }, this.tls)
      this.clients.set(k, c)
    }
    return c
  }

  client(endpoint: string): Etcd3 {
    return this.endpointClient(endpoint).etcd
  }

  private call<T>(endpoint: string, what: string, fn: (c: Etcd3, o: { deadline: number }) => Promise<T>, timeoutMs?: number): Promise<T> {
    const c = this.endpointClient(endpoint, timeoutMs)
    return c.call(what, (o) => fn(c.etcd, o as { deadline: number }))
  }

  close(): void {
    for (const c of this.clients.values()) c.close()
    this.clients.clear()
  }

  /** MemberList from the first endpoint (of `endpoints`, default the configured ones) that answers. */
  async memberList(endpoints = this.conn.endpoints): Promise<MemberListResult> {
    const errs: string[] = []
    for (const ep of endpoints) {
      try {
        const r = await this.call(ep, 'MemberList', (c, o) => c.cluster.memberList({}, o))
        return {
          clusterIdHex: hexOf(r.header.cluster_id),
          fromMemberHex: hexOf(r.header.member_id),
          members: r.members.map((m) => ({ idHex: hexOf(m.ID), name: m.name, peerURLs: [...m.peerURLs], clientURLs: [...m.clientURLs], isLearner: !!m.isLearner })),
        }
      } catch (e) {
        errs.push(`${ep}: ${(e as Error).message}`)
      }
    }
    throw new ClusterError(`no endpoint answered MemberList (${errs.join('; ')})`, 'unreachable', 'check --endpoints and the TLS flags')
  }

  async status(endpoint: string, timeoutMs = this.conn.commandTimeoutMs): Promise<EndpointStatus> {
    try {
      const s = await this.call(endpoint, 'Status', (c, o) => c.maintenance.status(o), timeoutMs)
      return {
        endpoint, ok: true, memberIdHex: hexOf(s.header.member_id), clusterIdHex: hexOf(s.header.cluster_id), leaderHex: hexOf(s.leader),
        raftIndex: BigInt(s.raftIndex), raftAppliedIndex: BigInt((s as unknown as { raftAppliedIndex?: string }).raftAppliedIndex ?? s.raftIndex),
        raftTerm: BigInt(s.raftTerm), isLearner: !!(s as unknown as { isLearner?: boolean }).isLearner, dbSize: BigInt(s.dbSize), version: s.version,
      }
    } catch (e) {
      return { endpoint, ok: false, error: (e as Error).message.split('\n')[0] }
    }
  }

  async statusAll(endpoints: string[]): Promise<EndpointStatus[]> {
    return Promise.all(endpoints.map((e) => this.status(e)))
  }

  async memberRemove(idHexStr: string, endpoints = this.conn.endpoints): Promise<void> {
    await this.onAny(endpoints, 'MemberRemove', (c, o) => c.cluster.memberRemove({ ID: decOf(idHexStr) }, o))
  }

  async memberAddLearner(peerURLs: string[], endpoints = this.conn.endpoints): Promise<PlanMember> {
    const r = await this.onAny(endpoints, 'MemberAdd', (c, o) => c.cluster.memberAdd({ peerURLs, isLearner: true }, o))
    const m = r.member
    return { idHex: hexOf(m.ID), name: m.name, peerURLs: [...m.peerURLs], clientURLs: [...m.clientURLs], isLearner: !!m.isLearner }
  }

  async memberPromote(idHexStr: string, endpoints = this.conn.endpoints): Promise<void> {
    await this.onAny(endpoints, 'MemberPromote', (c, o) => c.cluster.memberPromote({ ID: decOf(idHexStr) }, o))
  }

  async moveLeader(leaderEndpoint: string, toHex: string): Promise<void> {
    await this.call(leaderEndpoint, 'MoveLeader', (c, o) => c.maintenance.moveLeader({ targetID: decOf(toHex) }, o), 30000)
  }

  /** A linearizable read through one endpoint (a health probe that needs quorum). */
  async linearizableRead(endpoint: string): Promise<boolean> {
    try {
      await this.call(endpoint, 'Range', (c) => c.get('health').exec(), 5000)
      return true
    } catch {
      return false
    }
  }

  /**
   * Maintenance.Snapshot into `path` (tmp + fsync + rename). Verifies the trailing SHA-256 that
   * etcd appends to the stream (over every preceding byte) and returns the file's own SHA-256.
   */
  async snapshot(endpoint: string, path: string): Promise<{ sha256: string; size: number; revision: string; trailerOk: boolean }> {
    // Dial through a bounded Status first; the stream itself is not bounded by --command-timeout.
    await this.call(endpoint, 'Status', (c, o) => c.maintenance.status(o))
    const stream = await this.client(endpoint).maintenance.snapshot()
    const tmp = `${path}.part`
    const out = createWriteStream(tmp, { mode: 0o600 })
    const whole = createHash('sha256')
    let size = 0
    let revision = '0'
    const tail: Buffer[] = []
    let tailLen = 0
    const body = createHash('sha256')
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (item: { blob: Buffer; header?: { revision?: string } }) => {
        if (item.header?.revision && revision === '0') revision = item.header.revision
        const b = Buffer.from(item.blob)
        size += b.length
        whole.update(b)
        out.write(b)
        // Keep the last 32 bytes out of the body hash until we know they are the trailer.
        tail.push(b)
        tailLen += b.length
        while (tailLen - tail[0]!.length >= 32) {
          const first = tail.shift()!
          tailLen -= first.length
          body.update(first)
        }
      })
      stream.on('error', reject)
      stream.on('end', () => resolve())
    })
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())))
    const rest = Buffer.concat(tail)
    body.update(rest.subarray(0, rest.length - 32))
    const trailerOk = rest.length >= 32 && body.digest().equals(rest.subarray(rest.length - 32))
    const fd = openSync(tmp, 'r')
    fsyncSync(fd)
    closeSync(fd)
    renameSync(tmp, path)
    return { sha256: whole.digest('hex'), size, revision, trailerOk }
  }

  private async onAny<T>(endpoints: string[], what: string, fn: (c: Etcd3, o: { deadline: number }) => Promise<T>): Promise<T> {
    let last: unknown
    for (const ep of endpoints) {
      try {
        return await this.call(ep, what, fn)
      } catch (e) {
        last = e
        const msg = (e as Error).message
        // Only connection failures move on to the next endpoint; an answer from etcd is final.
        if (!(e instanceof ClusterError && /^(unreachable|unavailable|dial-timeout|timeout|tls)/.test(e.code)) && !/UNAVAILABLE|ECONNREFUSED|No connection established/i.test(msg)) throw e
      }
    }
    throw last instanceof Error ? last : new ClusterError(String(last), 'unreachable')
  }
}

/** Decimal → hex helper exported for tests. */
export { hexOf, decOf }
