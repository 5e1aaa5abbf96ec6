/**
 * The typed error hierarchy. Every error that reaches the CLI is one of these; the CLI maps the
 * class (and for DecodeError the code) to an exit code in one table (cli/exit-codes.ts).
 * Decoders under format/ throw only DecodeError.
 */

/** Base class: carries a stable machine-readable `code` and an optional `hint` (what to do next). */
export class InspectError extends Error {
  constructor(message: string, readonly code: string, readonly hint?: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/** Bad flags or arguments. */
export class UsageError extends InspectError {
  constructor(message: string, hint?: string) {
    super(message, 'usage', hint)
  }
}

/** A path that does not exist, cannot be read, or is not what the command expects. */
export class InputError extends InspectError {
  constructor(message: string, readonly path: string, code = 'input', hint?: string, options?: { cause?: unknown }) {
    super(message, code, hint, options)
  }
}

/**
 * Bytes that do not decode. `file` is the path as given (relative to the inspected dir where the
 * caller knows it) and `offset` the absolute byte offset in that file where the problem starts.
 * The message reads `file@offset: detail`, like etcd 3.6's "in file '%s' at position: %d".
 */
export class DecodeError extends InspectError {
  constructor(
    readonly file: string,
    readonly offset: number,
    code: string,
    readonly detail: string,
    hint?: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(`${file}@${offset}: ${detail}`, code, hint)
  }
}

/** The live cluster could not be reached or answered with an error. */
export class ClusterError extends InspectError {}

/** A destructive step refused because a pre-condition does not hold. Nothing was changed. */
export class UnsafeOperationError extends InspectError {}

/**
 * A wait that stopped because nothing moved for the configured time (a learner that does not
 * catch up). Nothing was lost and nothing destructive is pending: resume continues once the
 * cause is fixed. `evidence` is what the journal records with the failure.
 */
export class StalledError extends InspectError {
  constructor(message: string, code: string, hint: string | undefined, readonly evidence: Record<string, unknown>) {
    super(message, code, hint)
  }
}

/**
 * etcd-inspect itself is incomplete: a compiled file it needs (a worker thread's entry module) is
 * missing from the install. Nothing was read or written; rebuilding or reinstalling fixes it.
 */
export class InstallError extends InspectError {
  constructor(message: string, readonly path: string, hint = 'run `npm run build` (or reinstall etcd-inspect)') {
    super(message, 'install', hint)
  }
}
