/**
 * `etcd-inspect snap <dir>`: decode every `.snap` in member/snap, list the other files there,
 * measure the snapshot cadence, and line the files up with the WAL's snapshot records the way
 * etcd does at boot (FORMATS.md §2.7, §4; snapshotter.go LoadNewestAvailable, wal.go
 * ValidSnapshotEntries). Read-only: nothing is renamed or deleted, unlike etcd's snapshotter.
 */
import { join, basename } from 'node:path'
import { statSync } from 'node:fs'
import { DecodeError, InputError, InspectError } from '../errors.js'
import { idHex } from '../format/ids.js'
import { hex8, readSnapshot, SnapErrorCode, type ConfState } from '../format/snap/snapshot.js'
import { summarizeV2Store, type V2Member, type V2StoreSummary } from '../format/snap/v2store.js'
import { defaultSnapshotCount, FALLBACK_SNAPSHOT_COUNT, SNAPSHOT_COUNT_DEFAULTS } from '../format/snap/snapshot-count.js'
import { fsError } from '../io/byte-source.js'
import type { Finding } from './finding.js'
import { listSnapDir, locateSnapDir, readWholeFile, type SnapDirEntry } from '../io/snap-dir.js'
import { logStartGap } from '../format/wal/log.js'
import { listWalSegments, readWalFacts, type WalFacts, type WalFactsReader, type WalSegmentName } from './sources.js'

/** Decode outcome of one `.snap` file (stable strings). */
export type SnapFileStatus = 'ok' | 'empty' | 'crc-mismatch' | 'undecodable'

/** ConfState with IDs as etcdctl hex. */
export interface ConfStateHex {
  voters: string[]
  learners: string[]
  votersOutgoing: string[]
  learnersNext: string[]
  autoLeave: boolean
}

export interface SnapFileResult {
  /** File name inside the snap dir. */
  file: string
  size: number
  status: SnapFileStatus
  /** CRC verdict: ok, mismatch, or not-checked (empty/undecodable before the CRC could be computed). */
  crc: 'ok' | 'mismatch' | 'not-checked'
  storedCrc: string | null
  computedCrc: string | null
  /** From the raftpb metadata; null when the file did not decode. */
  term: bigint | null
  index: bigint | null
  /** From the file name `%016x-%016x.snap` (term-index); null for other names. */
  nameTerm: bigint | null
  nameIndex: bigint | null
  confState: ConfStateHex | null
  /** Summary of the v2 store JSON; null when the file did not decode or carries no store. */
  v2store: V2StoreOut | null
  /** Whether a WAL snapshot record has this file's (term, index): match, none, or unknown (WAL not read). */
  walRecord: 'match' | 'none' | 'unknown'
  error: { code: string; offset: number; detail: string; hint?: string } | null
}

/** The v2 store summary as `snap` prints it: member IDs as etcdctl hex only, like every ID. */
export type V2StoreOut = Omit<V2StoreSummary, 'members' | 'removedMembers'> & {
  members: (Omit<V2Member, 'id' | 'idHex'> & { id: string })[]
  removedMembers: string[]
}

function v2storeOut(s: V2StoreSummary): V2StoreOut {
  return { ...s, members: s.members.map(({ id: _id, idHex: id, ...m }) => ({ id, ...m })), removedMembers: s.removedMembers.map((r) => r.idHex) }
}

/** A problem or notable fact about the snap dir, as data (STYLE.md §5). */
export type SnapFinding = Finding

/** `--snapshot-count` defaults per etcd version: the one table, shared with `check`. */
export const SnapshotCountDefaults = SNAPSHOT_COUNT_DEFAULTS

export interface CadencePoint {
  index: bigint
  term: bigint
  /** Where this snapshot index was seen. */
  sources: ('file' | 'wal')[]
  file: string | null
  /** index − previous index; null for the first. */
  distance: bigint | null
}

export interface SnapCadence {
  snapshotCount: bigint
  /**
   * flag: --snapshot-count; version: the default of the etcd version the newest .snap's v2 store
   * names (`snapshotCountVersion`); default: version unknown, etcd 3.4/3.5's 100,000.
   */
  snapshotCountSource: 'flag' | 'version' | 'default'
  snapshotCountVersion: string | null
  defaults: typeof SnapshotCountDefaults
  /** etcd snapshots once applied − last snapshot index > snapshot-count, so distances are >= count + 1. */
  expectedDistance: bigint
  points: CadencePoint[]
  minDistance: bigint | null
  maxDistance: bigint | null
  /** The cadence observed between snapshots: the median distance (null with fewer than two snapshots). */
  observedDistance: bigint | null
  /** min distance − 1 when there are at least two snapshots: the largest snapshot-count consistent with the dir. */
  inferredSnapshotCount: bigint | null
  /** Every distance >= count + 1; null with fewer than two snapshots. */
  consistentWithCount: boolean | null
  lastSnapshotIndex: bigint | null
  /** Last entry index in the WAL (null when the WAL was not read). */
  lastIndex: bigint | null
  /** Earliest index at which the next snapshot is taken: last snapshot index + count + 1. */
  nextSnapshotAt: bigint
  /** nextSnapshotAt − lastIndex; <= 0 means due at the next apply. Null without the WAL. */
  entriesUntilNext: bigint | null
}

export interface WalSnapRecord {
  index: bigint
  term: bigint
  /** `.snap` file with this (term, index), if any. */
  file: string | null
  /** index <= HardState.commit: eligible at boot (ValidSnapshotEntries). */
  valid: boolean | null
}

export interface SnapWalView {
  /** Whether the WAL was read; `detail` says why not. */
  read: boolean
  detail: string
  walDir: string | null
  commit: bigint | null
  records: WalSnapRecord[]
  /** WAL records other than the initial {0,0} without a `.snap` (normal on main/3.8 dirs). */
  recordsWithoutFile: number
  /** Readable `.snap` files without a WAL record (orphaned by a crash between the two writes). */
  filesWithoutRecord: string[]
  /** What etcd would load at boot: newest readable file matching a valid WAL record. */
  newestUsable: { file: string; index: bigint; term: bigint } | null
  newestUsableDetail: string
  coverage: {
    /** Snapshot index the WAL must continue from (newest usable, else 0). */
    fromIndex: bigint
    /** Newest segment whose first index <= fromIndex (wal.go searchIndex). */
    segment: string | null
    /** Segment exists and seq numbers are contiguous from it (isValidSeq); null when unknown. */
    covered: boolean | null
    detail: string
  }
}

export interface SnapResult {
  resultVersion: 1
  path: string
  snapDir: string | null
  /** Decoded `.snap` files, oldest first (by name). */
  snapshots: SnapFileResult[]
  broken: { file: string; size: number; term: bigint | null; index: bigint | null }[]
  snapDbs: { file: string; size: number; index: bigint }[]
  dbTmp: { file: string; size: number }[]
  db: { file: string; size: number } | null
  other: { file: string; size: number }[]
  cadence: SnapCadence
  wal: SnapWalView
  findings: SnapFinding[]
}

export interface SnapOptions {
  /** `--snapshot-count N`. */
  snapshotCount?: bigint
  /** `--wal-dir` when the WAL is not at member/wal. */
  walDir?: string
  /** WAL reader (tests inject one; default the WAL library). */
  readWal?: WalFactsReader
  /** Do not read the WAL at all. */
  noWal?: boolean
}

const toHexList = (l: bigint[]): string[] => l.map(idHex)

export function confStateHex(cs: ConfState): ConfStateHex {
  return {
    voters: toHexList(cs.voters), learners: toHexList(cs.learners),
    votersOutgoing: toHexList(cs.votersOutgoing), learnersNext: toHexList(cs.learnersNext), autoLeave: cs.autoLeave,
  }
}

/** Decodes one `.snap` file's bytes into a SnapFileResult (never throws on bad content). */
export function decodeSnapFile(name: string, bytes: Uint8Array, displayName = name): SnapFileResult {
  const fromName = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/.exec(name)
  const r: SnapFileResult = {
    file: name, size: bytes.length, status: 'ok', crc: 'not-checked', storedCrc: null, computedCrc: null,
    term: null, index: null,
    nameTerm: fromName ? BigInt('0x' + fromName[1]) : null, nameIndex: fromName ? BigInt('0x' + fromName[2]) : null,
    confState: null, v2store: null, walRecord: 'unknown', error: null,
  }
  try {
    const d = readSnapshot(bytes, displayName)
    r.crc = 'ok'
    r.storedCrc = hex8(d.storedCrc)
    r.computedCrc = hex8(d.computedCrc)
    r.term = d.metadata.term
    r.index = d.metadata.index
    r.confState = confStateHex(d.metadata.confState)
    if (d.data.length > 0) r.v2store = v2storeOut(summarizeV2Store(d.data, displayName, d.dataOffset))
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err
    r.error = { code: err.code, offset: err.offset, detail: err.detail, ...(err.hint ? { hint: err.hint } : {}) }
    if (err.code === SnapErrorCode.Empty) r.status = 'empty'
    else if (err.code === SnapErrorCode.CrcMismatch) {
      r.status = 'crc-mismatch'
      r.crc = 'mismatch'
      r.storedCrc = String(err.extra.expected)
      r.computedCrc = String(err.extra.computed)
    } else {
      // Includes bad-v2store: the raft snapshot decoded (CRC ok) but its v2 store payload did not.
      r.status = 'undecodable'
    }
  }
  return r
}

/** Inputs of the pure analysis (separated from the filesystem for tests). */
export interface SnapAnalysisInput {
  path: string
  snapDir: string | null
  entries: SnapDirEntry[]
  /** Decoded `.snap` files, by name. */
  decoded: Map<string, SnapFileResult>
  wal: WalFacts | null
  walSegments: WalSegmentName[] | null
  walDetail: string
  walDir: string | null
  snapshotCount?: bigint
}

const cmp = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0)

/** The pure part of `snap`: cadence, WAL alignment, findings. */
export function analyzeSnapshots(inp: SnapAnalysisInput): SnapResult {
  const findings: SnapFinding[] = []
  const rel = (name: string): string => (inp.snapDir ? join('member/snap', name) : name)
  const snapshots: SnapFileResult[] = []
  const result: SnapResult = {
    resultVersion: 1, path: inp.path, snapDir: inp.snapDir, snapshots, broken: [], snapDbs: [], dbTmp: [], db: null, other: [],
    cadence: undefined as unknown as SnapCadence, wal: undefined as unknown as SnapWalView, findings,
  }
  for (const e of inp.entries) {
    switch (e.kind) {
      case 'snap': {
        const d = inp.decoded.get(e.name)
        if (d) snapshots.push(d)
        break
      }
      case 'broken':
        result.broken.push({ file: e.name, size: e.size, term: e.term ?? null, index: e.index ?? null })
        findings.push({ severity: 'warning', code: 'broken-snapshot', file: rel(e.name),
          detail: `${e.name}: etcd renamed this snapshot after failing to read it`, hint: 'keep it for analysis; etcd ignores it' })
        break
      case 'snap-db':
        result.snapDbs.push({ file: e.name, size: e.size, index: e.index! })
        break
      case 'db':
        result.db = { file: e.name, size: e.size }
        break
      case 'db-tmp':
        result.dbTmp.push({ file: e.name, size: e.size })
        findings.push({ severity: 'info', code: 'db-tmp', file: rel(e.name),
          detail: `${e.name}: defragmentation leftover (${e.size} bytes)`, hint: 'etcd deletes db.tmp* files at its next start' })
        break
      default:
        result.other.push({ file: e.name, size: e.size })
    }
  }

  for (const s of snapshots) {
    if (s.error) {
      findings.push({ severity: 'error', code: s.error.code, file: rel(s.file), offset: s.error.offset, detail: s.error.detail, hint: s.error.hint })
    } else if (s.nameTerm !== null && (s.nameTerm !== s.term || s.nameIndex !== s.index)) {
      findings.push({ severity: 'warning', code: 'name-mismatch', file: rel(s.file),
        detail: `${s.file}: name says term ${s.nameTerm} index ${s.nameIndex}, metadata says term ${s.term} index ${s.index}`,
        hint: 'etcd uses the metadata; the file was renamed or copied by hand' })
    } else if (s.nameTerm === null) {
      findings.push({ severity: 'warning', code: 'unexpected-name', file: rel(s.file),
        detail: `${s.file}: not named <term>-<index>.snap (%016x-%016x.snap)`, hint: 'etcd still reads it as a snapshot because the name ends in .snap' })
    }
  }

  // The WAL's view.
  const wal = inp.wal
  if (wal && wal.end.status === 'corrupt') {
    findings.push({ severity: 'warning', code: 'wal-corrupt', file: wal.end.file, offset: wal.end.offset,
      detail: `the WAL is corrupt${wal.end.file ? ` at ${wal.end.file}${wal.end.offset !== undefined ? `@${wal.end.offset}` : ''}` : ''}: snapshot records after that point are unknown`,
      hint: 'run etcd-inspect wal on this dir for the details' })
  }
  const commit = wal?.hardState?.commit ?? null
  const okFiles = snapshots.filter((s) => s.status === 'ok')
  const records: WalSnapRecord[] = (wal?.snapshots ?? []).map((w) => {
    const f = okFiles.find((s) => s.term === w.term && s.index === w.index)
    return { index: w.index, term: w.term, file: f?.file ?? null, valid: commit === null ? null : w.index <= commit }
  })
  if (wal) {
    for (const s of snapshots) {
      if (s.status !== 'ok') continue
      s.walRecord = wal.snapshots.some((w) => w.term === s.term && w.index === s.index) ? 'match' : 'none'
    }
  }
  const filesWithoutRecord = wal ? okFiles.filter((s) => s.walRecord === 'none').map((s) => s.file) : []
  for (const f of filesWithoutRecord) {
    findings.push({ severity: 'warning', code: 'snapshot-without-wal-record', file: rel(f),
      detail: `${f}: no WAL snapshot record has its term and index`, hint: 'a crash between writing the .snap and its WAL record orphans it; etcd ignores it at boot' })
  }
  const recordsWithoutFile = records.filter((r) => r.index !== 0n && r.file === null).length

  // Newest usable: newest readable file (reverse name order) matching a valid WAL record.
  let newestUsable: SnapWalView['newestUsable'] = null
  let newestUsableDetail: string
  if (!wal) {
    newestUsableDetail = `unknown: ${inp.walDetail}`
  } else {
    const valid = wal.snapshots.filter((w) => commit === null || w.index <= commit)
    for (const s of [...snapshots].sort((a, b) => (a.file < b.file ? 1 : a.file > b.file ? -1 : 0))) {
      if (s.status !== 'ok') continue
      if (valid.some((w) => w.term === s.term && w.index === s.index)) {
        newestUsable = { file: s.file, index: s.index!, term: s.term! }
        break
      }
    }
    newestUsableDetail = newestUsable
      ? `${newestUsable.file}: newest readable .snap matching a WAL snapshot record with index <= commit ${commit ?? '?'}`
      : snapshots.length === 0
        ? 'no .snap files: etcd replays the WAL from its first snapshot record'
        : 'no readable .snap matches a WAL snapshot record with index <= commit: etcd starts from the WAL alone'
  }

  // Coverage: the WAL must hold a segment whose first index <= the snapshot index, seq contiguous from there.
  const fromIndex = newestUsable?.index ?? (wal ? 0n : newestOk(okFiles)?.index ?? 0n)
  const coverage = walCoverage(inp.walSegments, fromIndex)
  // The segments are there, but the entries must also continue from the snapshot (logStartGap).
  const gap = coverage.covered && wal?.firstIndex != null ? logStartGap({ index: wal.firstIndex, file: coverage.segment!, offset: -1 }, fromIndex) : undefined
  if (gap) {
    coverage.covered = false
    coverage.detail = `${coverage.segment} starts at or before index ${fromIndex}, but the WAL's first entry is ${wal!.firstIndex}, not ${fromIndex + 1n}: etcd fails at start with "wal: slice bounds out of range"`
  }
  if (coverage.covered === false) {
    findings.push({ severity: 'error', code: 'wal-not-covered', detail: coverage.detail,
      hint: gap ? gap.hint! : 'etcd fails at start with "wal: file not found"; restore the missing segments or replace this member' })
  }

  result.wal = {
    read: wal !== null, detail: inp.walDetail, walDir: inp.walDir, commit, records, recordsWithoutFile, filesWithoutRecord,
    newestUsable, newestUsableDetail, coverage,
  }

  // Cadence from every distinct snapshot index seen in files and WAL records.
  const points = new Map<bigint, CadencePoint>()
  for (const s of okFiles) {
    const p = points.get(s.index!) ?? { index: s.index!, term: s.term!, sources: [], file: null, distance: null }
    if (!p.sources.includes('file')) p.sources.push('file')
    p.file ??= s.file
    points.set(s.index!, p)
  }
  for (const w of wal?.snapshots ?? []) {
    if (w.index === 0n) continue
    const p = points.get(w.index) ?? { index: w.index, term: w.term, sources: [], file: null, distance: null }
    if (!p.sources.includes('wal')) p.sources.push('wal')
    points.set(w.index, p)
  }
  const sorted = [...points.values()].sort((a, b) => cmp(a.index, b.index))
  let prev: bigint | null = null
  for (const p of sorted) {
    p.distance = prev === null ? null : p.index - prev
    prev = p.index
  }
  const distances = sorted.map((p) => p.distance).filter((d): d is bigint => d !== null)
  // The version that wrote the newest decodable .snap picks etcd's default (one table, shared with check).
  const withVersion = [...result.snapshots].reverse().find((x) => x.v2store?.clusterVersion)
  const snapVersion = withVersion?.v2store?.clusterVersion ?? null
  const byVersion = defaultSnapshotCount(snapVersion)
  const count = inp.snapshotCount ?? byVersion?.snapshotCount ?? FALLBACK_SNAPSHOT_COUNT
  const countSource: SnapCadence['snapshotCountSource'] = inp.snapshotCount !== undefined ? 'flag' : byVersion ? 'version' : 'default'
  const minD = distances.length ? distances.reduce((a, b) => (b < a ? b : a)) : null
  const maxD = distances.length ? distances.reduce((a, b) => (b > a ? b : a)) : null
  const last = sorted.length ? sorted[sorted.length - 1]!.index : null
  const nextAt = (last ?? 0n) + count + 1n
  const lastIndex = wal?.lastIndex ?? null
  result.cadence = {
    snapshotCount: count, snapshotCountSource: countSource, snapshotCountVersion: countSource === 'version' ? snapVersion : null, defaults: SnapshotCountDefaults,
    expectedDistance: count + 1n, points: sorted, minDistance: minD, maxDistance: maxD,
    observedDistance: distances.length ? [...distances].sort(cmp)[Math.floor((distances.length - 1) / 2)]! : null,
    inferredSnapshotCount: minD === null ? null : minD - 1n,
    consistentWithCount: minD === null ? null : minD >= count + 1n,
    lastSnapshotIndex: last, lastIndex, nextSnapshotAt: nextAt, entriesUntilNext: lastIndex === null ? null : nextAt - lastIndex,
  }
  if (minD !== null && minD < count + 1n) {
    findings.push({ severity: 'info', code: 'cadence-below-count',
      detail: `snapshots are as close as ${minD} entries apart, less than --snapshot-count ${count} + 1: this member ran with --snapshot-count <= ${minD - 1n}, or received a snapshot from the leader` })
  }
  for (const d of result.snapDbs) {
    if (last !== null && d.index <= last) {
      findings.push({ severity: 'info', code: 'stale-snap-db', file: rel(d.file),
        detail: `${d.file}: leader-sent db at index ${d.index}, not newer than the last snapshot ${last}`, hint: 'etcd deletes such files (ReleaseSnapDBs)' })
    }
  }
  return result
}

function newestOk(ok: SnapFileResult[]): SnapFileResult | undefined {
  return [...ok].sort((a, b) => cmp(a.index!, b.index!)).pop()
}

/** wal.go searchIndex + isValidSeq over segment names. */
export function walCoverage(segments: WalSegmentName[] | null, fromIndex: bigint): SnapWalView['coverage'] {
  if (segments === null) return { fromIndex, segment: null, covered: null, detail: 'no WAL dir' }
  if (segments.length === 0) return { fromIndex, segment: null, covered: false, detail: 'the WAL dir holds no .wal segment' }
  let at = -1
  for (let i = segments.length - 1; i >= 0; i--) {
    if (segments[i]!.index <= fromIndex) {
      at = i
      break
    }
  }
  if (at < 0) {
    return { fromIndex, segment: null, covered: false,
      detail: `no WAL segment starts at or before snapshot index ${fromIndex} (oldest is ${segments[0]!.name}): the entries after the snapshot are gone` }
  }
  for (let i = at + 1; i < segments.length; i++) {
    if (segments[i]!.seq !== segments[i - 1]!.seq + 1n) {
      return { fromIndex, segment: segments[at]!.name, covered: false,
        detail: `WAL segment sequence breaks between ${segments[i - 1]!.name} and ${segments[i]!.name}` }
    }
  }
  return { fromIndex, segment: segments[at]!.name, covered: true,
    detail: `${segments[at]!.name} starts at or before index ${fromIndex}; ${segments.length - at} segment(s) contiguous from there` }
}

/** Runs `snap` on a data dir, member dir, snap dir, or a single `.snap` file. */
export async function runSnap(path: string, opts: SnapOptions = {}): Promise<SnapResult> {
  let st
  try {
    st = statSync(path)
  } catch (err) {
    throw fsError(err, path, 'stat')
  }
  if (st.isFile()) {
    const name = basename(path)
    const bytes = readWholeFile(path)
    const decoded = decodeSnapFile(name, bytes, path)
    const entry: SnapDirEntry = { name, kind: 'snap', size: bytes.length, mtimeMs: st.mtimeMs }
    return analyzeSnapshots({ path, snapDir: null, entries: [entry], decoded: new Map([[name, decoded]]), wal: null, walSegments: null,
      walDetail: 'a single file was given', walDir: null, snapshotCount: opts.snapshotCount })
  }
  const loc = locateSnapDir(path)
  const walDir = opts.walDir ?? loc.walDir
  if (loc.snapDir === null && walDir === null) {
    throw new InputError(`${path}: not an etcd data dir (no member/snap, no member/wal)`, path, 'not-a-data-dir',
      'pass the etcd data dir (the one holding member/), its member/ dir, or member/snap')
  }
  const entries = loc.snapDir ? listSnapDir(loc.snapDir) : []
  const decoded = new Map<string, SnapFileResult>()
  for (const e of entries) {
    if (e.kind !== 'snap') continue
    const display = join(loc.snapDir!, e.name)
    let bytes: Uint8Array
    try {
      bytes = readWholeFile(display)
    } catch (err) {
      // Purged by a running etcd between listing and reading.
      if (err instanceof InputError && err.code === 'not-found') continue
      throw err
    }
    decoded.set(e.name, decodeSnapFile(e.name, bytes, join('member/snap', e.name)))
  }
  let wal: WalFacts | null = null
  let walDetail = 'not read'
  let segments: WalSegmentName[] | null = null
  if (walDir && !opts.noWal) {
    segments = listWalSegments(walDir)
    try {
      wal = await (opts.readWal ?? readWalFacts)(walDir)
      walDetail = `read ${wal.segments.length} segment(s)`
    } catch (err) {
      if (!(err instanceof InspectError)) throw err
      walDetail = `WAL not read: ${err.message}`
    }
  } else if (!walDir) {
    walDetail = 'no member/wal dir'
  } else {
    walDetail = 'WAL reading disabled (--no-wal)'
  }
  return analyzeSnapshots({ path, snapDir: loc.snapDir, entries, decoded, wal, walSegments: segments, walDetail, walDir, snapshotCount: opts.snapshotCount })
}

/** True when any `.snap` failed to decode (the CLI exits 4). */
export function snapHasCorruption(r: SnapResult): boolean {
  return r.snapshots.some((s) => s.status !== 'ok') || r.findings.some((f) => f.severity === 'error')
}
