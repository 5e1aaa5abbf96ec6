/**
 * `etcd-inspect status <data-dir>`: one offline screen answering "what is this data dir?"
 * (issue 4; RECOVERY.md §1, §3.1). `collectStatus` is also the offline evidence of the online
 * `check` command, so it must stay fast: it reads the WAL through the summary reader (which skips
 * entry payloads it does not need), the db through its summary reader (meta page + a few
 * buckets), and only the headers and metadata of `.snap` files. Read-only; no locks are taken.
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { DecodeError, InputError, InspectError } from '../errors.js'
import { hardStateOut, idFromHex, idHex } from '../format/ids.js'
import { readSnapshot } from '../format/snap/snapshot.js'
import { summarizeV2Store } from '../format/snap/v2store.js'
import { dirIfPresent, isDir } from '../io/dir.js'
import { checkLocks, type LockCheck } from '../io/locks.js'
import { listSnapDir, locateSnapDir, readWholeFile } from '../io/snap-dir.js'
import {
  listWalSegments, readDbFacts, readWalFacts, readWalFactsFast, SourceUnavailableError,
  type DbFacts, type DbFactsReader, type WalFacts, type WalFactsReader,
} from './sources.js'
import { scanWalEntries, type WalEntryScan } from './status-entries.js'
import {
  DataDirState, type StatusCompatibility, type StatusConfChange, type StatusFinding, type StatusInvariant, type StatusMember, type StatusOptions, type StatusResult,
} from './status-types.js'

export type { StatusResult, StatusOptions, StatusMember, StatusConfChange, StatusInvariant, StatusFinding } from './status-types.js'
export { DataDirState } from './status-types.js'

/** Readers `collectStatus` uses; tests inject fakes. */
export interface StatusSources {
  readWal?: WalFactsReader
  readDb?: DbFactsReader
  /** /proc/locks text (tests). */
  procLocks?: string
}

/** Collects the offline status of a data dir (or its member/ dir). Read-only; never takes a lock. */
export async function collectStatus(dir: string, opts: StatusOptions & StatusSources = {}): Promise<StatusResult> {
  const started = performance.now()
  const loc = locateSnapDir(dir)
  const dataDir = loc.dataDir ?? dir
  const memberDir = join(dataDir, 'member')
  const walDir = opts.walDir ?? loc.walDir
  if (opts.walDir !== undefined && !isDir(opts.walDir)) {
    throw new InputError(`${opts.walDir}: no such WAL dir`, opts.walDir, 'not-found', 'pass the directory given to etcd as --wal-dir')
  }
  const snapDir = loc.snapDir
  const dbFile = snapDir && existsSync(join(snapDir, 'db')) ? join(snapDir, 'db') : null
  const segments = walDir ? listWalSegments(walDir) : []
  // .snap files count as content: a dir holding them is not "empty" even without WAL and db.
  const snapCount = snapDir ? listSnapDir(snapDir).filter((e) => e.kind === 'snap').length : 0
  const state: StatusResult['state'] = segments.length > 0 ? DataDirState.Initialized : dbFile || snapCount > 0 ? DataDirState.NoWal : DataDirState.Empty
  if (state === DataDirState.Empty && !existsSync(memberDir) && loc.snapDir === null && readdirSync(dataDir).length > 0 && !opts.walDir) {
    // A non-empty directory without member/: most likely the wrong path, not a fresh data dir.
    throw new InputError(`${dir}: not an etcd data dir (no member/ directory)`, dir, 'not-a-data-dir',
      'pass the etcd --data-dir (the directory holding member/)')
  }
  const findings: StatusFinding[] = []
  // wal.Create writes the new WAL into member/wal.tmp and renames it: a leftover means a crash
  // during the very first start (etcd removes it and creates the WAL again).
  if (existsSync(memberDir) && !opts.walDir && dirIfPresent(join(memberDir, 'wal.tmp'))) {
    findings.push({ severity: 'warning', code: 'wal-tmp-dir', file: 'member/wal.tmp',
      detail: 'member/wal.tmp/ is left from a WAL creation that did not finish (etcd creates the WAL there and renames it to member/wal)',
      hint: 'etcd removes member/wal.tmp and creates the WAL again at its next start; nothing in it was ever used' })
  }

  // Locks first: if etcd holds the dir we still read, but say so up front.
  const lockFiles = [...(dbFile ? [dbFile] : []), ...(walDir ? walFiles(walDir) : [])]
  const inUse: LockCheck = opts.skipLockCheck
    ? { checked: false, held: false, locks: [], reason: 'skipped' }
    : checkLocks(lockFiles, opts.procLocks)
  if (inUse.held) {
    const who = [...new Set(inUse.locks.map((l) => (l.pid ? `pid ${l.pid}${l.command ? ` (${l.command})` : ''}` : 'an open file description')))].join(', ')
    findings.push({ severity: 'warning', code: 'in-use', detail: `an etcd process holds this data dir (locks on ${inUse.locks.length} file(s), held by ${who}); figures are a live snapshot`,
      hint: 'query the running member online (etcdctl endpoint status) instead of restarting it' })
  }

  // db
  let db: DbFacts | null = null
  let dbIntegrity: StatusResult['integrity']['db']
  if (!dbFile) {
    dbIntegrity = { status: 'missing', detail: 'no member/snap/db' }
    if (state === DataDirState.Initialized) {
      findings.push({ severity: 'error', code: 'db-missing', detail: 'the WAL exists but member/snap/db does not',
        hint: 'etcd fails at start ("backend is missing") or rebuilds from a snapshot; replace this member' })
    }
  } else {
    try {
      db = await (opts.readDb ?? readDbFacts)(dbFile)
      const metaNote = db.meta ? `meta ${db.meta.index} (txid ${db.meta.txid}): ${db.meta.reason}` : 'meta page read'
      dbIntegrity = db.check
        ? { status: db.check.ok ? 'ok' : 'corrupt', detail: `${metaNote}; ${db.check.detail}` }
        : { status: 'not-checked', detail: `${metaNote}; schema read; no page walk (run etcd-inspect db check)` }
      if (db.meta?.fellBack) {
        findings.push({ severity: 'warning', code: 'meta-fallback', file: 'member/snap/db', detail: db.meta.reason,
          hint: 'bbolt falls back the same way; run etcd-inspect db check before trusting this db' })
      }
      if (db.check && !db.check.ok) findings.push({ severity: 'error', code: 'db-corrupt', file: 'member/snap/db', detail: db.check.detail, hint: 'replace this member' })
    } catch (err) {
      dbIntegrity = sourceFailure(err, 'db', findings)
    }
  }

  // Start the WAL read where etcd does at boot: the segment covering the last snapshot. The newest
  // readable .snap and the db's consistent index are both <= it in a healthy dir (a wrong hint only
  // costs a full read). Without either, or with allWalSegments, every segment is read.
  const newestSnap = snapFiles(snapDir, null, []).newest
  const hints = [db?.consistentIndex ?? null, newestSnap?.index ?? null].filter((x): x is bigint => x !== null)
  const walHint = opts.allWalSegments || hints.length === 0 ? undefined : hints.reduce((a, b) => (a < b ? a : b))

  // WAL
  let wal: WalFacts | null = null
  let walIntegrity: StatusResult['integrity']['wal']
  if (!walDir || segments.length === 0) {
    walIntegrity = { status: 'missing', detail: walDir ? `${walDir} holds no .wal segment` : 'no member/wal dir' }
  } else {
    try {
      const mode = opts.allWalSegments ? 'all' : opts.walRead ?? 'fast'
      const reader = opts.readWal ?? (mode === 'fast' || mode === 'frames' ? readWalFactsFast : readWalFacts)
      wal = await reader(walDir, { fromIndex: walHint, ...(mode === 'frames' ? { crcLastSegment: false } : {}) })
      walIntegrity = walEnd(wal, findings)
    } catch (err) {
      walIntegrity = sourceFailure(err, 'wal', findings)
    }
  }

  // .snap files: newest by name, and what etcd would load at boot.
  const snapInfo = snapFiles(snapDir, wal, findings)

  // Entries etcd replays at boot: versions, v2 requests, what etcd can read them (status only).
  let scan: WalEntryScan | null = null
  if (opts.scanEntries && wal && walDir && walIntegrity.status !== 'corrupt') {
    const commit0 = wal.hardState?.commit ?? null
    const usable = wal.snapshots.filter((x) => commit0 === null || x.index <= commit0)
    scan = scanWalEntries(walDir, usable.length ? usable[usable.length - 1]!.index : 0n)
  }

  // Identity and log
  const memberId = wal?.metadata?.nodeId ?? null
  const commit = wal?.hardState?.commit ?? null
  const validSnaps = wal ? wal.snapshots.filter((s) => commit === null || s.index <= commit) : []
  const lastValid = validSnaps.length ? validSnaps[validSnaps.length - 1]! : null
  const lastRecord = wal?.snapshots.length ? wal.snapshots[wal.snapshots.length - 1]! : null

  // Members
  const dbMembers: StatusMember[] | null = db
    ? [...db.members].sort((a, b) => cmp(a.id, b.id))
      .map((m) => ({ id: idHex(m.id), name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs, isLearner: m.isLearner }))
    : null
  const dbRemoved = db ? [...db.removedMembers].sort(cmp).map((id) => ({ id: idHex(id) })) : null
  const confChanges: StatusConfChange[] = (wal?.confChanges ?? []).map((c) => ({
    index: c.index, term: c.term, type: c.type, nodeId: idHex(c.nodeId),
    committed: commit !== null && c.index <= commit, ...(c.peerURLs ? { peerURLs: c.peerURLs } : {}),
  }))
  const self = memberId === null ? null : idHex(memberId)
  const selfRemoved = self === null ? null : [...confChanges].reverse().find((c) => c.type === 'remove' && c.nodeId === self) ?? null
  const selfInDb = self === null || !dbMembers ? null : dbMembers.some((m) => m.id === self)
  const selfRemovedInDb = self === null || !dbRemoved ? null : dbRemoved.some((m) => m.id === self)
  if (selfRemoved) {
    findings.push({ severity: 'error', code: 'member-removed', detail: `the WAL holds a${selfRemoved.committed ? ' committed' : 'n uncommitted'} RemoveNode of this member (${idHex(memberId!)}) at index ${selfRemoved.index}`,
      hint: 'this member was removed from the cluster: archive the dir and add the member back with an empty one (etcd-inspect replace plan)' })
  }
  if (selfRemovedInDb) {
    findings.push({ severity: 'error', code: 'member-removed', file: 'member/snap/db', detail: `this member (${idHex(memberId!)}) is in the db's members_removed bucket`,
      hint: 'peers will answer 410 Gone: archive the dir and add the member back with an empty one (etcd-inspect replace plan)' })
  }

  const membership = compareMembership(confChanges, snapInfo.v2, db, findings)
  const invariants = checkInvariants(wal, db, lastValid, lastRecord, snapDir, findings, walIntegrity.status === 'corrupt')
  const version = guessVersion(db, snapInfo.clusterVersion, snapInfo.count, lastRecord, wal?.snapshotConfState === true, scan)
  noWalFindings(state, db, dbFile, snapInfo, version, findings)
  if (state === DataDirState.Initialized && !dbFile && isV2(version.etcdGuess)) {
    // A 2.x member keeps its data in the v2 store (.snap + WAL): no db by design.
    const i = findings.findIndex((f) => f.code === 'db-missing')
    if (i >= 0) findings.splice(i, 1)
    dbIntegrity = { status: 'missing', detail: `no member/snap/db: a ${version.etcdGuess} member has none (the v3 backend came with etcd 3.0)` }
    findings.push({ severity: 'info', code: 'v2-data-dir',
      detail: `a valid etcd ${version.etcdGuess} member dir (version from ${version.decidedBy}): its data is the v2 store in the WAL${snapInfo.count ? ' and .snap files' : ''}; etcd 3.0 reads it as is, replays it and creates the v3 backend member/snap/db at its first start`,
      hint: 'to upgrade, start it with etcd 3.0 first (one minor version at a time), or read it with a 2.x etcd' })
  }
  const compatibility = opts.scanEntries ? compat(state, wal, walIntegrity.status, scan, version, findings) : null
  const sizes = measure(walDir, snapDir, dbFile)

  const integrityOk = walIntegrity.status !== 'corrupt' && dbIntegrity.status !== 'corrupt' && !invariants.some((i) => i.ok === false)
    && !findings.some((f) => f.severity === 'error' && (f.code === 'db-missing' || f.code === 'db-without-wal' || f.code === 'snap-without-wal'))
  return {
    resultVersion: 1,
    path: dir,
    dataDir,
    walDir,
    snapDir,
    dbFile,
    state,
    memberId: self,
    clusterId: wal?.metadata ? idHex(wal.metadata.clusterId) : null,
    hardState: wal?.hardState ? hardStateOut(wal.hardState) : null,
    firstIndex: wal?.firstIndex ?? null,
    lastIndex: wal?.lastIndex ?? null,
    snapshotIndex: lastValid?.index ?? null,
    snapshotTerm: lastValid?.term ?? null,
    snapshot: { wal: lastRecord, file: snapInfo.newest, newestUsable: snapInfo.newestUsable, files: snapInfo.count },
    walRange: wal?.range ?? null,
    consistentIndex: db?.consistentIndex ?? null,
    consistentTerm: db?.term ?? null,
    revision: db?.revision ?? null,
    compactRevision: db?.compactRevision ?? null,
    members: { db: dbMembers, dbRemoved, walConfChanges: confChanges, selfRemovedInWal: selfRemoved, selfInDb, selfRemovedInDb, ...membership },
    version,
    compatibility,
    sizes,
    integrity: { wal: walIntegrity, db: dbIntegrity, invariants, ok: integrityOk },
    inUse,
    findings,
    elapsedMs: Math.round(performance.now() - started),
  }
}

const cmp = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0)

type Side = 'voter' | 'learner' | 'removed' | 'absent'
const inCluster = (x: Side): boolean => x === 'voter' || x === 'learner'

/**
 * Membership from the WAL's conf changes, the newest `.snap`'s v2 store and the db, side by side.
 * A disagreement is named only where the sources should agree: the db and the `.snap` unless a
 * committed conf change for that ID lies between the snapshot index and the db's consistent
 * index; a committed conf change against each store whose index it covers. These divergences are
 * what break 3.5 -> 3.6 upgrades ("too many learners", removed members coming back).
 */
function compareMembership(changes: StatusConfChange[], v2: SnapInfo['v2'], db: DbFacts | null, findings: StatusFinding[]): Pick<StatusResult['members'], 'bySource' | 'snapSource' | 'disagreements'> {
  const dbSide = (id: bigint): Side | null => {
    if (!db) return null
    const m = db.members.find((x) => x.id === id)
    return m ? (m.isLearner ? 'learner' : 'voter') : db.removedMembers.includes(id) ? 'removed' : 'absent'
  }
  const snapSide = (id: bigint): Side | null => {
    if (!v2) return null
    const m = v2.members.find((x) => x.id === id)
    return m ? (m.isLearner ? 'learner' : 'voter') : v2.removed.includes(id) ? 'removed' : 'absent'
  }
  const committed = changes.filter((c) => c.committed && c.type !== 'update').map((c) => ({ ...c, node: idFromHex(c.nodeId) }))
  const ids = new Set<bigint>([...committed.map((c) => c.node), ...(db?.members.map((m) => m.id) ?? []), ...(db?.removedMembers ?? []),
    ...(v2?.members.map((m) => m.id) ?? []), ...(v2?.removed ?? [])])
  const ci = db?.consistentIndex ?? null
  const rows: StatusResult['members']['bySource'] = []
  const disagreements: string[] = []
  const expect = (c: StatusConfChange): Side => (c.type === 'remove' ? 'removed' : c.type === 'add-learner' ? 'learner' : 'voter')
  const agrees = (want: Side, got: Side): boolean => (want === 'removed' ? !inCluster(got) : want === 'learner' ? inCluster(got) : got === 'voter')
  for (const id of [...ids].sort(cmp)) {
    const mine = committed.filter((c) => c.node === id)
    const last = mine.length ? mine[mine.length - 1]! : null
    const d = dbSide(id)
    const sn = snapSide(id)
    const hex = idHex(id)
    rows.push({ id: hex, wal: last ? `${last.type}@${last.index}` : null, snap: sn, db: d })
    if (d !== null && sn !== null && d !== sn && !(d === 'removed' && sn === 'absent') && !(d === 'absent' && sn === 'removed')) {
      const between = mine.some((c) => c.index > v2!.index && (ci === null || c.index <= ci))
      if (!between) disagreements.push(`member ${hex}: the db says ${d}, ${v2!.file} (index ${v2!.index}) says ${sn}, and no conf change between them explains it`)
    }
    for (const [what, side, upTo] of [['the db', d, ci], [v2 ? v2.file : '.snap', sn, v2?.index ?? null]] as const) {
      if (side === null || upTo === null) continue
      const applied = mine.filter((c) => c.index <= upTo)
      const c = applied.length ? applied[applied.length - 1]! : null
      if (c && !agrees(expect(c), side)) disagreements.push(`member ${hex}: ${what} says ${side}, but the WAL's committed ${c.type} at index ${c.index} (<= its index ${upTo}) makes it ${expect(c)}`)
    }
  }
  for (const x of disagreements) {
    findings.push({ severity: 'warning', code: 'membership-disagrees', detail: x,
      hint: 'etcd 3.6 takes membership from the db: a member the v2 store or the WAL lists differently can come back or count as an extra learner after an upgrade; compare with `etcdctl member list` before upgrading' })
  }
  return { bySource: rows, snapSource: v2 ? { file: v2.file, index: v2.index } : null, disagreements }
}

function walFiles(walDir: string): string[] {
  try {
    return readdirSync(walDir).filter((n) => n.endsWith('.wal') || n.endsWith('.tmp')).map((n) => join(walDir, n))
  } catch {
    return []
  }
}

function walEnd(wal: WalFacts, findings: StatusFinding[]): StatusResult['integrity']['wal'] {
  const e = wal.end
  const where = e.file ? `${e.file}${e.offset !== undefined ? `@${e.offset}` : ''}: ` : ''
  const defaultHint = e.status === 'torn-tail'
    ? 'normal after a crash: etcd repairs it at start (keeping a .broken copy)'
    : 'etcd will not start from this WAL: replace this member (etcd-inspect replace plan)'
  if (wal.findings) {
    for (const f of wal.findings) findings.push({ ...f, hint: f.hint ?? (f.severity === 'error' ? defaultHint : undefined) })
  } else if (e.status !== 'ok') {
    findings.push({ severity: e.status === 'torn-tail' ? 'warning' : 'error', code: e.code ?? (e.status === 'torn-tail' ? 'torn-tail' : 'wal-corrupt'),
      file: e.file, offset: e.offset, detail: `${where}${e.detail ?? e.status}`, hint: defaultHint })
  }
  const range = wal.range && wal.range.segmentsRead < wal.range.segmentsTotal
    ? `${wal.range.segmentsRead} of ${wal.range.segmentsTotal} segments read, from ${wal.range.fromSegment} (as etcd at boot)`
    : `${wal.segments.length} segment(s)`
  // Say which checks ran: the fast reader checks the CRC chain in the last segment only.
  const crc = wal.crcChecked?.segments === 0
    ? '; frame-checked only, no CRC (etcd-inspect wal verify or status --all-wal-segments checks the chain)'
    : wal.crcChecked && wal.range && wal.crcChecked.segments < wal.range.segmentsRead
    ? `; CRC chain checked from ${wal.crcChecked.fromSegment} (${wal.crcChecked.segments} of ${wal.range.segmentsRead} segments read), the older ones frame-checked only (etcd-inspect wal verify or status --all-wal-segments checks the whole chain)`
    : null
  if (e.status === 'ok') return { status: 'ok', detail: crc ? `${range}${crc}; clean end` : `${range}, CRC chain intact, clean end` }
  return { status: e.status, detail: `${where}${e.detail ?? (e.status === 'torn-tail' ? 'torn tail in the last segment' : 'corruption')}` }
}

function sourceFailure(err: unknown, what: 'wal' | 'db', findings: StatusFinding[]): { status: 'corrupt' | 'unavailable'; detail: string } {
  if (err instanceof DecodeError) {
    findings.push({ severity: 'error', code: err.code, file: err.file, offset: err.offset, detail: err.message,
      hint: err.hint ?? 'replace this member (etcd-inspect replace plan)' })
    return { status: 'corrupt', detail: err.message }
  }
  if (err instanceof SourceUnavailableError) {
    findings.push({ severity: 'warning', code: 'unavailable', detail: `${what}: ${err.message}` })
    return { status: 'unavailable', detail: err.message }
  }
  if (err instanceof InspectError) {
    findings.push({ severity: 'error', code: err.code, detail: err.message, hint: err.hint })
    return { status: 'unavailable', detail: err.message }
  }
  throw err
}

/** Largest v2 store parsed for its membership (a 3.x store holds little else; a huge 2.x one is skipped). */
const MAX_V2_PARSE = 64 << 20

interface SnapInfo {
  v2: { file: string; index: bigint; members: { id: bigint; isLearner: boolean }[]; removed: bigint[] } | null
  count: number
  newest: StatusResult['snapshot']['file']
  newestUsable: StatusResult['snapshot']['newestUsable']
  clusterVersion: string | null
}

/**
 * Reads `.snap` files newest first, stopping at the first that etcd would load (a readable file
 * matching a WAL snapshot record with index <= commit). Only the metadata is decoded; the v2 store
 * is searched for `/0/version` with a bounded pattern, not parsed.
 */
function snapFiles(snapDir: string | null, wal: WalFacts | null, findings: StatusFinding[]): SnapInfo {
  const info: SnapInfo = { v2: null, count: 0, newest: null, newestUsable: null, clusterVersion: null }
  if (!snapDir) return info
  const snaps = listSnapDir(snapDir).filter((e) => e.kind === 'snap').reverse()
  info.count = snaps.length
  const commit = wal?.hardState?.commit ?? null
  const valid = wal ? wal.snapshots.filter((s) => commit === null || s.index <= commit) : null
  for (const e of snaps) {
    let status = 'ok'
    let term: bigint | null = null
    let index: bigint | null = null
    try {
      const d = readSnapshot(readWholeFile(join(snapDir, e.name)), join('member/snap', e.name))
      term = d.metadata.term
      index = d.metadata.index
      if (info.clusterVersion === null) info.clusterVersion = clusterVersionOf(d.data)
      if (info.v2 === null && d.data.length > 0 && d.data.length <= MAX_V2_PARSE) {
        // The membership copy etcd keeps in the v2 store (/0/members): one side of the comparison.
        try {
          const v2 = summarizeV2Store(d.data, join('member/snap', e.name), d.dataOffset)
          info.v2 = { file: e.name, index: d.metadata.index, members: v2.members, removed: v2.removedMembers.map((r) => r.id) }
        } catch (err) {
          if (!(err instanceof DecodeError)) throw err
        }
      }
    } catch (err) {
      if (err instanceof InputError && err.code === 'not-found') continue
      if (!(err instanceof DecodeError)) throw err
      status = err.code === 'empty-snapshot' ? 'empty' : err.code === 'crc-mismatch' ? 'crc-mismatch' : 'undecodable'
      findings.push({ severity: 'warning', code: err.code, file: err.file, offset: err.offset, detail: err.message,
        hint: 'etcd renames an unreadable .snap to .broken at start and falls back to an older one' })
    }
    info.newest ??= { name: e.name, index, term, status }
    if (status === 'ok' && valid?.some((s) => s.index === index && s.term === term)) {
      info.newestUsable = { name: e.name, index: index!, term: term! }
      break
    }
    if (!valid && status === 'ok') break
  }
  return info
}

const versionPattern = /"Path":"\/0\/version","CreatedIndex":\d+,"ModifiedIndex":\d+,"ExpireTime":"[^"]*","Value":"([0-9.]{1,20})"/

function clusterVersionOf(data: Uint8Array): string | null {
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1', 0, Math.min(data.length, 1 << 20))
  return versionPattern.exec(text)?.[1] ?? null
}

function checkInvariants(wal: WalFacts | null, db: DbFacts | null, lastValid: { index: bigint } | null, lastRecord: { index: bigint } | null,
  snapDir: string | null, findings: StatusFinding[], walCorrupt: boolean): StatusInvariant[] {
  // After a corruption the reader stopped early: its HardState and snapshot records are partial,
  // and comparing them with the db would blame the db for the WAL's damage.
  if (walCorrupt) {
    const detail = 'not evaluable: the WAL is corrupt, so its HardState and snapshot records are incomplete'
    return (['consistent-index<=commit', 'db-term<=hardstate-term', 'snapshot-index<=commit', 'consistent-index>=snapshot-index'] as const)
      .map((name) => ({ name, ok: null, detail }))
  }
  const hs = wal?.hardState ?? null
  const ci = db?.consistentIndex ?? null
  const out: StatusInvariant[] = []
  const add = (inv: StatusInvariant, hint: string): void => {
    out.push(inv)
    if (inv.ok === false) findings.push({ severity: 'error', code: 'invariant-violated', detail: `${inv.name}: ${inv.detail}`, hint })
  }
  const missing = (what: string[]): string => `not evaluable: ${what.join(' and ')} unknown`
  const need = (pairs: [unknown, string][]): string[] => pairs.filter(([v]) => v === null || v === undefined).map(([, n]) => n)

  let m = need([[ci, 'db consistent index'], [hs, 'HardState']])
  add(m.length ? { name: 'consistent-index<=commit', ok: null, detail: missing(m) }
    : { name: 'consistent-index<=commit', ok: ci! <= hs!.commit, detail: `consistent index ${ci} ${ci! <= hs!.commit ? '<=' : '>'} commit ${hs!.commit}` },
  'the db has applied entries the WAL never committed (db from a newer copy than the WAL): etcd refuses it; replace this member')

  const dbTerm = db?.term ?? null
  m = need([[dbTerm, 'db term (3.5+ only)'], [hs, 'HardState']])
  add(m.length ? { name: 'db-term<=hardstate-term', ok: null, detail: missing(m) }
    : { name: 'db-term<=hardstate-term', ok: dbTerm! <= hs!.term, detail: `db term ${dbTerm} ${dbTerm! <= hs!.term ? '<=' : '>'} HardState term ${hs!.term}` },
  'the db comes from a later term than the WAL: replace this member')

  m = need([[lastRecord, 'WAL snapshot record'], [hs, 'HardState']])
  add(m.length ? { name: 'snapshot-index<=commit', ok: null, detail: missing(m) }
    : { name: 'snapshot-index<=commit', ok: lastRecord!.index <= hs!.commit, detail: `last WAL snapshot index ${lastRecord!.index} ${lastRecord!.index <= hs!.commit ? '<=' : '>'} commit ${hs!.commit}` },
  'a snapshot beyond the commit index means the WAL is inconsistent: replace this member')

  m = need([[ci, 'db consistent index'], [lastValid, 'WAL snapshot record']])
  if (m.length) {
    add({ name: 'consistent-index>=snapshot-index', ok: null, detail: missing(m) }, '')
  } else {
    const ok = ci! >= lastValid!.index
    let detail = `consistent index ${ci} ${ok ? '>=' : '<'} last valid WAL snapshot index ${lastValid!.index}`
    if (!ok && snapDir && existsSync(join(snapDir, `${lastValid!.index.toString(16).padStart(16, '0')}.snap.db`))) {
      detail += `; ${lastValid!.index.toString(16).padStart(16, '0')}.snap.db is present (a leader-sent db etcd 3.4 would move over db)`
    }
    add({ name: 'consistent-index>=snapshot-index', ok, detail },
      'the db is older than the WAL snapshot (copied separately?): etcd fails with "database file ... does not match with snapshot"; replace this member')
  }
  return out
}

/**
 * The version from every source, most trusted first: the db's storage version (written from 3.6),
 * the db's cluster version, the last cluster version the WAL sets (v2 PUT /0/version up to 3.4,
 * ClusterVersionSet from 3.5), the newest .snap's v2 store /0/version, then shape hints (db
 * meta/term from 3.5, WAL snapshot records with a conf state from 3.5).
 */
function guessVersion(db: DbFacts | null, snapClusterVersion: string | null, snapCount: number, lastRecord: { index: bigint } | null,
  walSnapshotConfState: boolean, scan: WalEntryScan | null): StatusResult['version'] {
  const basis: string[] = []
  const sources: StatusResult['version']['sources'] = []
  const storageVersion = db?.storageVersion ?? null
  if (storageVersion) sources.push({ source: 'db meta/storageVersion', value: minor(storageVersion), detail: `${storageVersion} (written from 3.6)` })
  if (db?.clusterVersion) sources.push({ source: 'db cluster/clusterVersion', value: minor(db.clusterVersion), detail: db.clusterVersion })
  if (scan?.clusterVersion) sources.push({ source: scan.clusterVersion.via, value: minor(scan.clusterVersion.version), detail: `${scan.clusterVersion.version} at index ${scan.clusterVersion.index}` })
  if (snapClusterVersion) sources.push({ source: '.snap v2 store /0/version', value: minor(snapClusterVersion), detail: snapClusterVersion })
  if (db && db.term !== null) sources.push({ source: 'db meta/term', value: '3.5+', detail: 'meta/term is written from 3.5' })
  if (walSnapshotConfState) sources.push({ source: 'WAL snapshot conf_state', value: '3.5+', detail: 'WAL snapshot records carry a conf state from 3.5' })
  const clusterVersion = db?.clusterVersion ?? scan?.clusterVersion?.version ?? snapClusterVersion
  for (const x of sources) basis.push(`${x.source}: ${x.detail}`)
  if (db && db.term === null && db.consistentIndex !== null && db.consistentIndex > 0n) basis.push('db has no meta/term (3.4 or older)')
  if (snapCount === 0 && lastRecord && lastRecord.index > 0n) basis.push('WAL snapshot records but no .snap files (main/3.8-dev stops writing .snap)')
  const exact = sources.find((x) => !x.value.endsWith('+'))
  const disagree = [...new Set(sources.filter((x) => !x.value.endsWith('+')).map((x) => x.value))]
  if (disagree.length > 1) basis.push(`sources disagree (${sources.filter((x) => !x.value.endsWith('+')).map((x) => `${x.source} ${x.value}`).join(', ')}): the most trusted one decides`)
  let guess: string | null = exact?.value ?? null
  let decidedBy: string | null = exact?.source ?? null
  if (!guess && db && db.term !== null) {
    guess = '3.5'
    decidedBy = 'db meta/term'
  } else if (!guess && db && db.consistentIndex !== null && db.consistentIndex > 0n) {
    // Only an etcd backend that applied entries says "<= 3.4"; an empty bbolt file says nothing.
    guess = '<=3.4'
    decidedBy = 'db without meta/term'
  }
  return { storageVersion, clusterVersion, etcdGuess: guess, decidedBy, sources, basis }
}

const isV2 = (g: string | null): boolean => g !== null && /^2\./.test(g)

/** A db or .snap files without a WAL: named for what etcd would do with them. */
function noWalFindings(state: StatusResult['state'], db: DbFacts | null, dbFile: string | null, snapInfo: SnapInfo, version: StatusResult['version'], findings: StatusFinding[]): void {
  if (state !== DataDirState.NoWal) return
  if (dbFile && db) {
    const holds = (db.consistentIndex ?? 0n) > 0n || (db.revision ?? 0n) > 0n || db.members.length > 0 || db.clusterVersion !== null
    if (holds) {
      findings.push({ severity: 'error', code: 'db-without-wal', file: 'member/snap/db',
        detail: `member/snap/db holds data (consistent index ${db.consistentIndex ?? '-'}, revision ${db.revision ?? '-'}, ${db.members.length} member(s)${version.etcdGuess ? `, etcd ${version.etcdGuess}` : ''}) but there is no WAL: etcd would start a brand-new member (new member ID, membership from flags) over this old backend, not this member`,
        hint: 'do not start etcd on it as is: find the WAL of the same copy; or, to keep the keys, restore them into a new data dir with `etcdctl snapshot restore member/snap/db --skip-hash-check` and start a new cluster from it; or archive the dir and re-add the member (etcd-inspect replace plan)' })
    } else {
      findings.push({ severity: 'warning', code: 'never-started', file: 'member/snap/db',
        detail: 'member/snap/db holds no etcd data (no consistent index, no keys, no members) and there is no WAL: a first start that did not finish',
        hint: 'etcd would start a new member here; nothing in this dir is lost by starting fresh' })
    }
    return
  }
  if (!dbFile && snapInfo.count > 0) {
    findings.push({ severity: 'error', code: 'snap-without-wal', file: 'member/snap',
      detail: `member/snap holds ${snapInfo.count} .snap file(s)${snapInfo.newest ? ` (newest ${snapInfo.newest.name})` : ''} but there is no WAL${isV2(version.etcdGuess) ? '' : ' and no db'}: etcd ignores .snap files without a WAL and would start a brand-new member`,
      hint: 'find the WAL of the same copy; without it this member cannot be restarted: archive the dir and re-add the member (etcd-inspect replace plan)' })
  }
}

const VERSIONS = ['3.4', '3.5', '3.6', '3.7'] as const
const minorNum = (v: string): number | null => {
  const m = /^(\d+)\.(\d+)/.exec(v)
  return m ? Number(m[1]) * 100 + Number(m[2]) : null
}
/** etcd's minor versions in upgrade order (one minor at a time). */
const LADDER = ['2.0', '2.1', '2.2', '2.3', '3.0', '3.1', '3.2', '3.3', '3.4', '3.5', '3.6', '3.7']

/** Which etcd can start on this dir (docs/status.md, "Which etcd can start on this dir"). */
function compat(state: StatusResult['state'], wal: WalFacts | null, walStatus: string, scan: WalEntryScan | null, version: StatusResult['version'], findings: StatusFinding[]): StatusCompatibility {
  const a = scan?.afterSnapshot
  const out: StatusCompatibility = {
    walMinVersion: a?.minVersion ?? null, entriesAfterSnapshot: a?.entries ?? null, v2EntriesAfterSnapshot: a?.v2 ?? null,
    v2DisallowedAfterSnapshot: a?.v2Disallowed ?? null, firstDisallowed: a?.firstDisallowed ?? null,
    dbStorageVersion: version.storageVersion, verdicts: [],
  }
  const blocking = findings.find((f) => f.severity === 'error')
  for (const v of VERSIONS) {
    let verdict: string
    if (state === DataDirState.Empty) verdict = 'can start (as a new member: the dir holds nothing)'
    else if (state === DataDirState.NoWal) verdict = blocking ? `cannot start: ${blocking.code}: without a WAL etcd would start a brand-new member, not this one` : 'can start (as a new member: nothing here was used)'
    else if (walStatus === 'corrupt' || (blocking && blocking.code !== 'v2-data-dir')) verdict = `cannot start: ${blocking ? `${blocking.code}${blocking.file ? ` in ${blocking.file}` : ''}` : 'the WAL is damaged'}`
    else if (!scan || scan.stopped) verdict = `unknown: ${scan?.stopped ? `the WAL entries could not all be read (${scan.stopped})` : 'the WAL entries after the snapshot were not read'}`
    else {
      const reasons: string[] = []
      const vn = minorNum(v)!
      if (a!.minVersion && minorNum(a!.minVersion.version)! > vn) reasons.push(`the WAL entries after the snapshot need etcd ${a!.minVersion.version} (${a!.minVersion.because})`)
      if (version.storageVersion && minorNum(version.storageVersion)! > vn) reasons.push(`db storage version ${version.storageVersion} is newer (downgrade it first with etcdutl migrate --target-version ${v})`)
      const g = version.etcdGuess && LADDER.includes(version.etcdGuess) ? version.etcdGuess : null
      if (g) {
        const gi = LADDER.indexOf(g)
        const vi = LADDER.indexOf(v)
        if (vi < gi && !(version.storageVersion && minorNum(version.storageVersion)! > vn)) reasons.push(`the cluster version is ${g}: etcd refuses to start an older binary (downgrade only through the downgrade API)`)
        if (vi > gi + 1) reasons.push(`last written by etcd ${g}: upgrade one minor version at a time (start it with ${LADDER[gi + 1]} first)`)
      }
      if (v === '3.6' && a!.v2Disallowed > 0) reasons.push(`"detected disallowed v2 WAL": ${a!.v2Disallowed} v2 entr${a!.v2Disallowed === 1 ? 'y' : 'ies'} after the snapshot other than member attributes and cluster version (first at index ${a!.firstDisallowed!.index}: ${a!.firstDisallowed!.method} ${a!.firstDisallowed!.path})`)
      if (v === '3.7' && a!.v2 > 0) reasons.push(`${a!.v2} v2 Request entr${a!.v2 === 1 ? 'y' : 'ies'} after the snapshot: 3.7 cannot decode v2 entries`)
      if (reasons.length) verdict = `cannot start: ${reasons.join('; ')}`
      else if (!g) verdict = `unknown: the version that last wrote the dir (${version.etcdGuess ?? 'no source'}) decides the upgrade path`
      else verdict = 'can start'
    }
    out.verdicts.push({ version: v, verdict })
  }
  void wal
  return out
}

function minor(v: string): string {
  const m = /^(\d+)\.(\d+)/.exec(v)
  return m ? `${m[1]}.${m[2]}` : v
}

function dirBytes(dir: string | null, filter: (n: string) => boolean = () => true): { bytes: number; files: number } {
  if (!dir) return { bytes: 0, files: 0 }
  let bytes = 0
  let files = 0
  try {
    for (const n of readdirSync(dir)) {
      if (!filter(n)) continue
      try {
        const st = statSync(join(dir, n))
        if (st.isFile()) {
          bytes += st.size
          files++
        }
      } catch {
        // Purged while we looked.
      }
    }
  } catch {
    // Unreadable dir: sizes stay partial; the readers report the real error.
  }
  return { bytes, files }
}

function measure(walDir: string | null, snapDir: string | null, dbFile: string | null): StatusResult['sizes'] {
  const wal = dirBytes(walDir)
  const segs = dirBytes(walDir, (n) => n.endsWith('.wal'))
  const snaps = dirBytes(snapDir, (n) => n.endsWith('.snap'))
  const other = dirBytes(snapDir)
  let dbBytes: number | null = null
  if (dbFile) {
    try {
      dbBytes = statSync(dbFile).size
    } catch {
      dbBytes = null
    }
  }
  return { walBytes: wal.bytes, walSegments: segs.files, snapFiles: snaps.files, snapBytes: snaps.bytes, dbBytes, totalBytes: wal.bytes + other.bytes }
}
