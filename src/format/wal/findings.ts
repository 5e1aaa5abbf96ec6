/**
 * The one table of WAL findings: every code any command prints about a WAL, with its severity and
 * its hint text, and the one vocabulary for how a segment and a log end. The rules behind the codes
 * mirror etcd-io/etcd@v3.6.0:server/storage/wal/{decoder.go,wal.go} (framing, torn writes, the CRC
 * chain, ReadAll's metadata and index rules) and etcd-io/raft (log start after a snapshot).
 * Findings are data, not prose (STYLE §5): `detail` says what was found where, `hint` what to do.
 * Every reader (format/wal/decoder.ts, format/wal/log.ts, io/wal-scan.ts, app/wal.ts, app/sources.ts)
 * builds its findings with `walFinding`, so a hint is fixed in one place.
 */

/** How a segment ended, as every reader reports it. */
export type SegmentEnd =
  | 'eof' // the last frame ended exactly at the end of the file
  | 'zero-tail' // a zero length word: the preallocated tail (normal for the last segment)
  | 'torn-tail' // a torn write at the end of the last segment
  | 'corrupt' // reading stopped at corruption
  | 'skipped' // --tolerant jumped over the rest of the file after a frame it could not delimit

/** How the log ends, as etcd would see it on boot (STYLE §6): the worst finding decides. */
export type WalEndStatus = 'clean' | 'torn-tail' | 'corrupt'

import { FRAME_HEADER_BYTES, Frame, type FrameCursor, type FrameResult } from './frame.js'

const END_RANK: Record<WalEndStatus, number> = { clean: 0, 'torn-tail': 1, corrupt: 2 }
/** The worse of two end statuses. */
export function worseEnd(a: WalEndStatus, b: WalEndStatus): WalEndStatus {
  return END_RANK[b] > END_RANK[a] ? b : a
}

const REPLACE = 'replace this member (etcd-inspect replace plan)'
const CORRUPT_LAST = `etcd will refuse to start on this WAL: restore the member from a healthy peer (etcd-inspect replace plan)`
const CORRUPT_EARLIER = `corruption before the last segment: etcd will not start; ${REPLACE}`

interface FindingSpec {
  severity: 'error' | 'warning' | 'info'
  /** The hint, or per variant (`default` first) when the same code arises in different places. */
  hint?: string | { default: string; [variant: string]: string }
  /** What the code means (docs/wal.md lists them). */
  means: string
}

/** Every WAL finding code. A code not in this table cannot be built (the type is closed). */
export const WAL_FINDINGS = {
  'torn-tail': { severity: 'warning', means: 'a frame at the end of the last segment was cut short by a crash',
    hint: 'a torn write at the end of the last segment is normal after a crash or power loss; etcd repairs it on start (keeps a .broken copy)' },
  'bad-frame': { severity: 'error', means: 'the first frame of a segment cannot be delimited: the file is not a WAL segment',
    hint: `move the file out of the WAL dir if it does not belong there; otherwise the segment is destroyed: ${REPLACE}` },
  'truncated-segment': { severity: 'error', means: 'a segment before the last is cut short',
    hint: `a segment before the last is cut short: etcd will not see the entries after it; ${REPLACE}` },
  'bad-protobuf': { severity: 'error', means: 'a record is not a walpb.Record, or its payload does not decode',
    hint: { default: CORRUPT_EARLIER, last: CORRUPT_LAST, payload: 'etcd panics on such a record (MustUnmarshal); the writer was buggy or the bytes were forged' } },
  'crc-mismatch': { severity: 'error', means: 'a record fails the CRC-32C chain',
    hint: { default: CORRUPT_EARLIER, last: CORRUPT_LAST } },
  'crc-chain-break': { severity: 'error', means: 'a CRC record does not carry the chain of the records before it',
    hint: `an earlier segment is damaged or was replaced; etcd will not start: ${REPLACE}` },
  'missing-crc-record': { severity: 'error', means: 'a segment does not start with a CRC record',
    hint: 'the segment was not written by etcd or its head was overwritten; do not start etcd on it until explained' },
  'crc-record-not-first': { severity: 'warning', means: 'a CRC record in the middle of a segment',
    hint: 'etcd re-seeds the chain there and goes on; etcd writes one only at a segment head, so the segment was spliced or not written by etcd: compare with a healthy member' },
  'unknown-record-type': { severity: 'error', means: 'a record type outside 1..5', hint: { default: CORRUPT_EARLIER, last: CORRUPT_LAST } },
  'frame-reserved-bits': { severity: 'warning', means: 'bits 59..62 of a length word are set (etcd ignores them)',
    hint: 'etcd ignores these bits; etcd never sets them, so the segment was damaged or written by another tool: check it with etcd-inspect wal verify' },
  'zero-tail-before-last': { severity: 'warning', means: 'a zero length word ends a segment that is not the last',
    hint: 'the CRC record of the next segment shows whether records were lost (etcd-inspect wal verify)' },
  'empty-segment': { severity: 'error', means: 'a segment holds no records',
    hint: 'the file was not written by etcd or was zeroed; move it aside and compare with a healthy member' },
  'missing-metadata': { severity: 'error', means: "a segment's CRC record is not followed by a checked metadata record (its head identifies no member)",
    hint: 'the segment head is damaged or was not written by etcd, so it does not say whose data dir this is: check it with etcd-inspect wal verify' },
  'metadata-conflict': { severity: 'error', means: 'segments carry different metadata (member/cluster IDs)',
    hint: 'segments from different members are mixed in this WAL dir; etcd will not start: find the stray segment by its metadata' },
  'overwrite-below-commit': { severity: 'warning', means: 'an entry rewrites an index at or below the persisted commit',
    hint: 'raft never rewrites committed entries: this WAL holds conflicting histories' },
  'index-gap': { severity: 'warning', means: 'an entry index skips ahead of the previous entry',
    hint: 'entries are missing from the log; etcd 3.4/3.5 refuse to read it' },
  'index-discontinuity': { severity: 'warning', means: 'a segment name and its entries disagree with the segments before it',
    hint: { default: 'entries between segments may be missing; compare with the snapshot index', firstEntry: 'compare the segment name with its first entry and the snapshot index (etcd-inspect wal verify)' } },
  'log-start-gap': { severity: 'error', means: "the log's first entry does not follow the boot snapshot",
    hint: `etcd cannot replay this log: restore the snap dir and the segments that held the missing entries, or ${REPLACE}` },
  'seq-gap': { severity: 'error', means: 'segment sequence numbers skip one (a segment is missing)',
    hint: { default: `a segment is missing; etcd will not start from a snapshot before the gap: ${REPLACE}`, inRange: `a segment is missing; etcd will not start: ${REPLACE}`,
      outOfRange: 'etcd does not read these older segments; no action needed' } },
  'tmp-file': { severity: 'info', means: 'the preallocated next segment (.tmp), which etcd ignores',
    hint: 'nothing to do: etcd renames it into the next segment when it cuts one' },
  'broken-file': { severity: 'info', means: 'a copy left by a WAL repair (.broken)',
    hint: 'keep it until the repair is understood; etcd never reads it' },
  'unknown-file': { severity: 'warning', means: 'a file in the WAL dir that is not a WAL file',
    hint: 'etcd ignores it; move it out of the WAL dir if it does not belong there' },
} as const satisfies Record<string, FindingSpec>

export type WalFindingCode = keyof typeof WAL_FINDINGS

/** A finding: data, not prose (STYLE §5). CRC values are 8-digit lowercase hex. */
export interface WalFinding {
  severity: 'error' | 'warning' | 'info'
  code: WalFindingCode
  file: string
  /** Absolute byte offset in `file` (frame start), or -1 when the finding is about the whole file. */
  offset: number
  detail: string
  expected?: string
  computed?: string
  hint?: string
  /** Raft index the finding is about, when there is one. */
  index?: bigint
}

/** The hint of `code` (for `variant` where the code has several), or undefined. */
export function findingHint(code: WalFindingCode, variant?: string): string | undefined {
  const h = (WAL_FINDINGS[code] as FindingSpec).hint
  if (h === undefined || typeof h === 'string') return h
  return (variant !== undefined ? h[variant] : undefined) ?? h.default
}

/**
 * Builds a finding from the table. `severity` overrides the table's only where the same fact is
 * graver in context (a seq gap outside the range etcd reads is a warning).
 */
export function walFinding(code: WalFindingCode, file: string, offset: number, detail: string,
  extra: { variant?: string; severity?: WalFinding['severity']; expected?: string; computed?: string; index?: bigint } = {}): WalFinding {
  const f: WalFinding = { severity: extra.severity ?? WAL_FINDINGS[code].severity, code, file, offset, detail }
  if (extra.expected !== undefined) f.expected = extra.expected
  if (extra.computed !== undefined) f.computed = extra.computed
  const hint = findingHint(code, extra.variant)
  if (hint !== undefined) f.hint = hint
  if (extra.index !== undefined) f.index = extra.index
  return f
}

/** The verdict of a set of findings: any error → corrupt; else a torn tail → torn-tail; else clean. */
export function endOfFindings(findings: readonly { severity: string; code: string }[], end?: WalEndStatus): WalEndStatus {
  if (end === 'corrupt' || findings.some((f) => f.severity === 'error')) return 'corrupt'
  if (end === 'torn-tail' || findings.some((f) => f.code === 'torn-tail')) return 'torn-tail'
  return 'clean'
}

/**
 * The finding for a frame the cursor could not deliver (`Frame.PartialWord`, `PastEnd`,
 * `ShortRead`): a torn tail where `tornOk` (frame.ts `mayBeTorn`), else corruption.
 */
export function framingFinding(cur: FrameCursor, k: FrameResult, file: string, tornOk: boolean): WalFinding {
  const off = cur.offset
  const left = cur.limit - off
  const detail = k === Frame.PartialWord ? `wal: partial length word: ${left} bytes left at end of file, need 8`
    : k === Frame.PastEnd ? `wal: frame length ${cur.recBytes}+${cur.padBytes} pad (word ${cur.wordHex()}) runs past the end of the file: ${left - FRAME_HEADER_BYTES} bytes left`
      : `wal: short read of a ${cur.frameBytes}-byte frame`
  return frameProblem(file, off, tornOk, detail)
}

/** A frame that cannot be read whole: torn tail in the last segment, corruption anywhere else. */
export function frameProblem(file: string, offset: number, tornOk: boolean, detail: string): WalFinding {
  if (tornOk) return walFinding('torn-tail', file, offset, detail)
  if (offset === 0) return walFinding('bad-frame', file, offset, detail + ' (in the first frame: this file is not a WAL segment)')
  return walFinding('truncated-segment', file, offset, detail + ' (not the last segment: etcd would silently stop reading here and drop later segments)')
}

/** A WAL finding as plain data (it is kept in the index's JSON meta and crosses the worker boundary). */
export interface WalProblem { severity: WalFinding['severity']; code: WalFinding['code']; file: string; offset: number; detail: string; hint?: string }

/**
 * How a WAL read for `history`/`index` ended: a corrupt WAL is read up to the damage, so the
 * requests after it are missing, and the operator must be told so (not a silent short answer).
 */
export interface WalReadEnd {
  end: WalEndStatus
  /** Errors and warnings of the read (info findings left out), at most MAX_WAL_PROBLEMS. */
  problems: WalProblem[]
}

const MAX_WAL_PROBLEMS = 20

/** Collects the findings of one WAL read (readLog's items) into a WalReadEnd; `done` takes the log's end status. */
export class WalProblems {
  private readonly all: WalFinding[] = []
  add(f: WalFinding): void {
    if (f.severity !== 'info') this.all.push(f)
  }
  done(end: WalEndStatus | undefined): WalReadEnd {
    return {
      end: endOfFindings(this.all, end),
      problems: this.all.slice(0, MAX_WAL_PROBLEMS).map((f) => ({ severity: f.severity, code: f.code, file: f.file, offset: f.offset, detail: f.detail, ...(f.hint ? { hint: f.hint } : {}) })),
    }
  }
}
