/**
 * `replace apply` and `replace resume`: runs a plan step by step under the local lock, writing
 * an intent record to the journal before each action and the evidence after. Every step first
 * evaluates its done predicate against the live cluster and the filesystem, so running the same
 * plan again (resume) skips what already happened and re-verifies pre-conditions before acting.
 */
import { InspectError, StalledError, UnsafeOperationError, UsageError } from '../../errors.js'
import { existsSync } from 'node:fs'
import { Journal, isUnfinished, journalPath, type JournalEvent, type OpRecord, type OpStatus } from '../../io/journal.js'
import { OpLock, breakStaleLock, liveLock, pidAlive, readLock, type LockInfo } from '../../io/oplock.js'
import { ClusterOps, type MemberListResult } from './cluster-ops.js'
import { abortCommand, resumeCommand, type Plan, type Step } from './model.js'
import { afterStep, allEndpoints, dataDirMember, handlerFor, keepMasked, liveList, newMember, type StepContext } from './steps.js'
import { quorum } from './quorum.js'
import { connectionFlagsText, shellQuote } from '../shell.js'
import { CLUSTER_LOCK_TTL, ClusterLock, lockTtlProblem, peekClusterLock, peekText, type ClusterLockPeek } from './cluster-lock.js'
import { DEFAULT_STATE_DIR } from './plan.js'
export { resumeCommand } from './model.js'

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

/** The run in progress in this process, for interruptRun (one at most per process). */
interface CurrentRun { plan: Plan; journal: Journal; lock?: OpLock; journaled: boolean; step?: Step; lastDone?: Step; lockTtlSec?: number; ended?: boolean }
let current: CurrentRun | undefined

/**
 * SIGINT/SIGTERM during apply/resume (the CLI calls this, then exits 130/143): journals the
 * interruption (the op becomes `interrupted`, resumable), releases the local lock and returns
 * the one line for stderr: which step was interrupted, that nothing is lost, how to continue.
 * Stopping anywhere is as safe as a SIGKILL: every step re-derives from the live cluster
 * whether its effect is there before acting.
 */
export function interruptRun(signal: string): string {
  const r = current
  if (r?.ended) {
    // Complete or failed, and journaled so: only the cluster lock's release was cut short.
    return `replace ${r.plan.opId}: interrupted by ${signal} after the run ended (while releasing the cluster lock, whose lease expires by itself); \`etcd-inspect replace status --state-dir ${shellQuote(r.plan.stateDir)} --op ${r.plan.opId}\` shows where it stands`
  }
  if (!r || !r.journaled) {
    r?.lock?.release()
    return `replace: interrupted by ${signal} before the operation started; nothing was changed`
  }
  const where = r.step ? `during step ${r.step.n} (${r.step.kind}: ${r.step.title})` : r.lastDone ? `after step ${r.lastDone.n} (${r.lastDone.kind})` : 'before its first step'
  const msg = `interrupted by ${signal} ${where}`
  let journaled = true
  try {
    r.journal.append(r.plan.opId, { step: r.step?.n ?? 0, kind: 'interrupted', phase: 'note', message: msg, evidence: { signal } })
    r.journal.updateOp(r.plan.opId, { status: 'interrupted', lastError: msg })
  } catch {
    journaled = false
  }
  r.lock?.release()
  const ttl = r.lockTtlSec ? `; other hosts wait for the cluster lock's lease (at most ${r.lockTtlSec}s)` : ''
  return `replace ${r.plan.opId}: ${msg}; nothing is lost: ${journaled ? `the journal ${r.journal.path} records it` : 'the journal holds every finished step'} and each step re-checks the live cluster before it acts${ttl}; continue with: ${resumeCommand(r.plan.stateDir, r.plan.opId)}`
}

/**
 * What changed in the cluster (and the target's data dir) since the plan was made: a plan is a
 * snapshot of the world, and running a new one against another world would skip steps whose
 * "done" predicates another operation satisfied (and report success for work it never did).
 */
export function changesSincePlan(plan: Plan, l: MemberListResult, dirMember: string | undefined): string[] {
  if (l.clusterIdHex !== plan.cluster.idHex) return [`the cluster answers with ID ${l.clusterIdHex}, not ${plan.cluster.idHex}`]
  const label = (m: { name: string; idHex: string }): string => `${m.name || '(unstarted)'} ${m.idHex}`
  const was = new Map(plan.cluster.members.map((m) => [m.idHex, m]))
  const now = new Map(l.members.map((m) => [m.idHex, m]))
  const out: string[] = []
  for (const m of l.members) {
    const p = was.get(m.idHex)
    if (!p) out.push(`member ${label(m)} (${m.peerURLs.join(',')}${m.isLearner ? ', learner' : ''}) was added`)
    else {
      if (p.isLearner && !m.isLearner) out.push(`member ${label(m)} was promoted`)
      if (p.peerURLs.join(',') !== m.peerURLs.join(',')) out.push(`member ${label(m)} moved from ${p.peerURLs.join(',')} to ${m.peerURLs.join(',')}`)
    }
  }
  for (const m of plan.cluster.members) if (!now.has(m.idHex)) out.push(`member ${label(m)} was removed`)
  const planned = plan.target.dataDirIdentity?.memberIdHex
  if (planned !== dirMember) out.push(`${plan.target.dataDir} holds ${dirMember ? `member ${dirMember}'s WAL` : 'no WAL'}, the plan saw ${planned ? `member ${planned}'s` : 'none'}`)
  return out
}

/**
 * A step failed and the op is journaled as failed: the hint the operator sees names the exact
 * resume command (state dir and op included), so it runs as printed.
 */
function withResume(e: unknown, plan: Plan): unknown {
  if (!(e instanceof InspectError)) return e
  const cmd = `\`${resumeCommand(plan.stateDir, plan.opId)}\``
  const hint = e.hint?.includes('`etcd-inspect replace resume`')
    ? e.hint.replace('`etcd-inspect replace resume`', cmd).replace('`replace abort`', `\`${abortCommand(plan.stateDir, plan.opId)}\``)
    : `${e.hint ? `${e.hint}; ` : ''}the journal records the failure: fix the cause, then ${cmd}`
  Object.defineProperty(e, 'hint', { value: hint })
  return e
}

/**
 * Only one unfinished operation per state dir: a second one would fight over the same member.
 * Finishing the other one replaces a member, which makes this plan stale: the hint says so.
 */
function refuseBesideUnfinished(journal: Journal, plan: Plan): void {
  const other = journal.listOps().find((o) => o.opId !== plan.opId && isUnfinished(o))
  if (other) throw new UnsafeOperationError(`operation ${other.opId} is unfinished (${other.status}); nothing was changed`, 'op-unfinished', `finish it with \`${resumeCommand(plan.stateDir, other.opId)}\` or abort it with \`${abortCommand(plan.stateDir, other.opId)}\`, then apply this plan (if that changed the membership, apply refuses this plan as stale and names what changed: make a new one)`)
}

export async function applyPlan(plan: Plan, opts: ApplyOptions = {}): Promise<ApplyResult> {
  const journal = Journal.open(plan.stateDir)
  let lock: OpLock | undefined
  const ops = opts.ops ?? new ClusterOps(plan.connection)
  const t0 = Date.now()
  let clusterLock: ClusterLock | undefined
  const run: CurrentRun = { plan, journal, journaled: false }
  current = run
  try {
    // Checked before the lock too: a refusal leaves a dead run's stale lock (what status shows) as it was.
    refuseBesideUnfinished(journal, plan)
    lock = OpLock.acquire(plan.stateDir, plan.opId)
    run.lock = lock
    let rec = journal.getOp(plan.opId)
    if (rec?.status === 'aborted') throw new UnsafeOperationError(`operation ${plan.opId} was aborted; make a new plan`, 'aborted')
    if (rec && rec.planJson !== JSON.stringify(plan)) throw new UnsafeOperationError(`operation ${plan.opId} is journaled with a different plan; use replace resume --op ${plan.opId}`, 'plan-mismatch')
    // Again under the lock: another run may have journaled an op since the check above.
    refuseBesideUnfinished(journal, plan)
    run.journaled = !!rec
    // The cluster lock lives in the cluster, so it is taken on members other than the target
    // (which this run stops). Taken before the op is journaled: a refusal leaves no trace here.
    const lockEndpoints = (): string[] => allEndpoints({ plan } as StepContext).filter((e) => !plan.target.clientURLs.includes(e))
    const journaledTtl = rec?.facts.lockTtlSec && !lockTtlProblem(Number(rec.facts.lockTtlSec)) ? Number(rec.facts.lockTtlSec) : undefined
    const lockTtl = opts.lockTtlSec ?? journaledTtl ?? plan.lockTtlSec ?? CLUSTER_LOCK_TTL
    clusterLock = await ClusterLock.acquire(ops, lockEndpoints, plan.opId, lockTtl)
    run.lockTtlSec = clusterLock.ttlSec
    if (!rec) {
      // A new operation runs only against the world it was planned for (resume re-derives instead).
      const changed = changesSincePlan(plan, await ops.memberList(allEndpoints({ plan } as StepContext)), dataDirMember(plan.target.dataDir))
      if (changed.length > 0) {
        throw new UnsafeOperationError(`plan ${plan.opId} (made ${plan.createdAt}) is stale: since then ${changed.join('; ')}; nothing was changed`, 'stale-plan',
          `make a new plan (etcd-inspect replace plan) and review it; \`etcd-inspect check ${shellQuote(plan.target.dataDir)} ${connectionFlagsText(plan.connection)}\` says what the data dir is now`)
      }

      rec = { opId: plan.opId, createdAt: new Date().toISOString(), updatedAt: '', status: 'running', planJson: JSON.stringify(plan), facts: { lockTtlSec: String(lockTtl) } }
      journal.putOp(rec)
    } else {
      // A resume without --lock-ttl keeps the TTL of the run it continues.
      rec = journal.updateOp(plan.opId, { status: 'running', facts: { lockTtlSec: String(lockTtl) } })
    }
    run.journaled = true
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
      throw withResume(e, plan)
    }
    for (const step of plan.steps) {
      if (clusterLock.lost) throw new UnsafeOperationError(`${clusterLock.lost}; stopping before step ${step.n} (${step.kind})`, 'cluster-lock-lost', `when the other run is done: \`${resumeCommand(plan.stateDir, plan.opId)}\``)
      const h = handlerFor(step)
      const st = Date.now()
      run.step = step
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
        run.step = undefined
        run.lastDone = step
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
        run.step = undefined
        run.lastDone = step
      } catch (e) {
        fail(step, e)
      }
    }
    journal.updateOp(plan.opId, { status: 'complete', lastError: undefined })
    return { opId: plan.opId, status: 'complete', resumed: !!opts.resumed, steps: outcomes, facts, totalMs: Date.now() - t0 }
  } finally {
    run.ended = true
    if (clusterLock) {
      const released = await clusterLock.release()
      if (journal.getOp(plan.opId)) journal.append(plan.opId, { step: 0, kind: 'cluster-lock', phase: 'note', message: released ? 'released the cluster lock (lease revoked)' : `could not revoke the cluster lock's lease ${clusterLock.holder.leaseIdHex}; the key expires with it` })
    }
    if (!opts.ops) ops.close()
    lock?.release()
    journal.close()
    current = undefined
  }
}

/** Where a state dir's journal was looked for, for "nothing there" messages. */
function lookedIn(stateDir: string): string {
  return existsSync(journalPath(stateDir)) ? `the journal ${journalPath(stateDir)}` : `${stateDir} (no journal there)`
}

/** Picks the op to resume: the given one, else the single unfinished one. `journal` undefined: the state dir has none. */
export function findResumable(journal: Journal | undefined, opId: string | undefined, stateDir: string): OpRecord {
  const hint = `pass --state-dir DIR if the run used another state dir; \`etcd-inspect replace status --state-dir ${shellQuote(stateDir)}\` lists the operations there`
  if (opId) {
    const r = journal?.getOp(opId)
    if (!r) throw new UsageError(`no operation ${opId} in ${lookedIn(stateDir)}`, hint)
    return r
  }
  const open = (journal?.listOps() ?? []).filter(isUnfinished)
  if (open.length === 0) throw new UsageError(`no unfinished operation in ${lookedIn(stateDir)}`, hint)
  if (open.length > 1) throw new UsageError(`several unfinished operations in ${lookedIn(stateDir)} (${open.map((o) => o.opId).join(', ')}); pass --op`)
  return open[0]!
}

export async function resumeOp(p: { stateDir?: string; opId?: string } & ApplyOptions): Promise<ApplyResult> {
  const stateDir = p.stateDir ?? DEFAULT_STATE_DIR
  const journal = Journal.openExisting(stateDir)
  let plan: Plan
  try {
    const rec = findResumable(journal, p.opId, stateDir)
    if (rec.status === 'aborted') throw new UnsafeOperationError(`operation ${rec.opId} was aborted; make a new plan`, 'aborted')
    plan = JSON.parse(rec.planJson) as Plan
  } finally {
    journal?.close()
  }
  return applyPlan(plan, { ...p, resumed: true })
}

export interface OpStatusView {
  opId: string
  /**
   * The journal's status, except that a `running` op whose run is gone (no process holds the
   * local lock: killed, host rebooted) shows as `interrupted`.
   */
  status: OpStatus
  /** The status as journaled. */
  journalStatus: OpStatus
  createdAt: string
  updatedAt: string
  target: { name: string; idHex: string }
  lastError?: string
  /** Why `interrupted` (the lock holder's PID is not running). */
  interruptedBecause?: string
  /** Unfinished ops: the first step not done (or skipped) and its journaled phase. */
  stoppedAt?: { n: number; kind: string; title: string; state: string }
  /** Unfinished ops: the command that continues it (or what to do while a run holds it). */
  next?: string
  facts: Record<string, string>
  steps: { n: number; kind: string; title: string; state: string; at?: string; message?: string; evidence?: Record<string, unknown> }[]
}

export interface StatusResult {
  stateDir: string
  /** The journal file, null when the state dir has none (nothing was ever applied there). */
  journal: string | null
  /** The local lock file, with whether its holder still runs. */
  lock?: LockInfo & { alive: boolean }
  ops: OpStatusView[]
}

function view(rec: OpRecord, events: JournalEvent[], stateDir: string, lock: StatusResult['lock']): OpStatusView {
  const plan = JSON.parse(rec.planJson) as Plan
  const last = new Map<number, JournalEvent>()
  for (const e of events) if (e.phase !== 'note') last.set(e.step, e)
  const steps = plan.steps.map((s) => {
    const e = last.get(s.n)
    return { n: s.n, kind: s.kind, title: s.title, state: e?.phase ?? 'pending', ...(e ? { at: e.at } : {}), ...(e?.message ? { message: e.message } : {}), ...(e?.evidence ? { evidence: e.evidence } : {}) }
  })
  const held = lock && lock.opId === rec.opId && lock.alive
  let status = rec.status
  let interruptedBecause: string | undefined
  if (rec.status === 'running' && !held) {
    status = 'interrupted'
    interruptedBecause = lock && lock.opId === rec.opId ? `its run (pid ${lock.pid}) is not running: killed or crashed` : 'no process holds its lock: the run was killed or crashed'
  }
  const unfinished = isUnfinished({ status })
  const stop = unfinished ? steps.find((s) => s.state !== 'done' && s.state !== 'skip') : undefined
  const next = !unfinished ? undefined : held
    ? `pid ${lock!.pid} is running it: let it finish, or interrupt it (kill -INT ${lock!.pid}) and then \`${resumeCommand(stateDir, rec.opId)}\``
    : `\`${resumeCommand(stateDir, rec.opId)}\``
  return {
    opId: rec.opId, status, journalStatus: rec.status, createdAt: rec.createdAt, updatedAt: rec.updatedAt,
    target: { name: plan.target.name, idHex: plan.target.idHex }, ...(rec.lastError ? { lastError: rec.lastError } : {}),
    ...(interruptedBecause ? { interruptedBecause } : {}),
    ...(stop ? { stoppedAt: { n: stop.n, kind: stop.kind, title: stop.title, state: stop.state } } : {}),
    ...(next ? { next } : {}),
    facts: rec.facts, steps,
  }
}

/** `replace status`: read-only; a state dir without a journal gives no operations (and no new files). */
export function replaceStatus(p: { stateDir?: string; opId?: string }): StatusResult {
  const stateDir = p.stateDir ?? DEFAULT_STATE_DIR
  const l = readLock(stateDir)
  const lock = l ? { ...l, alive: pidAlive(l.pid) } : undefined
  const journal = Journal.openExisting(stateDir)
  if (!journal) {
    if (p.opId) throw new UsageError(`no operation ${p.opId} in ${lookedIn(stateDir)}`)
    return { stateDir, journal: null, ...(lock ? { lock } : {}), ops: [] }
  }
  try {
    const recs = p.opId ? [journal.getOp(p.opId)].filter((r): r is OpRecord => !!r) : journal.listOps()
    if (p.opId && recs.length === 0) throw new UsageError(`no operation ${p.opId} in ${lookedIn(stateDir)}`)
    return { stateDir, journal: journal.path, ...(lock ? { lock } : {}), ops: recs.map((r) => view(r, journal.events(r.opId), stateDir, lock)) }
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
  /** The cluster as abort found it (null: not reachable, with the error in notes). */
  cluster: { voters: number; tolerance: number; targetInCluster: boolean; replacementIdHex: string | null } | null
  notes: string[]
}

/** The membership seen from abort (read-only), or why it could not be read. */
async function membershipFor(plan: Plan): Promise<{ list?: MemberListResult; error?: string }> {
  let ops: ClusterOps
  try {
    ops = new ClusterOps(plan.connection)
  } catch (e) {
    return { error: (e as Error).message }
  }
  try {
    return { list: await ops.memberList(planEndpoints(plan)) }
  } catch (e) {
    return { error: (e as Error).message }
  } finally {
    ops.close()
  }
}

/**
 * After this op removed the target and before a replacement votes, the cluster is one member
 * short: abort would leave it so (and a new plan sees a join, not a replacement). Returns the
 * refusal text and how to finish, or undefined when abort leaves the cluster as it found it.
 */
function strandedBy(plan: Plan, rec: OpRecord, journal: Journal, m: { list?: MemberListResult; error?: string }): { what: string; finish: string; byHand?: string } | undefined {
  const removal = plan.reason === 'MEMBER' ? plan.steps.find((s) => s.kind === 'remove-member') : undefined
  if (!removal) return undefined
  const ctl = `etcdctl ${connectionFlagsText(plan.connection)}`
  const t = plan.target
  if (m.list) {
    if (m.list.members.some((x) => x.idHex === t.idHex)) return undefined
    const nm = newMember({ plan } as StepContext, m.list)
    if (nm && !nm.isLearner) return undefined
    const voters = m.list.members.filter((x) => !x.isLearner).sort((a, b) => a.name.localeCompare(b.name))
    const tol = voters.length - quorum(voters.length)
    const byHand = nm
      ? `learner ${nm.idHex} is added for ${nm.peerURLs.join(',')}: start ${plan.replacement.name} from an empty data dir with ETCD_INITIAL_CLUSTER_STATE=existing, then \`${ctl} member promote ${nm.idHex}\``
      : `\`${ctl} member add ${shellQuote(plan.replacement.name)} --peer-urls=${plan.replacement.peerURLs.join(',')} --learner\`, start ${plan.replacement.name} from an empty data dir with ETCD_INITIAL_CLUSTER_STATE=existing, then promote it (etcdctl member promote with the ID member add printed)`
    return {
      what: `member ${t.name} ${t.idHex} was removed from cluster ${plan.cluster.idHex} by operation ${rec.opId} and no replacement votes yet: the cluster has ${voters.length} voters (${voters.map((v) => v.name || v.idHex).join(', ')}) and tolerates ${tol} failure${tol === 1 ? '' : 's'}`,
      finish: `finish the job with \`${resumeCommand(plan.stateDir, rec.opId)}\`, or join it by hand: ${byHand}`,
      byHand,
    }
  }
  // The cluster does not answer: go by the journal.
  const ev = journal.stepStates(rec.opId).get(removal.n)
  if (!ev || ev.phase === 'fail') return undefined
  return {
    what: `operation ${rec.opId} ${ev.phase === 'intent' ? 'was removing' : 'removed'} member ${t.name} ${t.idHex} (journal: step ${removal.n} ${ev.phase}) and the cluster cannot be asked whether a replacement votes (${m.error ?? 'no answer'}): it may be a member short`,
    finish: `finish the job with \`${resumeCommand(plan.stateDir, rec.opId)}\` once the cluster answers`,
  }
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
export async function abortOp(p: { stateDir?: string; opId?: string; removeLearner?: boolean; leaveRemoved?: boolean }): Promise<AbortResult> {
  const stateDir = p.stateDir ?? DEFAULT_STATE_DIR
  // Nothing to abort without a journal: say where we looked, create nothing.
  if (!existsSync(journalPath(stateDir))) findResumable(undefined, p.opId, stateDir)
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
    const rec = findResumable(journal, p.opId, stateDir)
    if (rec.status === 'complete') throw new UnsafeOperationError(`operation ${rec.opId} is complete; nothing to abort`, 'complete')
    const plan = JSON.parse(rec.planJson) as Plan
    const [peek, m] = await Promise.all([peekFor(plan), membershipFor(plan)])
    const stranded = strandedBy(plan, rec, journal, m)
    if (stranded && !p.leaveRemoved) {
      throw new UnsafeOperationError(`not aborting ${rec.opId}: ${stranded.what}; aborting would leave it so; nothing was changed`, 'member-removed',
        `${stranded.finish}; to abort anyway (it stays removed), add --leave-removed`)
    }
    // Between the look above and here a run may have started: breakStaleLock refuses a live holder again.
    const lockInfo = breakStaleLock(stateDir)
    const notes: string[] = []
    if (stranded) notes.push(`${stranded.what}; it stays removed (--leave-removed)${stranded.byHand ? `; to add it back by hand: ${stranded.byHand}` : ''}`)
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
    let cluster: AbortResult['cluster'] = null
    if (m.list) {
      const members = m.list.members.filter((x) => x.idHex !== removedLearner)
      const voters = members.filter((x) => !x.isLearner).length
      const nm = newMember({ plan } as StepContext, { ...m.list, members })
      cluster = { voters, tolerance: voters - quorum(voters), targetInCluster: members.some((x) => x.idHex === plan.target.idHex), replacementIdHex: nm?.idHex ?? null }
      if (!stranded) notes.push(`cluster ${plan.cluster.idHex}: ${voters} voters, tolerates ${cluster.tolerance} failure${cluster.tolerance === 1 ? '' : 's'}; member ${plan.target.name} ${plan.target.idHex} ${cluster.targetInCluster ? 'is still a member' : 'is not a member'}`)
    } else notes.push(`the cluster did not answer (${m.error ?? 'no answer'}); its state is unknown`)
    return { opId: rec.opId, previousStatus: rec.status, ...(removedLearner ? { removedLearner } : {}), ...(rec.facts.archivePath ? { archivePath: rec.facts.archivePath } : {}), clusterLock: peek, cluster, notes }
  } finally {
    journal.close()
  }
}
