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
/** Seconds; the keep-alive runs every third of it. */
export const CLUSTER_LOCK_TTL = 10

export interface ClusterLockHolder { opId: string; host: string; pid: number; at: string; leaseIdHex: string }

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
      const holder: ClusterLockHolder = { opId, host: hostname(), pid: process.pid, at: new Date().toISOString(), leaseIdHex: idHex(BigInt(leaseDec)) }
      const value = JSON.stringify(holder)
      const r = await ops.createIfAbsent(ep, CLUSTER_LOCK_KEY, value, leaseDec)
      if (!r.created) {
        const cur = parseHolder(r.value)
        const own = cur?.opId === opId && r.modRevision !== undefined && await ops.replaceIfUnchanged(ep, CLUSTER_LOCK_KEY, r.modRevision, value, leaseDec)
        if (!own) {
          await ops.leaseRevoke(ep, leaseDec).catch(() => undefined)
          const who = cur ? `op ${cur.opId} on host ${cur.host} (pid ${cur.pid}, since ${cur.at}, lease ${cur.leaseIdHex})` : `an unreadable holder (${JSON.stringify(r.value ?? '').slice(0, 120)})`
          throw new UnsafeOperationError(`another replacement holds the cluster lock ${CLUSTER_LOCK_KEY}: ${who}; nothing was changed`, 'cluster-locked',
            `wait for it to finish; if that process is gone its lease expires within ${ttl}s`)
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

  /** Revokes the lease (which deletes the key). Best effort: otherwise the key expires with the lease. */
  async release(): Promise<boolean> {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    return onAny(this.endpoints(), (ep) => this.ops.leaseRevoke(ep, this.leaseDec)).then(() => true, () => false)
  }
}
