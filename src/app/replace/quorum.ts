/**
 * Quorum math for the replace runbook (RECOVERY.md §5). etcd's own guard counts *started*
 * members; ours counts *healthy* voters (Status answered with the agreed cluster ID and leader).
 */

/** q(n) = floor(n/2) + 1. */
export function quorum(n: number): number {
  return Math.floor(n / 2) + 1
}

/** Failures an n-voter cluster with h healthy voters can still absorb (negative = no quorum). */
export function tolerance(n: number, healthy: number): number {
  return healthy - quorum(n)
}

export interface QuorumInput {
  /** Voting member IDs (hex). */
  voters: string[]
  /** Voting member IDs (hex) that answered Status healthily. */
  healthy: string[]
  /** Target member ID (hex), or undefined when it is not (or no longer) in the membership. */
  target?: string
  force: boolean
}

export interface QuorumReport {
  voters: number
  healthyVoters: number
  quorumBefore: number
  /** Failures tolerated before the operation, while the target is removed, after promotion. */
  toleranceBefore: number
  toleranceDuring: number
  toleranceAfter: number
  /** Other voters (not the target) that are unhealthy. */
  otherUnhealthy: string[]
  /** Set when the operation must not run. `forceable` refusals pass with --force. */
  refusal?: { code: string; message: string; forceable: boolean }
  warnings: string[]
}

/**
 * Decides whether an in-place replacement (remove -> archive -> add learner -> promote) may run.
 * Refuses when the removal cannot commit or the cluster would lose quorum, when another voter is
 * down (etcd then refuses the learner add: every voter must be connected), and for 1- or
 * 2-voter clusters unless forced.
 */
export function checkInPlace(inp: QuorumInput): QuorumReport {
  const n = inp.voters.length
  const healthySet = new Set(inp.healthy.filter((h) => inp.voters.includes(h)))
  const h = healthySet.size
  const targetVotes = inp.target !== undefined && inp.voters.includes(inp.target)
  const targetHealthy = targetVotes && healthySet.has(inp.target!)
  const nDuring = targetVotes ? n - 1 : n
  const hDuring = targetHealthy ? h - 1 : h
  const otherUnhealthy = inp.voters.filter((v) => v !== inp.target && !healthySet.has(v))
  const report: QuorumReport = {
    voters: n,
    healthyVoters: h,
    quorumBefore: quorum(n),
    toleranceBefore: tolerance(n, h),
    toleranceDuring: nDuring === 0 ? -1 : tolerance(nDuring, hDuring),
    toleranceAfter: tolerance(targetVotes ? n : n + 1, hDuring + 1),
    otherUnhealthy,
    warnings: [],
  }
  if (n === 0) {
    report.refusal = { code: 'no-voters', message: 'the cluster has no voting members', forceable: false }
  } else if (h < quorum(n)) {
    report.refusal = { code: 'no-quorum', message: `only ${h} of ${n} voters are healthy (quorum ${quorum(n)}): the cluster has no quorum; replacement is impossible, see RECOVERY.md §5 (disaster recovery)`, forceable: false }
  } else if (targetVotes && n === 1) {
    report.refusal = { code: 'single-member', message: 'the target is the only voter: removing it destroys the cluster; restore from a snapshot instead', forceable: false }
  } else if (targetVotes && hDuring < quorum(nDuring)) {
    report.refusal = { code: 'quorum-loss', message: `removing ${inp.target} leaves ${hDuring} healthy of ${nDuring} voters (quorum ${quorum(nDuring)}): the cluster would lose quorum (unhealthy: ${otherUnhealthy.join(', ')})`, forceable: false }
  } else if (otherUnhealthy.length > 0) {
    report.refusal = { code: 'second-member-down', message: `voter ${otherUnhealthy.join(', ')} is also unhealthy: fault tolerance would drop to ${report.toleranceDuring} and etcd refuses the learner add while a voter is down; fix or replace ${otherUnhealthy[0]} first`, forceable: false }
  } else if (targetVotes && n <= 2 && !inp.force) {
    report.refusal = { code: 'small-cluster', message: `a ${n}-member cluster tolerates no failure while a member is replaced; pass --force to accept that`, forceable: true }
  } else if (targetVotes && report.toleranceDuring < 0 && !inp.force) {
    report.refusal = { code: 'zero-tolerance', message: `fault tolerance would drop below zero during the replacement; pass --force to accept`, forceable: true }
  }
  if (!report.refusal && report.toleranceDuring === 0) report.warnings.push('the cluster tolerates no further failure until the new member is promoted')
  return report
}
