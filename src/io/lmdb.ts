/**
 * The one place that loads LMDB (the `lmdb` package: the replace journal, io/journal.ts, and the
 * history index, io/index-store.ts). Loaded through `require` on purpose: its CommonJS build is one
 * file, while its ES-module build is about twenty modules (lmdb, msgpackr, weak-lru-cache, …) that
 * Node 20's ES-module loader reads and links one by one; measured in a fresh process, `require` costs
 * about 31 ms and `import` about 54 ms, on a `history` query that otherwise takes about 25 ms.
 * Types still come from the package's declarations.
 */
import { createRequire } from 'node:module'
import type * as Lmdb from 'lmdb'

// lmdb loads msgpackr, which tries its optional native string extractor (another addon, found by
// a directory search: about 10 ms). Nothing here is msgpack-encoded (the journal is JSON, the index
// binary and strings), so it is told not to; the variable is set only around the load.
const saved = process.env.MSGPACKR_NATIVE_ACCELERATION_DISABLED
process.env.MSGPACKR_NATIVE_ACCELERATION_DISABLED = 'true'
let lmdb: typeof Lmdb
try {
  lmdb = createRequire(import.meta.url)('lmdb') as typeof Lmdb
} finally {
  if (saved === undefined) delete process.env.MSGPACKR_NATIVE_ACCELERATION_DISABLED
  else process.env.MSGPACKR_NATIVE_ACCELERATION_DISABLED = saved
}

export const open: typeof Lmdb.open = lmdb.open
export type { Database, RootDatabase } from 'lmdb'
