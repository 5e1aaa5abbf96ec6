/**
 * The cluster calls the replace runbook needs, on the shared connection layer
 * (cluster/connection.ts: one client per endpoint, retries and breaker off, bounded dial and
 * calls, TLS error advice). Only the replace-specific calls live here: remove, add learner,
 * promote, move leader, and a verified snapshot stream.
 */
import { createHash } from 'node:crypto'
import { readFileSync, renameSync, openSync, fsyncSync, closeSync, writevSync } from 'node:fs'
import type { Etcd3 } from 'etcd3'
import { ClusterError } from '../../errors.js'
import { idHex } from '../../format/ids.js'
import { createEndpointClient, normaliseEndpoint, type EndpointClient, type TlsMaterial } from '../../cluster/connection.js'
import { raftStatus } from '../../cluster/debug-vars.js'
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

/** HTTP/2 receive window for the snapshot stream (connection and stream). */
const SNAPSHOT_WINDOW = 16 << 20
/** Snapshot chunks (etcd sends 32 KiB) are written to the file in batches of this size. */
const WRITE_BATCH = 4 << 20

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

  /**
   * One client (one TLS connection) per endpoint for every call: a shorter timeout than
   * --command-timeout is a per-call gRPC deadline, not another client (each extra client is another
   * TLS dial). Only a longer one (MoveLeader's 30 s) gets a client of its own.
   */
  private call<T>(endpoint: string, what: string, fn: (c: Etcd3, o: { deadline: number }) => Promise<T>, timeoutMs?: number): Promise<T> {
    const shared = timeoutMs === undefined || timeoutMs <= this.conn.commandTimeoutMs
    const c = this.endpointClient(endpoint, shared ? this.conn.commandTimeoutMs : timeoutMs)
    const t = timeoutMs ?? this.conn.commandTimeoutMs
    return c.call(what, (o) => fn(c.etcd, { ...(o as object), deadline: Date.now() + t }))
  }

  /**
   * A client of its own for the snapshot stream, with a large HTTP/2 flow-control window: with
   * grpc-js's 64 KiB default the server stalls on every window update, which made the snapshot
   * ~1.5x slower than etcdctl's (Go's BDP-sized window). Set before the first call dials.
   */
  private snapshotClient(endpoint: string): EndpointClient {
    const ep = normaliseEndpoint(endpoint, endpoint.startsWith('https://'))
    const k = `${ep}|snapshot`
    let c = this.clients.get(k)
    if (!c) {
      c = createEndpointClient(ep, { ...this.conn, insecureSkipTlsVerify: !!this.conn.insecureSkipTlsVerify, password: this.conn.user ? process.env.ETCDCTL_PASSWORD : undefined }, this.tls)
      const hosts = (c.etcd as unknown as { pool?: { hosts?: Array<{ channelOptions?: Record<string, unknown> }> } }).pool?.hosts ?? []
      for (const h of hosts) h.channelOptions = { ...(h.channelOptions ?? {}), 'grpc-node.flow_control_window': SNAPSHOT_WINDOW }
      this.clients.set(k, c)
    }
    return c
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

  /** The leader's raft progress `match` for a member (GET /debug/vars on the leader), if it reports one. */
  async learnerMatch(leaderEndpoint: string, memberHex: string): Promise<bigint | undefined> {
    try {
      const rs = await raftStatus(leaderEndpoint, { ...this.conn, insecureSkipTlsVerify: !!this.conn.insecureSkipTlsVerify, commandTimeoutMs: Math.min(this.conn.commandTimeoutMs, 3000) }, this.tls)
      return rs?.progress.find((p) => p.idHex === memberHex)?.match
    } catch {
      return undefined
    }
  }

  async leaseGrant(endpoint: string, ttlSec: number): Promise<string> {
    const r = await this.call(endpoint, 'LeaseGrant', (c, o) => c.leaseClient.leaseGrant({ TTL: ttlSec, ID: 0 }, o))
    return r.ID
  }

  /** A single-key Range (linearizable); undefined when the key does not exist. */
  async getKey(endpoint: string, key: string): Promise<{ value: string; leaseDec: string; modRevision: string } | undefined> {
    const r = await this.call(endpoint, 'Range', (c, o) => c.kv.range({ key: Buffer.from(key) }, o))
    const kv = r.kvs[0]
    return kv ? { value: kv.value.toString(), leaseDec: kv.lease, modRevision: kv.mod_revision } : undefined
  }

  /** The lease's remaining TTL in seconds (-1: it no longer exists); reads, never renews. */
  async leaseTimeToLive(endpoint: string, leaseDec: string): Promise<number> {
    const r = await this.call(endpoint, 'LeaseTimeToLive', (c, o) => c.leaseClient.leaseTimeToLive({ ID: leaseDec }, o))
    return Number(r.TTL)
  }

  async leaseRevoke(endpoint: string, leaseDec: string): Promise<void> {
    await this.call(endpoint, 'LeaseRevoke', (c, o) => c.leaseClient.leaseRevoke({ ID: leaseDec }, o))
  }

  /** One LeaseKeepAlive round trip; returns the renewed TTL in seconds (0 or less: the lease is gone). */
  async leaseKeepAliveOnce(endpoint: string, leaseDec: string): Promise<number> {
    return this.call(endpoint, 'LeaseKeepAlive', async (c, o) => {
      const stream = await c.leaseClient.leaseKeepAlive(o)
      return new Promise<number>((resolve, reject) => {
        let settled = false
        const finish = (f: () => void): void => { if (settled) return; settled = true; f(); try { stream.end() } catch {} }
        stream.on('data', (r: { TTL: string }) => finish(() => resolve(Number(r.TTL))))
        stream.on('error', (e: Error) => finish(() => reject(e)))
        stream.on('end', () => finish(() => reject(new ClusterError(`${endpoint}: LeaseKeepAlive stream ended without an answer`, 'rpc'))))
        stream.write({ ID: leaseDec })
      })
    })
  }

  /**
   * Creates `key` bound to `leaseDec` unless it exists (Txn: create_revision == 0). Returns
   * whether it was created, and otherwise the current value, lease and mod revision.
   */
  async createIfAbsent(endpoint: string, key: string, value: string, leaseDec: string): Promise<{ created: boolean; value?: string; leaseDec?: string; modRevision?: string }> {
    const k = Buffer.from(key)
    const r = await this.call(endpoint, 'Txn', (c, o) => c.kv.txn({
      compare: [{ key: k, target: 'Create', result: 'Equal', create_revision: 0 }],
      success: [{ request_put: { key: k, value: Buffer.from(value), lease: leaseDec } }],
      failure: [{ request_range: { key: k } }],
    }, o))
    if (r.succeeded) return { created: true }
    const kv = r.responses[0]?.response_range?.kvs[0]
    if (!kv) return { created: false }
    return { created: false, value: kv.value.toString(), leaseDec: kv.lease, modRevision: kv.mod_revision }
  }

  /** Replaces `key` with `value` bound to `leaseDec` only if it was not modified since `modRevision`. */
  async replaceIfUnchanged(endpoint: string, key: string, modRevision: string, value: string, leaseDec: string): Promise<boolean> {
    const k = Buffer.from(key)
    const r = await this.call(endpoint, 'Txn', (c, o) => c.kv.txn({
      compare: [{ key: k, target: 'Mod', result: 'Equal', mod_revision: modRevision }],
      success: [{ request_put: { key: k, value: Buffer.from(value), lease: leaseDec } }],
    }, o))
    return r.succeeded
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
   * Maintenance.Snapshot into `path` (tmp + fsync + rename). etcd appends the SHA-256 of every
   * preceding byte to the stream; it is verified on the fly (the last 32 bytes are held back
   * from the hash) and returned as the snapshot's checksum, so the file is hashed once, while it
   * streams, and never read back. Chunks are written in 4 MiB batches.
   */
  async snapshot(endpoint: string, path: string): Promise<{ sha256: string; size: number; trailerOk: boolean }> {
    const sc = this.snapshotClient(endpoint)
    // Dial through a bounded Status first; the stream itself is not bounded by --command-timeout.
    await sc.call('Status', (o) => sc.etcd.maintenance.status(o))
    const stream = await sc.etcd.maintenance.snapshot()
    const tmp = `${path}.part`
    const fd = openSync(tmp, 'w', 0o600)
    const body = createHash('sha256')
    let size = 0
    // The last 32 bytes seen so far (the trailer candidate); everything before them is hashed.
    let held: Buffer = Buffer.alloc(0)
    let batch: Buffer[] = []
    let batchBytes = 0
    const flush = (): void => {
      if (batchBytes === 0) return
      writevAll(fd, batch)
      batch = []
      batchBytes = 0
    }
    try {
      await new Promise<void>((resolve, reject) => {
        // The stream's response header carries no revision on etcd 3.4 (0): the snapshot step
        // reads it from the db itself.
        stream.on('data', (item: { blob: Buffer }) => {
          const b = item.blob
          if (b.length === 0) return
          size += b.length
          batch.push(b)
          batchBytes += b.length
          if (batchBytes >= WRITE_BATCH) flush()
          if (b.length >= 32) {
            if (held.length) body.update(held)
            body.update(b.subarray(0, b.length - 32))
            held = b.subarray(b.length - 32)
          } else {
            const all = Buffer.concat([held, b])
            if (all.length > 32) body.update(all.subarray(0, all.length - 32))
            held = all.subarray(Math.max(0, all.length - 32))
          }
        })
        stream.on('error', reject)
        stream.on('end', () => resolve())
      })
      flush()
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    const digest = body.digest()
    const trailerOk = held.length === 32 && digest.equals(held)
    renameSync(tmp, path)
    return { sha256: digest.toString('hex'), size, trailerOk }
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

/** writev until every byte of `bufs` is written (a short write resumes where it stopped). */
function writevAll(fd: number, bufs: Buffer[]): void {
  let rest = bufs
  while (rest.length > 0) {
    let n = writevSync(fd, rest)
    const next: Buffer[] = []
    for (const b of rest) {
      if (n >= b.length) { n -= b.length; continue }
      next.push(n > 0 ? b.subarray(n) : b)
      n = 0
    }
    rest = next
  }
}

/** Decimal → hex helper exported for tests. */
export { hexOf, decOf }
