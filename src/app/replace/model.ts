/**
 * The replace plan: a versioned JSON document (STYLE.md §13, RECOVERY.md §6.2). Steps are a
 * discriminated union by `kind`; each carries its pre-conditions, the exact etcd calls or file
 * operations it performs, and rollback notes. 64-bit IDs are etcdctl hex strings here.
 */

import { connectionFlagsText, shellQuote, type FlagSource } from '../shell.js'

export const PLAN_VERSION = 1

/** The command that continues `opId` (printed by status, abort, an interrupted run and plan). */
export function resumeCommand(stateDir: string, opId: string): string {
  return `etcd-inspect replace resume --state-dir ${shellQuote(stateDir)} --op ${opId} --yes`
}

/** The command that marks `opId` aborted. */
export function abortCommand(stateDir: string, opId: string): string {
  return `etcd-inspect replace abort --state-dir ${shellQuote(stateDir)} --op ${opId} --yes`
}

/** What `replace plan` was given that the plan does not record, for the printed `replace apply`. */
export interface ApplyFlags {
  configFormat?: string
  member?: string
  dataDir?: string
  stopCmd?: string
  startCmd?: string
  systemdUnit?: string
  force?: boolean
  stallTimeout?: string
  startTimeout?: string
  lockTtl?: string
  newConfig?: string
  newStartCmd?: string
  newStopCmd?: string
  newSystemdUnit?: string
}

/**
 * The command that runs what `replace plan` just showed: the plan file when it was written (apply
 * refuses it as stale if the cluster changed), else `apply` with the same flags (it plans again;
 * `--member` pins the target, so a changed cluster is refused rather than another member replaced).
 */
export function applyCommand(plan: Plan, f: ApplyFlags, planFile?: string): string {
  if (planFile) return `etcd-inspect replace apply --plan ${shellQuote(planFile)} --yes`
  const flags: [string, string | boolean | undefined][] = [
    ['--config', plan.configPath], ['--config-format', f.configFormat], ['--member', f.member ?? plan.target.idHex], ['--data-dir', f.dataDir],
    ['--state-dir', plan.stateDir], ['--systemd-unit', f.systemdUnit], ['--stop-cmd', f.stopCmd], ['--start-cmd', f.startCmd],
    ['--new-config', f.newConfig], ['--new-systemd-unit', f.newSystemdUnit], ['--new-start-cmd', f.newStartCmd], ['--new-stop-cmd', f.newStopCmd],
    ['--force', f.force], ['--stall-timeout', f.stallTimeout], ['--start-timeout', f.startTimeout], ['--lock-ttl', f.lockTtl],
  ]
  const parts = ['etcd-inspect replace apply']
  for (const [k, v] of flags) {
    if (v === true) parts.push(k)
    else if (typeof v === 'string') parts.push(`${k} ${shellQuote(v)}`)
  }
  parts.push(connectionFlagsText(plan.connection), '--yes')
  return parts.join(' ')
}

export interface PlanMember {
  idHex: string
  name: string
  peerURLs: string[]
  clientURLs: string[]
  isLearner: boolean
}

/** The shared ConnectionOptions minus the password (never written to a plan or journal; apply reads ETCDCTL_PASSWORD). */
export interface ConnectionSpec extends FlagSource {
  dialTimeoutMs: number
  commandTimeoutMs: number
}

export type ProcessControlSpec =
  | { kind: 'commands'; stopCmd: string; startCmd: string }
  | { kind: 'systemd'; unit: string }

interface StepBase {
  /** Position in the plan, 1-based. */
  n: number
  title: string
  destructive: boolean
  preconditions: string[]
  /** The exact etcd RPCs, commands and file operations, as text for review. */
  actions: string[]
  rollback: string
}

export type Step =
  | (StepBase & { kind: 'snapshot'; endpoint: string; path: string })
  | (StepBase & { kind: 'move-leader'; fromHex: string; toHex: string })
  | (StepBase & { kind: 'stop-member'; control: ProcessControlSpec; clientURLs: string[]; peerURLs: string[] })
  | (StepBase & { kind: 'remove-member'; memberIdHex: string; peerURLs: string[] })
  | (StepBase & { kind: 'archive-data-dir'; dataDir: string; expectMemberIdHex: string; expectClusterIdHex: string })
  | (StepBase & { kind: 'add-learner'; name: string; peerURLs: string[] })
  | (StepBase & { kind: 'write-config'; path: string; content: string; diff: string })
  | (StepBase & { kind: 'start-member'; control: ProcessControlSpec; clientURLs: string[]; peerURLs: string[]; startTimeoutMs: number })
  | (StepBase & { kind: 'wait-caught-up'; clientURLs: string[]; stallTimeoutMs: number })
  | (StepBase & { kind: 'promote-learner'; peerURLs: string[]; stallTimeoutMs: number })
  | (StepBase & { kind: 'verify'; expectVoters: number })

export type StepKind = Step['kind']

export interface Plan {
  version: typeof PLAN_VERSION
  opId: string
  createdAt: string
  /** in-place (mode A): remove -> archive -> re-add; surge (mode B): add a new member on a new URL first, then retire the old one. */
  mode: 'in-place' | 'surge'
  /** Why the target is replaced: a live member, or a data dir whose member was already removed. */
  reason: 'MEMBER' | 'REMOVED_MEMBER'
  /** --force was given at plan time (small clusters). */
  force: boolean
  cluster: { idHex: string; leaderHex: string; members: PlanMember[] }
  connection: ConnectionSpec
  target: {
    /** The member ID being replaced (from membership, or from the data dir's WAL if removed). */
    idHex: string
    name: string
    peerURLs: string[]
    clientURLs: string[]
    dataDir: string
    /** Identity read from the data dir's WAL, if it has one. */
    dataDirIdentity?: { memberIdHex: string; clusterIdHex: string }
    inMembership: boolean
    wasLeader: boolean
  }
  /** The member that takes the target's place: in place, the same name/URLs/data dir; surge, a new host. */
  replacement: { name: string; peerURLs: string[]; clientURLs: string[]; dataDir: string }
  quorum: { voters: number; healthyVoters: number; toleranceBefore: number; toleranceDuring: number; toleranceAfter: number }
  stateDir: string
  configPath: string
  configFormat: 'env' | 'unit'
  tls: { checked: boolean; findings: string[] }
  warnings: string[]
  /**
   * Seconds: the TTL of the cluster lock's lease while apply runs (`--lock-ttl`). Absent in plans
   * written before the flag existed, which use the default (10).
   */
  lockTtlSec?: number
  steps: Step[]
}

/** A step before numbering (distributes Omit over the union). */
export type StepDraft = Step extends infer S ? (S extends Step ? Omit<S, 'n'> : never) : never
