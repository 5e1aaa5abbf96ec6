/**
 * Renderers for the `db` results: JSON is the full result through toJson; table and simple show a
 * subset of the same facts.
 */
import { newTable } from './table.js'
import type { DbBucketsResult, DbCheckResult, DbFileInfo, DbGetResult, DbInfoResult, DbKeysResult, DbStatusResult } from '../app/db.js'
import type { DecodedEntry } from '../format/backend/entry.js'
import { bytesLabel } from '../format/value.js'
import { valueClassLabel } from '../format/k8s/value.js'
import { toJson, toJsonLine } from './json.js'
import type { OutputFormat, Sink } from './output.js'

const table = (head: string[]) => newTable({ head, style: { head: [], border: [] } })
const kv = (rows: [string, unknown][]): string => {
  const t = newTable({ style: { head: [], border: [] } })
  for (const [k, v] of rows) t.push({ [k]: v === undefined || v === null ? '' : String(v) })
  return t.toString()
}

function liveNote(r: DbFileInfo): string {
  const notes: string[] = []
  if (r.live.moved && !r.live.consistent) notes.push(`warning: the file moved on while it was read (txid ${r.live.txid} -> ${r.live.txidAtEnd}): pages of the view may have been reused; re-run, or inspect a copy from \`etcdctl snapshot save\``)
  else if (r.live.moved) notes.push(`note: etcd committed while the file was read (txid ${r.live.txid} -> ${r.live.txidAtEnd}); the view of txid ${r.live.txid} stayed intact`)
  if (r.live.retries > 0) notes.push(`note: retried ${r.live.retries} time(s) because etcd committed underneath`)
  if (r.snapshotTrailer.verified) {
    const v = r.snapshotTrailer.verified
    notes.push(v.ok ? `snapshot trailer: sha256 ${v.computed} verified` : `snapshot trailer: MISMATCH stored ${v.stored} computed ${v.computed}`)
  } else if (r.snapshotTrailer.present) notes.push('snapshot trailer: present (32-byte sha256, not verified by this command)')
  return notes.map((n) => n + '\n').join('')
}

export function renderDbInfo(r: DbInfoResult, w: OutputFormat): string {
  if (w === 'json' || w === 'ndjson') return (w === 'json' ? toJson(r) : toJsonLine(r)) + '\n'
  const s = r.summary
  const rows: [string, unknown][] = [
    ['file', r.path], ['page size', `${r.pageSize} (${r.pageSizeSource})`], ['file size', r.fileSize], ['data size (pgid*pageSize)', r.dataSize],
    ['meta in use', `${r.metaIndex}: ${r.metaReason}`], ['txid', r.txid],
    ['revision', s.revision], ['compact revision', s.compactRevision], ['scheduled compact revision', s.scheduledCompactRevision],
    ['consistent index', s.consistentIndex], ['term', s.term ?? '(not stored: etcd <= 3.4)'], ['schema version', s.schemaVersion],
    ['cluster version', s.clusterVersion], ['members', s.members.map((m) => `${m.idHex} ${m.name}${m.isLearner ? ' (learner)' : ''}`).join(', ')],
    ['removed members', s.removedMembers.map((m) => m.idHex).join(', ')], ['buckets', s.buckets.join(' ')],
  ]
  if (w === 'simple') return rows.map(([k, v]) => `${k}: ${v ?? ''}`).join('\n') + '\n' + liveNote(r)
  const mt = table(['meta', 'valid', 'txid', 'root', 'freelist', 'pgid', 'page size', 'checksum'])
  for (const m of r.metas) {
    mt.push([m.index, m.valid ? 'yes' : `no (${m.error!.code})`, String(m.txid), String(m.root), m.freelist === null ? 'not persisted' : String(m.freelist), String(m.pgid), m.pageSize, m.checksum])
  }
  return mt.toString() + '\n' + kv(rows) + '\n' + liveNote(r)
}

export function renderDbBuckets(r: DbBucketsResult, w: OutputFormat): string {
  if (w === 'json') return toJson(r) + '\n'
  if (w === 'ndjson') return r.buckets.map((b) => toJsonLine(b)).join('\n') + '\n'
  if (w === 'simple') return r.buckets.map((b) => `${b.name}\t${b.keys}`).join('\n') + '\n'
  const t = table(['bucket', 'keys', 'inline', 'depth', 'branch pages', 'leaf pages', 'overflow pages', 'alloc bytes', 'in-use bytes'])
  for (const b of r.buckets) t.push([b.name, b.keys, b.inline ? 'yes' : '', b.depth, b.branchPages, b.leafPages, b.overflowPages, b.allocBytes, b.inuseBytes])
  const warn = r.problems ? `warning: ${r.problems} structural problems found while walking; run \`etcd-inspect db check\`\n` : ''
  return t.toString() + '\n' + warn + liveNote(r)
}

function entryValue(e: DecodedEntry): string {
  if (e.bucket) return '(bucket)'
  if (e.error) return `error: ${e.error}`
  if (e.kv) return `${bytesLabel(e.kv.value)} ${valueClassLabel(e.kv.valueClass)}`
  if (e.decoded !== undefined) return typeof e.decoded === 'object' ? toJsonLine(e.decoded) : String(e.decoded)
  return e.value ? bytesLabel(e.value) : ''
}

/** One `db keys -w ndjson` line (without the newline). */
export function keysNdjsonLine(e: DecodedEntry): string {
  return toJsonLine(e)
}

/** One `db keys -w simple` line (without the newline). */
export function keysSimpleLine(bucket: string, e: DecodedEntry): string {
  if (bucket === 'key' && e.kv) {
    return `${e.revision!.main}_${e.revision!.sub}${e.revision!.tombstone ? 't' : ''}\t${bytesLabel(e.kv.key)}\t${e.revision!.tombstone ? 'tombstone' : entryValue(e)}`
  }
  return `${bytesLabel(e.key)}\t${entryValue(e)}`
}

/**
 * A line writer for streamed output: lines are joined into chunks of about `chunkBytes` before
 * they reach the sink (one write per chunk, not per line), and the sink's promise (back-pressure)
 * is returned to the producer, which waits for it before producing more.
 */
export function lineWriter(sink: Sink, chunkBytes = 64 << 10): { line(s: string): void | Promise<void>; end(): void | Promise<void> } {
  let parts: string[] = []
  let size = 0
  const flush = (): void | Promise<void> => {
    if (parts.length === 0) return
    const chunk = parts.join('')
    parts = []
    size = 0
    return sink.write(chunk)
  }
  return {
    line(s) {
      parts.push(s, '\n')
      size += s.length + 1
      if (size >= chunkBytes) return flush()
    },
    end: flush,
  }
}

/** The entry writer of a streamed `db keys -w ndjson|simple`. */
export function keysLineWriter(bucket: string, w: 'ndjson' | 'simple', sink: Sink, chunkBytes?: number): { entry(e: DecodedEntry): void | Promise<void>; end(): void | Promise<void> } {
  const out = lineWriter(sink, chunkBytes)
  return {
    entry: w === 'ndjson' ? (e) => out.line(keysNdjsonLine(e)) : (e) => out.line(keysSimpleLine(bucket, e)),
    end: out.end,
  }
}

export function renderDbKeys(r: DbKeysResult, w: OutputFormat): string {
  if (w === 'json') return toJson(r) + '\n'
  if (w === 'ndjson') return r.entries.map((e) => keysNdjsonLine(e) + '\n').join('')
  if (w === 'simple') return r.entries.map((e) => keysSimpleLine(r.bucket, e) + '\n').join('')
  if (r.bucket === 'key') {
    const t = table(['revision', 'key', 'create', 'mod', 'version', 'lease', 'value'])
    for (const e of r.entries) {
      if (!e.kv) { t.push([bytesLabel(e.key), '', '', '', '', '', entryValue(e)]); continue }
      const rev = `${e.revision!.main}_${e.revision!.sub}${e.revision!.tombstone ? ' (tombstone)' : ''}`
      t.push([rev, bytesLabel(e.kv.key), String(e.kv.createRevision), String(e.kv.modRevision), String(e.kv.version), e.kv.lease !== '0' ? e.kv.lease : '', e.revision!.tombstone ? '' : entryValue(e)])
    }
    return t.toString() + '\n' + (r.more ? '(more entries: raise --limit, or --limit 0 for all)\n' : '') + liveNote(r)
  }
  const t = table(['key', 'value size', 'value'])
  for (const e of r.entries) t.push([bytesLabel(e.key), e.valueSize, entryValue(e)])
  return t.toString() + '\n' + (r.more ? '(more entries: raise --limit, or --limit 0 for all)\n' : '') + liveNote(r)
}

export function renderDbGet(r: DbGetResult, w: OutputFormat): string {
  if (w === 'json' || w === 'ndjson') return (w === 'json' ? toJson(r) : toJsonLine(r)) + '\n'
  const e = r.entry
  const rows: [string, unknown][] = [['bucket', r.bucket], ['key', bytesLabel(e.key)], ['value size', e.valueSize]]
  if (e.revision) rows.push(['revision', `${e.revision.main}_${e.revision.sub}${e.revision.tombstone ? ' (tombstone)' : ''}`])
  if (e.kv) {
    rows.push(['mvcc key', bytesLabel(e.kv.key)], ['create revision', e.kv.createRevision], ['mod revision', e.kv.modRevision],
      ['version', e.kv.version], ['lease', e.kv.lease !== '0' ? e.kv.lease : ''], ['value', bytesLabel(e.kv.value)], ['value class', valueClassLabel(e.kv.valueClass)])
  } else {
    if (e.decoded !== undefined) rows.push(['decoded', typeof e.decoded === 'object' ? toJsonLine(e.decoded) : String(e.decoded)])
    if (e.value) rows.push(['value', bytesLabel(e.value)])
    if (e.error) rows.push(['error', e.error])
  }
  if (w === 'simple') return rows.map(([k, v]) => `${k}: ${v ?? ''}`).join('\n') + '\n'
  return kv(rows) + '\n' + liveNote(r)
}

export function renderDbCheck(r: DbCheckResult, w: OutputFormat): string {
  if (w === 'json' || w === 'ndjson') return (w === 'json' ? toJson(r) : toJsonLine(r)) + '\n'
  const c = r.check
  const lines: string[] = []
  for (const f of c.findings) lines.push(`${f.severity}: ${f.file}@${f.offset}: ${f.code}: ${f.detail}`)
  if (c.truncatedFindings) lines.push(`… ${c.errors + c.warnings - c.findings.length} more findings not shown`)
  const freelist = c.freelistPersisted ? 'persisted' : 'not persisted (rebuilt from reachability, as etcd on Linux)'
  lines.push(`${c.ok ? 'OK' : `${c.errors} errors found`}: ${c.reachablePages} reachable pages, ${c.freePages} free pages of ${c.pgid} (freelist ${freelist}); a defrag would reclaim ${c.reclaimableBytes} bytes`)
  return lines.join('\n') + '\n' + liveNote(r)
}

export function renderDbStatus(r: DbStatusResult, w: OutputFormat): string {
  if (w === 'json' || w === 'ndjson') return (w === 'json' ? toJson(r) : toJsonLine(r)) + '\n'
  const rows: [string, unknown][] = [
    ['file', r.path], ['revision', r.revision], ['revision range', r.keys.revisions ? `${r.keys.firstRevision}..${r.keys.lastRevision}` : '(no keys)'],
    ['compact revision', r.compactRevision], ['scheduled compact revision', r.scheduledCompactRevision],
    ['consistent index', r.consistentIndex], ['term', r.term ?? '(not stored: etcd <= 3.4)'],
    ['conf state', r.confState ? `voters ${r.confState.voters.join(',')} learners ${r.confState.learners.join(',')}` : '(not stored: etcd <= 3.4)'],
    ['storage version', r.storageVersion ?? ''], ['schema version', r.schemaVersion], ['cluster version', r.clusterVersion ?? ''],
    ['members', r.members.map((m) => `${m.id} ${m.name}${m.isLearner ? ' (learner)' : ''} ${m.peerURLs.join(',')}`).join('\n')],
    ['removed members', r.removedMembers.join(', ')],
    ['leases', r.leases.length], ['auth enabled', r.auth.enabled],
    ['users', r.auth.users.map((u) => `${u.name}[${u.roles.join(',')}]`).join(' ')], ['roles', r.auth.roles.map((x) => x.name).join(' ')],
    ['alarms', r.alarms.map((a) => `${a.memberId}:${a.alarm}`).join(' ') || 'none'],
    ['keys', `${r.keys.liveKeys} live, ${r.keys.revisions} revisions, ${r.keys.tombstones} tombstones`],
    ['hash', r.hash], ['total keys', r.totalKey], ['total size', r.totalSize], ['file size', r.fileSize],
    ['page size', r.pageSize], ['txid', `${r.txid} (meta ${r.metaIndex})`],
  ]
  if (w === 'simple') return rows.map(([k, v]) => `${k}: ${v ?? ''}`).join('\n') + '\n' + liveNote(r)
  const t = table(['hash', 'revision', 'total keys', 'total size'])
  t.push([r.hash, String(r.revision), r.totalKey, r.totalSize])
  return t.toString() + '\n' + kv(rows) + '\n' + liveNote(r)
}
