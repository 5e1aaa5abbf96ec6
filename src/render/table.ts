/**
 * cli-table3, loaded on the first table drawn: JSON output never needs it, and `require` of its
 * CommonJS build costs about half of an ES-module `import` in a fresh process (6.5 vs 11 ms). For
 * every renderer (a `wal` worker writing ndjson, `history` via the index in a fresh process).
 */
import { createRequire } from 'node:module'
import type TableT from 'cli-table3'

let Table: typeof TableT | undefined

export function newTable(opts?: TableT.TableConstructorOptions): TableT.Table {
  Table ??= createRequire(import.meta.url)('cli-table3') as typeof TableT
  return new Table(opts)
}
