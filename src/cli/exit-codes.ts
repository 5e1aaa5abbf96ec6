/**
 * The one table that maps outcomes to process exit codes (documented in the README).
 * Codes below 10 are general; 10-30 are the pre-restart verdicts of `check` (RECOVERY.md §4).
 */
import { ClusterError, DecodeError, InputError, InspectError, InstallError, StalledError, UnsafeOperationError, UsageError } from '../errors.js'

export const ExitCode = {
  OK: 0,
  /** Usage error: bad flags or arguments. */
  Usage: 2,
  /** Input error: missing path, permission, not a data dir. */
  Input: 3,
  /** Corruption: bytes that do not decode, CRC mismatch, broken chain, bad page. */
  Corrupt: 4,
  /** The only finding is a torn tail in the last WAL segment (normal after a crash). */
  TornTail: 5,
  /** The live cluster could not be reached or refused a request. */
  Cluster: 6,
  /** A destructive step was refused; nothing was changed. */
  Refused: 7,
  /** A replacement stopped waiting: the learner made no progress for the stall timeout (resume continues). */
  Stalled: 8,
  /** `compare`: members diverged (their HashKV differs at a common revision). */
  CompareDiverged: 40,
  /** `compare`: a member is behind the others (informational: nothing diverged). */
  CompareBehind: 41,
  /** `compare`: the dirs are not from one cluster. */
  CompareNotOneCluster: 42,
  /** `certs`: warnings only (e.g. a certificate expiring within --warn-days). */
  CertsWarnings: 45,
  /** `certs`: at least one error in the member's TLS set. */
  CertsErrors: 46,
  /** A bug in etcd-inspect (please report with --debug output). */
  Internal: 70,
} as const

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return ExitCode.Usage
  if (err instanceof InputError) return ExitCode.Input
  if (err instanceof DecodeError) return err.code === 'torn-tail' ? ExitCode.TornTail : ExitCode.Corrupt
  if (err instanceof StalledError) return ExitCode.Stalled
  if (err instanceof ClusterError) return ExitCode.Cluster
  if (err instanceof UnsafeOperationError) return ExitCode.Refused
  // a missing compiled worker is a broken install: the internal code, with the one line saying so
  if (err instanceof InstallError) return ExitCode.Internal
  if (err instanceof InspectError) return ExitCode.Corrupt
  return ExitCode.Internal
}

/** One line for stderr: what went wrong and what to do next. */
export function errorLine(err: unknown): string {
  if (err instanceof InspectError) {
    return `Error: ${err.message}${err.hint ? ` (${err.hint})` : ''}`
  }
  const e = err as Error
  return `Error: internal error: ${e?.message ?? String(err)} (re-run with --debug and report it)`
}
