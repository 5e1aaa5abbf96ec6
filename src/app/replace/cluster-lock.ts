/**
 * The cluster-wide replace lock (RECOVERY.md §6.2, Talos' upgrade-mutex pattern): the key
 * `/etcd-inspect/replace-lock` in the cluster itself, bound to a lease, holding the op ID, host
 * and PID. The local lock only stops two runs on one host; this one stops two hosts (each with
 * its own state dir) from replacing members of one cluster at once. The lease is kept alive
 * while apply runs and revoked at the end; a killed run's key disappears when its lease expires.
 */
import { hostname } from 'node:os'
import { UnsafeOperationError } from '../../errors.js'
import { idHex } from '../../format/ids.js'
import type { ClusterOps } from './cluster-ops.js'

export const CLUSTER_LOCK_KEY = '/etcd-inspect/replace-lock'
/** Seconds, the default lease TTL (`--lock-ttl`); the keep-alive runs every third of it. */
export const CLUSTER_LOCK_TTL = 10
/**
 * Bounds for `--lock-ttl`, in seconds. Below 5 a keep-alive every TTL/3 competes with one slow
 * round trip; above 600 a killed run blocks every other host for more than ten minutes.
 */
export const CLUSTER_LOCK_TTL_MIN = 5
export const CLUSTER_LOCK_TTL_MAX = 600

/** Why `ttlSec` is not an acceptable lock TTL, or undefined if it is. */
export function lockTtlProblem(ttlSec: number): string | undefined {
  if (!Number.isInteger(ttlSec) || ttlSec < CLUSTER_LOCK_TTL_MIN || ttlSec > CLUSTER_LOCK_TTL_MAX) {
    return `the cluster lock TTL must be whole seconds between ${CLUSTER_LOCK_TTL_MIN} and ${CLUSTER_LOCK_TTL_MAX}`
  }
  return undefined
}

/** The lock key's value. `ttlSec` is absent in keys written before `--lock-ttl` existed. */
export interface ClusterLockHolder { opId: string; host: string; pid: number; at: string; leaseIdHex: string; ttlSec?: number }

/** `op <id> on host <host> (pid <pid>, since <ts>, lease <hex>[, <n>s left])`: the holder as every message names it. */
export function holderText(h: ClusterLockHolder, ttlLeftSec?: number): string {
  return `op ${h.opId} on host ${h.host} (pid ${h.pid}, since ${h.at}, lease ${h.leaseIdHex}${ttlLeftSec !== undefined ? `, ${ttlLeftSec}s left` : ''})`
}

function parseHolder(v: string | undefined): ClusterLockHolder | undefined {
  try {
    const h = JSON.parse(v ?? '') as ClusterLockHolder
    return typeof h.opId === 'string' ? h : undefined
  } catch {
    return undefined
  }
}

/** Connection failures move on to the next endpoint; an answer from etcd is final. */
function unreachable(e: unknown): boolean {
  const code = (e as { code?: string }).code ?? ''
  return /^(unreachable|unavailable|dial-timeout|timeout|tls)/.test(code) || /UNAVAILABLE|ECONNREFUSED|No connection established|deadline/i.test((e as Error).message ?? '')
}

async function onAny<T>(endpoints: string[], fn: (ep: string) => Promise<T>): Promise<T> {
  let last: unknown
  for (const ep of endpoints) {
    try {
      return await fn(ep)
    } catch (e) {
      last = e
      if (!unreachable(e)) throw e
    }
  }
  throw last ?? new Error('no endpoint to take the cluster lock on')
}

export class ClusterLock {
  /** Why the lock was lost while held (then apply stops before the next step). */
  lost: string | undefined
  private timer: NodeJS.Timeout | undefined
  private busy = false

  private constructor(
    private readonly ops: ClusterOps,
    private readonly endpoints: () => string[],
    readonly holder: ClusterLockHolder,
    private leaseDec: string,
    private readonly ttl: number,
  ) {}

  /**
   * Takes the lock or throws UnsafeOperationError naming the holder. A key left by this same
   * operation (a killed run whose lease has not expired yet) is taken over: resume must not wait
   * for its own ghost.
   */
  static async acquire(ops: ClusterOps, endpoints: () => string[], opId: string, ttl = CLUSTER_LOCK_TTL): Promise<ClusterLock> {
    return onAny(endpoints(), async (ep) => {
      const leaseDec = await ops.leaseGrant(ep, ttl)
      const holder: ClusterLockHolder = { opId, host: hostname(), pid: process.pid, at: new Date().toISOString(), leaseIdHex: idHex(BigInt(leaseDec)), ttlSec: ttl }
      const value = JSON.stringify(holder)
      const r = await ops.createIfAbsent(ep, CLUSTER_LOCK_KEY, value, leaseDec)
      if (!r.created) {
        const cur = parseHolder(r.value)
        const own = cur?.opId === opId && r.modRevision !== undefined && await ops.replaceIfUnchanged(ep, CLUSTER_LOCK_KEY, r.modRevision, value, leaseDec)
        if (!own) {
          await ops.leaseRevoke(ep, leaseDec).catch(() => undefined)
          const who = cur ? holderText(cur) : `an unreadable holder (${JSON.stringify(r.value ?? '').slice(0, 120)})`
          // The holder's own TTL bounds the wait, not ours (it may have been started with another --lock-ttl).
          throw new UnsafeOperationError(`another replacement holds the cluster lock ${CLUSTER_LOCK_KEY}: ${who}; nothing was changed`, 'cluster-locked',
            `wait for it to finish; if that process is gone its lease expires within ${cur?.ttlSec ?? ttl}s`)
        }
        if (r.leaseDec && r.leaseDec !== '0') await ops.leaseRevoke(ep, r.leaseDec).catch(() => undefined)
      }
      const lock = new ClusterLock(ops, endpoints, holder, leaseDec, ttl)
      lock.timer = setInterval(() => void lock.keepAlive(), Math.max(1000, (ttl * 1000) / 3))
      lock.timer.unref()
      return lock
    })
  }

  /**
   * Renews the lease on any endpoint that answers. If the lease expired anyway (every endpoint
   * unreachable for a whole TTL), the key is taken again unless someone else took it meanwhile.
   */
  private async keepAlive(): Promise<void> {
    if (this.busy || this.lost) return
    this.busy = true
    try {
      const ttl = await onAny(this.endpoints(), (ep) => this.ops.leaseKeepAliveOnce(ep, this.leaseDec)).catch(() => undefined)
      if (ttl === undefined || ttl > 0) return
      await onAny(this.endpoints(), async (ep) => {
        const leaseDec = await this.ops.leaseGrant(ep, this.ttl)
        const holder = { ...this.holder, leaseIdHex: idHex(BigInt(leaseDec)) }
        const r = await this.ops.createIfAbsent(ep, CLUSTER_LOCK_KEY, JSON.stringify(holder), leaseDec)
        const cur = parseHolder(r.value)
        if (r.created || cur?.opId === this.holder.opId) {
          this.leaseDec = leaseDec
          return
        }
        await this.ops.leaseRevoke(ep, leaseDec).catch(() => undefined)
        this.lost = `the cluster lock expired and op ${cur?.opId ?? '?'} on host ${cur?.host ?? '?'} took it`
      }).catch(() => undefined)
    } finally {
      this.busy = false
    }
  }

  /** The lease TTL this lock was granted with, in seconds. */
  get ttlSec(): number {
    return this.ttl
  }

  /** Revokes the lease (which deletes the key). Best effort: otherwise the key expires with the lease. */
  async release(): Promise<boolean> {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    return onAny(this.endpoints(), (ep) => this.ops.leaseRevoke(ep, this.leaseDec)).then(() => true, () => false)
  }
}

/** What a read-only look at the lock key found. */
export type ClusterLockPeek =
  | { state: 'free' }
  | { state: 'held'; holder?: ClusterLockHolder; raw?: string; leaseIdHex: string; ttlLeftSec?: number }
  | { state: 'unknown'; error: string }

/**
 * Reads the lock key (a Range, and LeaseTimeToLive for the time left): never a put, a lease or
 * a delete, so `plan` and `abort` can look without taking anything. The endpoints are asked in
 * parallel and the first answer wins: this is advice, and a dead member must not cost a dial
 * timeout each.
 */
export async function peekClusterLock(ops: ClusterOps, endpoints: string[]): Promise<ClusterLockPeek> {
  if (endpoints.length === 0) return { state: 'unknown', error: 'no endpoint to ask' }
  try {
    return await Promise.any(endpoints.map(async (ep): Promise<ClusterLockPeek> => {
      const kv = await ops.getKey(ep, CLUSTER_LOCK_KEY)
      if (!kv) return { state: 'free' }
      const leaseIdHex = idHex(BigInt(kv.leaseDec || '0'))
      const ttlLeftSec = kv.leaseDec && kv.leaseDec !== '0' ? await ops.leaseTimeToLive(ep, kv.leaseDec).catch(() => undefined) : undefined
      const holder = parseHolder(kv.value)
      return { state: 'held', ...(holder ? { holder } : { raw: kv.value.slice(0, 120) }), leaseIdHex, ...(ttlLeftSec !== undefined && ttlLeftSec >= 0 ? { ttlLeftSec } : {}) }
    }))
  } catch (e) {
    const first = (e as AggregateError).errors?.[0] as Error | undefined
    return { state: 'unknown', error: (first?.message ?? String(e)).split('\n')[0]! }
  }
}

/** One phrase for messages: who holds the lock key, or that it could not be read. */
export function peekText(p: ClusterLockPeek): string {
  if (p.state === 'free') return `the cluster lock ${CLUSTER_LOCK_KEY} is free`
  if (p.state === 'unknown') return `the cluster lock ${CLUSTER_LOCK_KEY} could not be checked (${p.error})`
  return `the cluster lock ${CLUSTER_LOCK_KEY} is held by ${p.holder ? holderText(p.holder, p.ttlLeftSec) : `an unreadable holder (${JSON.stringify(p.raw ?? '')}, lease ${p.leaseIdHex})`}`
}
