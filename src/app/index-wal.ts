/**
 * The WAL pass of `etcd-inspect index` (app/index.ts): one read of the WAL (walpb.Record frames,
 * raftpb.Entry, etcdserverpb.InternalRaftRequest) collecting, for every key a Put, a single-key
 * DeleteRange or a Txn operation writes, the entry's position, and the positions of DeleteRanges
 * over a range, into sorters (io/sorted-runs.ts), then (`writeWal`) into the index. It touches
 * nothing the db pass uses, so it can run in a worker thread (workers/index-wal.ts) while the main
 * thread reads the db (LMDB serialises the two threads' write transactions). The keys come straight
 * from the entry's bytes (format/raft/entry.ts writtenKeys), not from decoded requests: memory
 * stays flat whatever the size of the WAL.
 */
import { decodePayload, newWrittenKeys, writtenKeys, type RequestOp } from '../format/raft/entry.js'
import { WalProblems, type WalReadEnd } from '../format/wal/findings.js'
import { readLog } from '../format/wal/log.js'
import { indexKey, MAX_INDEX_KEY, packWalPos, type IndexStore } from '../io/index-store.js'
import { PairSorter } from '../io/sorted-runs.js'
import { openWal } from './wal.js'

/** Entries replaced later: a request at or above `fromIndex` logged before (segment, offset) was overwritten. */
export interface Replacement { fromIndex: string; segment: number; offset: number }

/** What the WAL pass found besides the pairs (plain data: it crosses the worker boundary). */
export interface WalStats extends WalReadEnd {
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
  let ranges = 0
  const wk = newWrittenKeys()
  const wal = new PairSorter(indexPath, 'wal')
  const rangeSorter = new PairSorter(indexPath, 'ranges')
  try {
    const log = readLog(opened.segments, {})
    const problems = new WalProblems()
    for (const item of log.items) {
      if (item.kind === 'finding') { problems.add(item.finding); continue }
      const e = item.entry
      if (e.replaces?.length) replacements.push({ fromIndex: String(e.index), segment: e.segment, offset: e.offset })
      if (e.entryType !== 0) continue
      // Most entries: the keys straight from the bytes (no objects per key); others decoded in full.
      let ranged: boolean
      let pos: Buffer | null = null
      if (writtenKeys(e.data, wk)) {
        if (wk.n === 0 && !wk.range) continue
        pos = packWalPos(e.index, e.segment, e.offset)
        for (let i = 0; i < wk.n; i++) {
          const s = wk.starts[i]!
          const t = wk.ends[i]!
          if (t - s <= MAX_INDEX_KEY) wal.addSlice(e.data, s, t, pos)
          else wal.add(indexKey(e.data.subarray(s, t)), pos)
        }
        ranged = wk.range
      } else {
        const p = decodePayload(e.entryType, e.data)
        if (p.kind !== 'irr') continue
        const req = p.request
        if (req.kind !== 'put' && req.kind !== 'deleteRange' && req.kind !== 'txn') continue
        const at = (pos = packWalPos(e.index, e.segment, e.offset))
        ranged = false
        opKeys(req as RequestOp, (k) => wal.add(indexKey(k), at), () => { ranged = true })
      }
      if (ranged) { rangeSorter.add(pos.subarray(0, 8), pos); ranges++ }
    }
    const st = log.state
    const snapshotIndex = st.snapshots.reduce((m, s) => (s.index > m ? s.index : m), 0n)
    return {
      stats: {
        snapshotIndex: String(snapshotIndex), commit: st.hardState ? String(st.hardState.commit) : undefined,
        firstIndex: st.firstIndex === undefined ? undefined : String(st.firstIndex), lastIndex: st.lastIndex === undefined ? undefined : String(st.lastIndex),
        requests: 0, ranges, replacements, ...problems.done(st.end?.status),
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

/**
 * Writes the pairs of a WAL pass into the index (in key order: LMDB appends). `requests` counts
 * the (key, entry) pairs written: a key twice in one txn (both branches) is one position.
 */
export function writeWal(store: IndexStore, c: { stats: WalStats; wal: PairSorter; ranges: PairSorter }, batch: number): WalStats {
  store.writeSorted(store.wal, c.wal, batch)
  store.writeSorted(store.ranges, c.ranges, batch)
  return { ...c.stats, requests: c.wal.yielded }
}

