/**
 * The scan side of `history` and `db get --rev` (app/history.ts): every revision of the query's keys
 * by one pass over the db's `key` bucket (mvcc `BE64(main)_BE64(sub)[t]` -> mvccpb.KeyValue), and its
 * WAL requests by one pass over the WAL (walpb.Record, raftpb.Entry, etcdserverpb.InternalRaftRequest).
 * Loaded only when the LMDB index (app/index-query.ts) cannot answer: a query through the index then
 * loads neither the bbolt walk nor the WAL log reader.
 */
import type { BoltFile } from '../format/bbolt/file.js'
import { bucket as findBucket, iterate } from '../format/bbolt/walk.js'
import { mvccKey } from '../format/backend/hash.js'
import { decodeKeyValue } from '../format/backend/proto.js'
import { decodeRevision } from '../format/backend/revision.js'
import { decodePayload } from '../format/raft/entry.js'
import { WalProblems } from '../format/wal/findings.js'
import { readLog } from '../format/wal/log.js'
import { matchesKey, requestsIn, type FoundRequest, type FoundRevision, type HistoryResult, type KeyQuery } from './history.js'
import { openWal } from './wal.js'

/** Every revision of the matching keys, in revision order, by one scan of the `key` bucket. */
export function* scanRevisions(f: BoltFile, q: KeyQuery): Generator<FoundRevision> {
  const b = findBucket(f, 'key')
  if (!b) return
  for (const e of iterate(f, b.bucket, { name: 'key', values: false })) {
    if (!matchesKey(q, mvccKey(e, f))) continue
    const off = e.pageOffset + e.at
    const value = e.page.slice(e.vpos, e.vsize, 'value')
    yield { rev: decodeRevision(e.key, f.file, off), kv: decodeKeyValue(value, f.file, e.page.offset + e.vpos) }
  }
}

/** Reads the WAL once and keeps the requests touching the query (entries replaced later are dropped). */
export function scanWalRequests(dir: string, walDir: string | undefined, q: KeyQuery, ctx: Parameters<typeof requestsIn>[3]): { requests: FoundRequest[]; wal: NonNullable<HistoryResult['wal']> } {
  const { layout, opened } = openWal(dir, { walDir })
  try {
    const log = readLog(opened.segments, {})
    const problems = new WalProblems()
    let found: FoundRequest[] = []
    for (const item of log.items) {
      if (item.kind === 'finding') { problems.add(item.finding); continue }
      const e = item.entry
      // A later entry with the same or lower index replaces what the log held from there on.
      if (e.replaces?.length) found = found.filter((x) => x.out.index < e.index)
      if (e.entryType !== 0) continue
      const d = { index: e.index, term: e.term, payload: decodePayload(e.entryType, e.data) }
      // e.file is already relative to the data dir (openWal's display name).
      found.push(...requestsIn(d, { file: e.file, offset: e.offset }, q, ctx))
    }
    const st = log.state
    const snapshotIndex = st.snapshots.reduce((m, s) => (s.index > m ? s.index : m), 0n)
    for (const x of found) if (x.out.index <= snapshotIndex) x.out.beforeSnapshot = true
    return {
      requests: found,
      wal: { dir: layout.walDir, source: 'scan', snapshotIndex, firstIndex: st.firstIndex, lastIndex: st.lastIndex, commit: st.hardState?.commit, requests: 0, ...problems.done(st.end?.status) },
    }
  } finally {
    opened.close()
  }
}
