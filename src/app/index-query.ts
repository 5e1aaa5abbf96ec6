/**
 * The query side of the LMDB history index (io/index-store.ts; `etcd-inspect index`, app/index.ts,
 * builds it): the history sources `history` and `db get --rev` use while the index is current for
 * the db and its WAL — revisions by point lookups (key -> revision keys and their leaf pages), WAL
 * requests by reading only the raft entries at the stored positions (walpb.Record frame at an
 * offset, raftpb.Entry, etcdserverpb.InternalRaftRequest). Kept apart from the build so that a query
 * loads neither the sorter, the WAL log reader nor the worker pool.
 */
import { relative } from 'node:path'
import { UsageError } from '../errors.js'
import type { BoltFile } from '../format/bbolt/file.js'
import { decodeRevision, type Revision } from '../format/backend/revision.js'
import { decodeEntry } from '../format/raft/entry.js'
import { Frame, FrameCursor } from '../format/wal/frame.js'
import { decodeRecord, RecordType } from '../format/wal/record.js'
import { openFile, type ByteSource } from '../io/byte-source.js'
import { fileIdentity, INDEX_FORMAT, IndexStore, indexKey, sameIdentity, unpackWalPos, type IndexIdentity, type IndexMeta } from '../io/index-store.js'
import { listWalDir } from '../io/wal-files.js'
import { DEFAULT_STATE_DIR } from '../io/witness.js'
import { locateDb } from '../io/bbolt-file.js'
import type { Replacement } from './index-wal.js'
import { lookupRevisions, matchesKey, prefixEnd, requestsIn, type FoundRequest, type HistoryResult, type HistorySources, type KeyQuery } from './history.js'

/** The data dir of a located db (`<dir>/member/snap/db`), or null for a db file elsewhere. */
export function dataDirOf(dbPath: string): string | null {
  const tail = '/member/snap/db'
  return dbPath.endsWith(tail) ? dbPath.slice(0, -tail.length) || '/' : null
}

/** The WAL segments of a WAL dir as the index records them (name and size). */
export function walSegments(walDir: string): { name: string; size: number }[] {
  return listWalDir(walDir).segments.map((s) => ({ name: s.name, size: s.size }))
}

export const sameSegments = (a: { name: string; size: number }[], b: { name: string; size: number }[]): boolean =>
  a.length === b.length && a.every((x, i) => x.name === b[i]!.name && x.size === b[i]!.size)

/** Reads the raft entry whose WAL record frame starts at `offset` (as the reader reported it). */
export function readWalEntryAt(src: ByteSource, file: string, offset: number) {
  // The one frame reader: the length word checked against the file before the frame is read. One
  // read of 8 KiB covers the frame of most requests (a bigger one gets a buffer of its size); the
  // decoded entry points into the buffer, so each entry has its own.
  const cur = new FrameCursor(8 * 1024).reset(src, offset)
  const k = cur.next()
  if (k !== Frame.Ok || !cur.whole()) throw new UsageError(`${file}@${offset}: ${k === Frame.ZeroWord ? 'no WAL record there (a zero length word)' : 'the WAL is shorter than the index says'}`, 'rebuild the index: etcd-inspect index <dir>')
  const rec = decodeRecord(cur.buf, cur.recStart, cur.recStart + cur.recBytes, file, cur.start)
  if (rec.type !== RecordType.Entry) throw new UsageError(`${file}@${offset}: not an entry record (type ${rec.type})`, 'rebuild the index: etcd-inspect index <dir>')
  return decodeEntry(rec.data, 0, rec.data.length, file, cur.start + cur.recStart)
}

/** Revisions in the index for the query: dup values of the key, or of every key in the prefix range. */
function indexedRevisions(store: IndexStore, q: KeyQuery): (Revision & { pgid: bigint })[] {
  const out: (Revision & { pgid: bigint })[] = []
  const add = (v: Uint8Array) => {
    const b = Buffer.from(v.buffer, v.byteOffset, v.byteLength)
    out.push({ ...decodeRevision(b.subarray(0, b.length - 8)), pgid: b.readBigUInt64BE(b.length - 8) })
  }
  if (!q.prefix) for (const v of store.revs.getValues(indexKey(q.key))) add(v)
  else {
    const end = prefixEnd(q.key)
    for (const { value } of store.revs.getRange({ start: indexKey(q.key), ...(end ? { end: indexKey(end) } : {}) })) add(value)
    out.sort((a, b) => (a.main !== b.main ? (a.main < b.main ? -1 : 1) : a.sub < b.sub ? -1 : a.sub > b.sub ? 1 : 0))
  }
  return out
}

/**
 * The history sources backed by the index of `path`'s db, when it is current; each returns null
 * (and says why in `notes`) when it is not, and `history` scans instead.
 */
export function indexSources(path: string, opts: { stateDir?: string; walDir?: string }): HistorySources & { notes: string[] } {
  const notes: string[] = []
  const stateDir = opts.stateDir ?? DEFAULT_STATE_DIR
  let dbPath: string
  try {
    dbPath = locateDb(path).path
  } catch {
    return { notes }
  }
  let meta: IndexMeta | null = null
  // One open of the index for both sources (an LMDB open is most of a query's cost); `close` ends it.
  let store: IndexStore | null | undefined
  const withStore = <T>(fn: (s: IndexStore) => T): T | null => {
    if (store === undefined) {
      try {
        store = IndexStore.open(stateDir, dbPath, false)
      } catch {
        store = null
      }
    }
    const s = store
    if (!s) return null
    meta ??= s.readMeta()
    if (meta?.complete && meta.format !== INDEX_FORMAT) { notes.push(`the index under ${s.path} has another format: scanned instead; run \`etcd-inspect index\` again`); return null }
    return meta?.complete ? fn(s) : null
  }
  return {
    notes,
    close() {
      store?.close()
      store = null
    },
    revisions(f: BoltFile, q: KeyQuery) {
      return withStore((s) => {
        const id: IndexIdentity = { ...fileIdentity(f.file), txid: String(f.meta.txid), pgid: String(f.meta.pgid) }
        if (!sameIdentity(meta!, id)) {
          notes.push(`the index under ${s.path} was built for another state of this db (txid ${meta!.txid}, now ${id.txid}): scanned instead; run \`etcd-inspect index\` again`)
          return null
        }
        // Keys longer than the LMDB key keep a hash: check the full key in the db.
        return [...lookupRevisions(f, indexedRevisions(s, q))].filter((r) => matchesKey(q, r.kv.key))
      })
    },
    walRequests(q, ctx) {
      return withStore((s) => {
        const w = meta!.wal as (IndexMeta['wal'] & { replacements?: Replacement[] }) | null
        if (!w) return null
        if (!sameSegments(w.segments, walSegments(w.dir))) {
          notes.push('the WAL changed since the index was built: WAL scanned instead; run `etcd-inspect index` again')
          return null
        }
        const positions = new Map<string, ReturnType<typeof unpackWalPos>>()
        const add = (v: Uint8Array) => { const p = unpackWalPos(v); positions.set(`${p.segment}@${p.offset}`, p) }
        if (!q.prefix) for (const v of s.wal.getValues(indexKey(q.key))) add(v)
        else {
          const end = prefixEnd(q.key)
          for (const { value } of s.wal.getRange({ start: indexKey(q.key), ...(end ? { end: indexKey(end) } : {}) })) add(value)
        }
        for (const { value } of s.ranges.getRange({})) add(value)
        const sorted = [...positions.values()].sort((a, b) => a.segment - b.segment || a.offset - b.offset)
        const sources = new Map<number, ByteSource>()
        const dir = dataDirOf(dbPath) ?? w.dir
        let found: FoundRequest[] = []
        try {
          for (const p of sorted) {
            const seg = w.segments[p.segment]!
            const full = `${w.dir}/${seg.name}`
            let src = sources.get(p.segment)
            if (!src) sources.set(p.segment, (src = openFile(full)))
            const d = readWalEntryAt(src, full, p.offset)
            found.push(...requestsIn(d, { file: relative(dir, full) || full, offset: p.offset }, q, ctx))
          }
        } finally {
          for (const src of sources.values()) src.close()
        }
        // Drop requests a later entry replaced (same rule as the scan).
        for (const rp of w.replacements ?? []) {
          const from = BigInt(rp.fromIndex)
          found = found.filter((x) => !(x.out.index >= from && before(x.out, rp, w.segments)))
        }
        const snap = BigInt(w.snapshotIndex)
        for (const x of found) if (x.out.index <= snap) x.out.beforeSnapshot = true
        const wal: NonNullable<HistoryResult['wal']> = {
          dir: w.dir, source: 'index', snapshotIndex: snap, firstIndex: w.firstIndex === undefined ? undefined : BigInt(w.firstIndex),
          lastIndex: w.lastIndex === undefined ? undefined : BigInt(w.lastIndex), commit: w.commit === undefined ? undefined : BigInt(w.commit), requests: 0,
          end: w.end ?? 'clean', problems: w.problems ?? [],
        }
        return { requests: found, wal }
      })
    },
  }
}

/** True when the request at (file, offset) comes before the replacement in log order. */
function before(x: { file: string; offset: number }, rp: Replacement, segs: { name: string }[]): boolean {
  const seg = segs.findIndex((s) => x.file.endsWith(s.name))
  return seg < rp.segment || (seg === rp.segment && x.offset < rp.offset)
}
