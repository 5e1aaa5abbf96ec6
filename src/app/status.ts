/**
 * `etcd-inspect status <data-dir>`: one offline screen answering "what is this data dir?".
 * `collectStatus` is also the offline evidence of the online `check` command.
 * (First version: the result type is fixed in status-types.ts; collection lands next.)
 */
export type { StatusResult, StatusOptions, StatusMember, StatusConfChange, StatusInvariant, StatusFinding } from './status-types.js'
export { DataDirState } from './status-types.js'
import type { StatusOptions, StatusResult } from './status-types.js'

/** Collects the offline status of a data dir. Read-only; never takes a lock. */
export async function collectStatus(dir: string, opts: StatusOptions = {}): Promise<StatusResult> {
  void dir
  void opts
  throw new Error('collectStatus: not implemented yet')
}
