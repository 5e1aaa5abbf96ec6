/**
 * `replace apply` and `replace resume`: runs a plan step by step under the local lock, writing
 * an intent record to the journal before each action and the evidence after. Every step first
 * evaluates its done predicate against the live cluster and the filesystem, so running the same
 * plan again (resume) skips what already happened and re-verifies pre-conditions before acting.
 */
import { StalledError, UnsafeOperationError, UsageError } from '../../errors.js'
import { Journal, type JournalEvent, type OpRecord } from '../../io/journal.js'
import { OpLock, breakStaleLock, liveLock, readLock, type LockInfo } from '../../io/oplock.js'
import { ClusterOps } from './cluster-ops.js'
import type { Plan, Step } from './model.js'
import { afterStep, allEndpoints, handlerFor, keepMasked, liveList, newMember, type StepContext } from './steps.js'
import { CLUSTER_LOCK_TTL, ClusterLock, lockTtlProblem, peekClusterLock, peekText, type ClusterLockPeek } from './cluster-lock.js'
import { DEFAULT_STATE_DIR } from './plan.js'

export interface StepOutcome { n: number; kind: Step['kind']; title: string; outcome: 'done' | 'skipped'; ms: number; evidence: Record<string, unknown> }

export interface ApplyResult {
  opId: string
  status: 'complete'
  resumed: boolean
  steps: StepOutcome[]
  facts: Record<string, string>
  totalMs: number
}

export interface ApplyOptions {
  /** Called with each line of progress (the CLI writes it to stderr on a TTY). */
  progress?: (msg: string) => void
  /** Called when a step starts/finishes (the CLI prints one line per step on stderr). */
  onStep?: (s: Step, phase: 'start' | 'done' | 'skipped', ms?: number) => void
  resumed?: boolean
  /**
   * The cluster connections of the plan just built in this process (`apply` without `--plan`):
   * reused instead of dialling every member again; the caller closes them.
   */
  ops?: ClusterOps
  /**
   * Seconds: the cluster lock's lease TTL (`--lock-ttl`). Default: the TTL this op last ran
   * with (journaled), else the plan's, else CLUSTER_LOCK_TTL.
   */
  lockTtlSec?: number
}

/**
 * Test hook (hidden): ETCD_INSPECT_REPLACE_CRASH=<kind>:<intent|acted|done|inside> makes the
 * process SIGKILL itself at that point, so tests can show resume finishes from every boundary.
 */
function crashHook(kind: string, phase: string): void {
  const want = process.env.ETCD_INSPECT_REPLACE_CRASH
  if (want && want === `${kind}:${phase}`) process.kill(process.pid, 'SIGKILL')
  // ETCD_INSPECT_REPLACE_PAUSE stops the process instead (SIGSTOP) until the test sends SIGCONT,
  // so a test can change the world at an exact point of a live run (freeze the learner, hold the lock).
  const pause = process.env.ETCD_INSPECT_REPLACE_PAUSE
  if (pause && pause === `${kind}:${phase}`) process.kill(process.pid, 'SIGSTOP')
}

export async function applyPlan(plan: Plan, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const journal = Journal.open(plan.stateDir)
  let lock: OpLock | undefined
  const ops = opts.ops ?? new ClusterOps(plan.connection)
  const t0 = Date.now()
  let clusterLock: ClusterLock | undefined
  try {
    lock = OpLock.acquire(plan.stateDir, plan.opId)
    let rec = journal.getOp(plan.opId)
    if (rec?.status === 'aborted') throw new UnsafeOperationError(`operation ${plan.opId} was aborted; make a new plan`, 'aborted')
    if (rec && rec.planJson !== JSON.stringify(plan)) throw new UnsafeOperationError(`operation ${plan.opId} is journaled with a different plan; use replace resume --op ${plan.opId}`, 'plan-mismatch')
    // Only one unfinished operation per state dir: a second one would fight over the same member.
    const other = journal.listOps().find((o) => o.opId !== plan.opId && (o.status === 'running' || o.status === 'failed'))
    if (other) throw new UnsafeOperationError(`operation ${other.opId} is unfinished (${other.status}); resume or abort it first; nothing was changed`, 'op-unfinished')
    // The cluster lock lives in the cluster, so it is taken on members other than the target
    // (which this run stops). Taken before the op is journaled: a refusal leaves no trace here.
    const lockEndpoints = (): string[] => allEndpoints({ plan } as StepContext).filter((e) => !plan.target.clientURLs.includes(e))
    const journaledTtl = rec?.facts.lockTtlSec && !lockTtlProblem(Number(rec.facts.lockTtlSec)) ? Number(rec.facts.lockTtlSec) : undefined
    const lockTtl = opts.lockTtlSec ?? journaledTtl ?? plan.lockTtlSec ?? CLUSTER_LOCK_TTL
    clusterLock = await ClusterLock.acquire(ops, lockEndpoints, plan.opId, lockTtl)
    if (!rec) {
      rec = { opId: plan.opId, createdAt: new Date().toISOString(), updatedAt: '', status: 'running', planJson: JSON.stringify(plan), facts: { lockTtlSec: String(lockTtl) } }
      journal.putOp(rec)
    } else {
      // A resume without --lock-ttl keeps the TTL of the run it continues.
      rec = journal.updateOp(plan.opId, { status: 'running', facts: { lockTtlSec: String(lockTtl) } })
    }
    const facts: Record<string, string> = { ...rec.facts }
    const ctx: StepContext = {
      plan, ops, journal, facts,
      setFact: (k, v) => { facts[k] = v; journal.setFact(plan.opId, k, v) },
      progress: (m) => opts.progress?.(m),
      inside: (k) => crashHook(k, 'inside'),
      hook: (k, p) => crashHook(k, p),
    }
    journal.append(plan.opId, { step: 0, kind: 'cluster-lock', phase: 'note', message: `took the cluster lock as ${clusterLock.holder.host} pid ${clusterLock.holder.pid} (lease ${clusterLock.holder.leaseIdHex}, TTL ${clusterLock.ttlSec}s)` })
    crashHook('cluster-lock', 'taken')
    const outcomes: StepOutcome[] = []
    const fail = (step: Step, e: unknown): never => {
      const msg = (e as Error).message
      journal.append(plan.opId, { step: step.n, kind: step.kind, phase: 'fail', message: msg, ...(e instanceof StalledError ? { evidence: e.evidence } : {}) })
      journal.updateOp(plan.opId, { status: 'failed', lastError: `step ${step.n} ${step.kind}: ${msg}` })
      throw e
    }
    for (const step of plan.steps) {
      if (clusterLock.lost) throw new UnsafeOperationError(`${clusterLock.lost}; stopping before step ${step.n} (${step.kind}); resume when the other run is done`, 'cluster-lock-lost')
      const h = handlerFor(step)
      const st = Date.now()
      const found = await h.done(step, ctx)
      if (found) {
        let already = found
        try {
          const mask = await keepMasked(step, ctx, found)
          if (mask) already = { ...found, mask }
        } catch (e) {
          fail(step, e)
        }
        journal.append(plan.opId, { step: step.n, kind: step.kind, phase: 'skip', evidence: already })
        outcomes.push({ n: step.n, kind: step.kind, title: step.title, outcome: 'skipped', ms: Date.now() - st, evidence: already })
        opts.onStep?.(step, 'skipped')
        afterStep(step, ctx)
        continue
      }
      opts.onStep?.(step, 'start')
      try {
        await h.pre?.(step, ctx)
        journal.append(plan.opId, { step: step.n, kind: step.kind, phase: 'intent', message: step.actions.join('; ') })
        crashHook(step.kind, 'intent')
        const ev = await h.act(step, ctx)
        crashHook(step.kind, 'acted')
        journal.append(plan.opId, { step: step.n, kind: step.kind, phase: 'done', evidence: { ...ev, ms: Date.now() - st } })
        outcomes.push({ n: step.n, kind: step.kind, title: step.title, outcome: 'done', ms: Date.now() - st, evidence: ev })
        opts.onStep?.(step, 'done', Date.now() - st)
        crashHook(step.kind, 'done')
        afterStep(step, ctx)
      } catch (e) {
        fail(step, e)
      }
    }
    journal.updateOp(plan.opId, { status: 'complete', lastError: undefined })
    return { opId: plan.opId, status: 'complete', resumed: !!opts.resumed, steps: outcomes, facts, totalMs: Date.now() - t0 }
  } finally {
    if (clusterLock) {
      const released = await clusterLock.release()
      if (journal.getOp(plan.opId)) journal.append(plan.opId, { step: 0, kind: 'cluster-lock', phase: 'note', message: released ? 'released the cluster lock (lease revoked)' : `could not revoke the cluster lock's lease ${clusterLock.holder.leaseIdHex}; the key expires with it` })
    }
    if (!opts.ops) ops.close()
    lock?.release()
    journal.close()
  }
}

/** Picks the op to resume: the given one, else the single unfinished one. */
export function findResumable(journal: Journal, opId?: string): OpRecord {
  if (opId) {
    const r = journal.getOp(opId)
    if (!r) throw new UsageError(`no operation ${opId} in the journal`)
    return r
  }
  const open = journal.listOps().filter((o) => o.status === 'running' || o.status === 'failed')
  if (open.length === 0) throw new UsageError('no unfinished operation in the journal', 'see replace status')
  if (open.length > 1) throw new UsageError(`several unfinished operations (${open.map((o) => o.opId).join(', ')}); pass --op`)
  return open[0]!
}

export async function resumeOp(p: { stateDir?: string; opId?: string } & ApplyOptions): Promise<ApplyResult> {
  const stateDir = p.stateDir ?? DEFAULT_STATE_DIR
  const journal = Journal.open(stateDir)
  let plan: Plan
  try {
    const rec = findResumable(journal, p.opId)
    if (rec.status === 'aborted') throw new UnsafeOperationError(`operation ${rec.opId} was aborted; make a new plan`, 'aborted')
    plan = JSON.parse(rec.planJson) as Plan
  } finally {
    journal.close()
  }
  return applyPlan(plan, { ...p, resumed: true })
}

export interface OpStatusView {
  opId: string
  status: string
  createdAt: string
  updatedAt: string
  target: { name: string; idHex: string }
  lastError?: string
  facts: Record<string, string>
  steps: { n: number; kind: string; title: string; state: string; at?: string; message?: string; evidence?: Record<string, unknown> }[]
}

export interface StatusResult { stateDir: string; lock?: LockInfo; ops: OpStatusView[] }

function view(rec: OpRecord, events: JournalEvent[]): OpStatusView {
  const plan = JSON.parse(rec.planJson) as Plan
  const last = new Map<number, JournalEvent>()
  for (const e of events) if (e.phase !== 'note') last.set(e.step, e)
  return {
    opId: rec.opId, status: rec.status, createdAt: rec.createdAt, updatedAt: rec.updatedAt,
    target: { name: plan.target.name, idHex: plan.target.idHex }, ...(rec.lastError ? { lastError: rec.lastError } : {}), facts: rec.facts,
    steps: plan.steps.map((s) => {
      const e = last.get(s.n)
      return { n: s.n, kind: s.kind, title: s.title, state: e?.phase ?? 'pending', ...(e ? { at: e.at } : {}), ...(e?.message ? { message: e.message } : {}), ...(e?.evidence ? { evidence: e.evidence } : {}) }
    }),
  }
}

export function replaceStatus(p: { stateDir?: string; opId?: string }): StatusResult {
  const stateDir = p.stateDir ?? DEFAULT_STATE_DIR
  const journal = Journal.open(stateDir)
  try {
    const recs = p.opId ? [journal.getOp(p.opId)].filter((r): r is OpRecord => !!r) : journal.listOps()
    if (p.opId && recs.length === 0) throw new UsageError(`no operation ${p.opId} in the journal`)
    const lock = readLock(stateDir)
    return { stateDir, ...(lock ? { lock } : {}), ops: recs.map((r) => view(r, journal.events(r.opId))) }
  } finally {
    journal.close()
  }
}

export interface AbortResult {
  opId: string
  previousStatus: string
  removedLearner?: string
  archivePath?: string
  /** A read-only look at the cluster lock key (held by whom, free, or not checked and why). */
  clusterLock: ClusterLockPeek
  notes: string[]
}

/** The endpoints a plan knows, configured ones first (for read-only looks from abort). */
function planEndpoints(plan: Plan): string[] {
  return allEndpoints({ plan } as StepContext)
}

async function peekFor(plan: Plan | undefined): Promise<ClusterLockPeek> {
  if (!plan) return { state: 'unknown', error: 'no plan in the journal to find the cluster' }
  let ops: ClusterOps
  try {
    ops = new ClusterOps(plan.connection)
  } catch (e) {
    // Certificates moved since the plan: abort must still be able to mark the journal.
    return { state: 'unknown', error: (e as Error).message }
  }
  try {
    return await peekClusterLock(ops, planEndpoints(plan))
  } finally {
    ops.close()
  }
}

/**
 * Marks an operation aborted (resume will refuse it) and releases a stale lock. With
 * removeLearner, removes the replacement learner only if it never started (safe: it holds no
 * data and does not vote). Never touches archives or the snapshot. Refuses, changing nothing,
 * while a live process holds the local lock: that run would go on acting on an op marked
 * aborted. The cluster lock is only looked at (a get, never a delete): its lease belongs to
 * whichever run holds it and expires by itself.
 */
export async function abortOp(p: { stateDir?: string; opId?: string; removeLearner?: boolean }): Promise<AbortResult> {
  const stateDir = p.stateDir ?? DEFAULT_STATE_DIR
  const journal = Journal.open(stateDir)
  try {
    const live = liveLock(stateDir)
    if (live) {
      let plan: Plan | undefined
      try {
        const r = journal.getOp(live.opId)
        plan = r ? JSON.parse(r.planJson) as Plan : undefined
      } catch {
        plan = undefined
      }
      const peek = await peekFor(plan)
      throw new UnsafeOperationError(`replace run ${live.opId} is still running (pid ${live.pid}, since ${live.at}); ${peekText(peek)}; nothing was changed`, 'locked',
        `let it finish, or stop pid ${live.pid} first and then abort`)
    }
    const rec = findResumable(journal, p.opId)
    if (rec.status === 'complete') throw new UnsafeOperationError(`operation ${rec.opId} is complete; nothing to abort`, 'complete')
    const plan = JSON.parse(rec.planJson) as Plan
    const peek = await peekFor(plan)
    // Between the look above and here a run may have started: breakStaleLock refuses a live holder again.
    const lockInfo = breakStaleLock(stateDir)
    const notes: string[] = []
    if (lockInfo) notes.push(`released the stale lock of pid ${lockInfo.pid}`)
    if (peek.state === 'held' && peek.holder?.opId === rec.opId) notes.push(`${peekText(peek)} (this operation's; it expires with its lease, nothing was revoked)`)
    else if (peek.state === 'held') notes.push(`${peekText(peek)} (another operation)`)
    else if (peek.state === 'unknown') notes.push(`${peekText(peek)}; the journal is marked aborted anyway`)
    let removedLearner: string | undefined
    if (p.removeLearner) {
      const ops = new ClusterOps(plan.connection)
      try {
        const ctx = { plan, ops } as unknown as StepContext
        const nm = newMember(ctx, await liveList(ctx))
        if (nm && nm.isLearner && nm.name === '') {
          await ops.memberRemove(nm.idHex)
          removedLearner = nm.idHex
          journal.append(rec.opId, { step: 0, kind: 'abort', phase: 'note', message: `removed unstarted learner ${nm.idHex}` })
        } else if (nm && nm.isLearner) {
          throw new UnsafeOperationError(`learner ${nm.idHex} has started; not removing it automatically (etcdctl member remove ${nm.idHex} if you are sure)`, 'learner-started')
        } else if (nm) notes.push(`member ${nm.idHex} is already a voter; nothing rolled back`)
      } finally {
        ops.close()
      }
    }
    if (rec.facts.archivePath) notes.push(`the old data dir stays archived at ${rec.facts.archivePath}`)
    if (rec.facts.snapshotPath) notes.push(`the pre-operation snapshot stays at ${rec.facts.snapshotPath}`)
    journal.updateOp(rec.opId, { status: 'aborted' })
    return { opId: rec.opId, previousStatus: rec.status, ...(removedLearner ? { removedLearner } : {}), ...(rec.facts.archivePath ? { archivePath: rec.facts.archivePath } : {}), clusterLock: peek, notes }
  } finally {
    journal.close()
  }
}
