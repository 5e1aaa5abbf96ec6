/**
 * The WAL pass of `etcd-inspect index` (app/index.ts): one read of the WAL (walpb.Record frames,
 * raftpb.Entry, etcdserverpb.InternalRaftRequest) collecting, for every key a Put, a single-key
 * DeleteRange or a Txn operation writes, the entry's position, and the positions of DeleteRanges
 * over a range, into sorters (io/sorted-runs.ts). No LMDB write happens here, so the pass can run
 * in a worker thread (app/index-worker.ts) while the main thread reads the db.
 */
import { decodePayload, type RequestOp } from '../format/raft/entry.js'
import { readLog } from '../format/wal/log.js'
import { indexKey, packWalPos } from '../io/index-store.js'
import { PairSorter } from '../io/sorted-runs.js'
import { openWal } from './wal.js'

/** Entries replaced later: a request at or above `fromIndex` logged before (segment, offset) was overwritten. */
export interface Replacement { fromIndex: string; segment: number; offset: number }

/** What the WAL pass found besides the pairs (plain data: it crosses the worker boundary). */
export interface WalStats {
  snapshotIndex: string
  commit?: string
  firstIndex?: string
  lastIndex?: string
  requests: number
  ranges: number
  replacements: Replacement[]
}

/** What the WAL pass of one build needs (plain data: it crosses the worker boundary). */
export interface WalJob { dir: string; walDir: string; stateDir: string; dbPath: string; batch: number }

/** Calls `fn` for every key an operation of a request writes: puts and single-key deletes; ranges apart. */
function opKeys(op: RequestOp, key: (k: Uint8Array) => void, range: () => void): void {
  if (op.kind === 'put') key(op.key)
  else if (op.kind === 'deleteRange') { if (!op.rangeEnd || op.rangeEnd.length === 0) key(op.key); else range() }
  else if (op.kind === 'txn') for (const o of [...op.success, ...op.failure]) opKeys(o, key, range)
}

/** Reads the WAL of `dir` (or `walDir`) once; run files go to `indexPath`. */
export function collectWal(dir: string, walDir: string, indexPath: string): { stats: WalStats; wal: PairSorter; ranges: PairSorter } {
  const { opened } = openWal(dir, { walDir })
  const replacements: Replacement[] = []
  let requests = 0
  let ranges = 0
  const wal = new PairSorter(indexPath, 'wal')
  const rangeSorter = new PairSorter(indexPath, 'ranges')
  try {
    const log = readLog(opened.segments, {})
    for (const item of log.items) {
      if (item.kind !== 'entry') continue
      const e = item.entry
      if (e.replaces?.length) replacements.push({ fromIndex: String(e.index), segment: e.segment, offset: e.offset })
      if (e.entryType !== 0) continue
      const p = decodePayload(e.entryType, e.data)
      if (p.kind !== 'irr') continue
      const req = p.request
      if (req.kind !== 'put' && req.kind !== 'deleteRange' && req.kind !== 'txn') continue
      const pos = packWalPos(e.index, e.segment, e.offset)
      let ranged = false
      // A key twice in one txn (both branches) is one position: counted once (the sort drops the repeat).
      const seen = req.kind === 'txn' ? new Set<string>() : null
      opKeys(req as RequestOp, (k) => {
        const ik = indexKey(k)
        if (seen) { const t = ik.toString('latin1'); if (seen.has(t)) return; seen.add(t) }
        wal.add(ik, pos)
        requests++
      }, () => { ranged = true })
      if (ranged) { rangeSorter.add(pos.subarray(0, 8), pos); ranges++ }
    }
    const st = log.state
    const snapshotIndex = st.snapshots.reduce((m, s) => (s.index > m ? s.index : m), 0n)
    return {
      stats: {
        snapshotIndex: String(snapshotIndex), commit: st.hardState ? String(st.hardState.commit) : undefined,
        firstIndex: st.firstIndex === undefined ? undefined : String(st.firstIndex), lastIndex: st.lastIndex === undefined ? undefined : String(st.lastIndex),
        requests, ranges, replacements,
      },
      wal, ranges: rangeSorter,
    }
  } catch (err) {
    wal.dispose()
    rangeSorter.dispose()
    throw err
  } finally {
    opened.close()
  }
}
