/**
 * `etcd-inspect db space`: what uses a db's space and what `compact` + `defrag` would leave
 * (mvcc kvstore_compaction.go, backend.go `defrag`; the accounting is in format/backend/space.ts).
 * One read-only view of the db: a structural walk for the free pages (`checkDb`), then passes over
 * the `key` bucket (one, or more when the distinct keys exceed one table's bound), then the other
 * buckets for their share of the forecast.
 */
import { UsageError } from '../errors.js'
import { checkDb } from '../format/bbolt/check.js'
import { BUCKET_LEAF_FLAG } from '../format/bbolt/page.js'
import { buckets as listBuckets, iterate } from '../format/bbolt/walk.js'
import { mvccKey } from '../format/backend/hash.js'
import { decodeRevision } from '../format/backend/revision.js'
import { currentRevision, readSummary } from '../format/backend/schema.js'
import { addSpace, compareTop, emptySpace, PageEstimator, prefixOf, revisionBytes, SpaceTable, type PrefixSpace, type TopKey } from '../format/backend/space.js'
import type { KeyPartition } from '../format/backend/key-table.js'
import { formatBytes, type FormattedBytes } from '../format/value.js'
import { withDb, type DbFileInfo } from './db.js'

export interface DbSpaceOptions {
  /** Path segments kept for keys outside `/registry/` (default 1). */
  depth?: number
  /** Compaction revision of the forecast (default: the db's current revision). */
  atRevision?: bigint
  /** etcd's --quota-backend-bytes, for the room left (null: not given). */
  quotaBackendBytes?: number
  /** Entries in the largest / most-revised lists (default 10). */
  top?: number
  /** Distinct keys one pass holds before splitting (bounds memory; default 2^19, about 30 MB). */
  maxKeysPerPass?: number
}

/** One prefix row. */
export interface PrefixRow extends PrefixSpace {
  /** The prefix as text (printable UTF-8), or `0x` + hex. Empty: keys without a '/'. */
  prefix: string
  /** liveBytes + historyBytes + tombstoneBytes. */
  bytes: number
}

export interface TopKeyRow {
  key: FormattedBytes
  /** The key was longer than shown. */
  truncated: boolean
  revisions: number
  bytes: number
  latestBytes: number
  deleted: boolean
}

export interface SpaceForecast {
  /** The compaction revision assumed. */
  atRevision: bigint
  keptRevisions: number
  removedRevisions: number
  keptBytes: number
  /** Pages the db would have after the defrag (metas, freelist, root, every bucket). */
  pages: number
  /** pages * pageSize: the data size (etcd's dbSize) after compact + defrag. */
  bytes: number
  /** dataSize now minus bytes. */
  reclaimBytes: number
  /** Pages of the `key` bucket after the defrag. */
  keyBucketPages: number
  /** Pages of the other buckets, root, metas and freelist. */
  otherPages: number
  /** How the estimate is made. */
  method: string
}

export interface DbSpaceResult extends DbFileInfo {
  revision: bigint
  compactRevision: bigint
  grouping: { kubernetes: string; depth: number }
  /** Figures over every key of the `key` bucket. */
  totals: PrefixSpace & { bytes: number }
  /** Largest first. */
  prefixes: PrefixRow[]
  /** Prefixes beyond the cap were folded into one `(other)` row. */
  prefixesCapped: boolean
  /** By bytes of every revision held. */
  largestKeys: TopKeyRow[]
  mostRevisions: TopKeyRow[]
  buckets: { name: string; keys: number; allocBytes: number; inuseBytes: number; pages: number }[]
  pages: {
    pageSize: number
    /** High-water mark (pgid): pages in the data size. */
    total: number
    reachable: number
    /** Free pages below the high-water mark (listed in the freelist, or unreachable when it is not persisted). */
    free: number
    freeBytes: number
    freelistPersisted: boolean
    /** Pages the persisted freelist takes (0 when not persisted). */
    freelistPages: number
  }
  /** dataSize - free pages: etcd 3.4's `dbSizeInUse`. */
  sizeInUse: number
  forecast: SpaceForecast
  /** With --quota-backend-bytes: etcd compares its data size (pgid * pageSize) with the quota. */
  quota: { quotaBackendBytes: number; used: number; room: number; usedPercent: number; roomAfterForecast: number } | null
  /** Passes over the `key` bucket (more than 1 when the distinct keys exceeded one table). */
  passes: number
}

/** Distinct prefixes tracked before the rest is folded into `(other)`. */
const MAX_PREFIXES = 10000
const OTHER = '(other)'

const prefixText = (b: Uint8Array): string => {
  const f = formatBytes(b, 'auto')
  return f.text ?? `0x${f.hex}`
}

const topRow = (t: TopKey): TopKeyRow => ({
  key: formatBytes(t.key, 'auto'), truncated: t.truncated, revisions: t.revisions, bytes: t.bytes, latestBytes: t.latestBytes, deleted: t.deleted,
})

/** The core of `db space`: a plain result object (also used by the HTML report). */
export function collectDbSpace(path: string, opts: DbSpaceOptions = {}): DbSpaceResult {
  const depth = opts.depth ?? 1
  if (!Number.isInteger(depth) || depth < 1 || depth > 64) throw new UsageError(`--depth must be an integer from 1 to 64, got ${depth}`)
  const top = opts.top ?? 10
  const maxKeys = opts.maxKeysPerPass ?? 1 << 19
  const { db, result } = withDb(path, (f) => {
    const summary = readSummary(f)
    const current = currentRevision(summary)
    const atRevision = opts.atRevision ?? current
    if (atRevision > current || atRevision < summary.compactRevision) {
      throw new UsageError(`--at-revision ${atRevision} is outside the revisions this db holds (${summary.compactRevision}..${current})`,
        'etcd refuses to compact above the current revision or below the last compaction')
    }
    const check = checkDb(f)

    // Groups: prefix text -> index into rows.
    const ids = new Map<string, number>()
    const rows: PrefixRow[] = []
    let capped = false
    const groupOf = (key: Uint8Array): number => {
      let name = prefixText(prefixOf(key, { depth }))
      let id = ids.get(name)
      if (id !== undefined) return id
      if (rows.length >= MAX_PREFIXES) { capped = true; name = OTHER; id = ids.get(name); if (id !== undefined) return id }
      id = rows.length
      ids.set(name, id)
      rows.push({ prefix: name, bytes: 0, ...emptySpace() })
      return id
    }

    const all = listBuckets(f)
    const keyBucket = all.find((b) => b.nameText === 'key')
    const keyPages = new PageEstimator(f.pageSize, 17)
    const largest: TopKey[] = []
    const most: TopKey[] = []
    let passes = 0
    if (keyBucket) {
      const work: KeyPartition[] = [{ part: 0, parts: 1 }]
      while (work.length > 0) {
        const t = new SpaceTable(atRevision, maxKeys, work.shift()!, top)
        for (const e of iterate(f, keyBucket.bucket, { name: 'key', values: false })) {
          const r = decodeRevision(e.key, f.file, e.pageOffset + e.at)
          t.add(mvccKey(e, f), r.main, r.tombstone, revisionBytes(e.key.length, e.vsize), groupOf)
        }
        passes++
        t.drain((g, s) => addSpace(rows[g]!, s), (size, count) => keyPages.add(size, count))
        largest.push(...t.largest.items)
        most.push(...t.mostRevised.items)
        work.push(...t.pending)
      }
    }
    const totals = { ...emptySpace(), bytes: 0 }
    for (const r of rows) {
      r.bytes = r.liveBytes + r.historyBytes + r.tombstoneBytes
      addSpace(totals, r)
      totals.bytes += r.bytes
    }
    rows.sort((a, b) => b.bytes - a.bytes || (a.prefix < b.prefix ? -1 : 1))

    // The rest of the forecast: other buckets as they are, then the root bucket and the metas.
    const kp = keyPages.pages()
    const root = new PageEstimator(f.pageSize, 8)
    let otherPages = 0
    for (const b of all) {
      if (b === keyBucket) { root.add(16 + b.name.length + 16); continue }
      const est = new PageEstimator(f.pageSize, 8)
      let sub = false
      for (const e of iterate(f, b.bucket, { name: b.nameText, values: false })) {
        if ((e.flags & BUCKET_LEAF_FLAG) !== 0) sub = true
        est.add(revisionBytes(e.key.length, e.vsize))
      }
      if (!sub && est.inlineable()) root.add(16 + b.name.length + 16 + est.inuse)
      else { root.add(16 + b.name.length + 16); otherPages += est.pages().total }
    }
    otherPages += root.pages().total + 2 + (check.freelistPersisted ? 1 : 0)
    const pages = kp.total + otherPages
    const forecastBytes = pages * f.pageSize
    const forecast: SpaceForecast = {
      atRevision, keptRevisions: totals.keptRevisions, removedRevisions: totals.revisions - totals.keptRevisions, keptBytes: totals.keptBytes,
      pages, bytes: forecastBytes, reclaimBytes: f.dataSize - forecastBytes, keyBucketPages: kp.total, otherPages,
      method: 'compaction keeps every revision above the compaction revision and the newest one at or below it unless it is a tombstone; defrag writes each bucket in key order with FillPercent 0.9 (bbolt splitIndex, 2 elements per page at least, overflow pages for large ones)',
    }
    const freelistPages = check.freelistPersisted ? f.header(f.meta.freelist, `meta ${f.meta.index} freelist`).overflow + 1 : 0
    const byBucket = new Map(check.buckets.map((b) => [b.name, b]))
    return {
      summary, rows, capped, totals, passes, forecast,
      largest: largest.sort(compareTop((t) => t.bytes)).slice(0, top).map(topRow),
      most: most.sort(compareTop((t) => t.revisions)).slice(0, top).map(topRow),
      buckets: all.map((b) => {
        const s = byBucket.get(b.nameText)
        return { name: b.nameText, keys: s?.keys ?? 0, allocBytes: s?.allocBytes ?? 0, inuseBytes: s?.inuseBytes ?? 0, pages: s ? s.branchPages + s.leafPages + s.overflowPages : 0 }
      }),
      pages: {
        pageSize: f.pageSize, total: f.hwm, reachable: check.reachablePages, free: check.freePages, freeBytes: check.freePages * f.pageSize,
        freelistPersisted: check.freelistPersisted, freelistPages,
      },
    }
  })
  const quota = opts.quotaBackendBytes === undefined ? null : {
    quotaBackendBytes: opts.quotaBackendBytes, used: db.dataSize, room: opts.quotaBackendBytes - db.dataSize,
    usedPercent: Math.round((db.dataSize / opts.quotaBackendBytes) * 1000) / 10, roomAfterForecast: opts.quotaBackendBytes - result.forecast.bytes,
  }
  return {
    ...db, revision: result.summary.revision, compactRevision: result.summary.compactRevision,
    grouping: { kubernetes: '/registry/<resource>/ or /registry/<group>/<resource>/', depth },
    totals: result.totals, prefixes: result.rows, prefixesCapped: result.capped,
    largestKeys: result.largest, mostRevisions: result.most, buckets: result.buckets, pages: result.pages,
    sizeInUse: db.dataSize - result.pages.freeBytes, forecast: result.forecast, quota, passes: result.passes,
  }
}
