/**
 * The history sources the LMDB index provides (filled in by app/index.ts); without an index,
 * `history` scans.
 */
import type { HistorySources } from './history.js'

export function indexSources(_path: string, _opts: { stateDir?: string; walDir?: string }): HistorySources {
  return {}
}
