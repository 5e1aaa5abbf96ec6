/**
 * WAL segment names, mirroring etcd's `walName`/`parseWALName`/`checkWALNames`
 * (etcd-io/etcd@v3.6.0:server/storage/wal/util.go, wal.go):
 *
 *   `%016x-%016x.wal` = `<seq>-<index of the first entry expected in the file>.wal`, lowercase hex.
 *
 * Fixed-width hex makes lexical order numeric order. `.tmp` files are the preallocated next
 * segment (`0.tmp`/`1.tmp`), `.wal.broken` files are copies `wal.Repair` made before truncating.
 */
import { hex16 } from '../ids.js'

/** A parsed segment name. `seq` and `index` are u64. */
export interface SegmentName {
  name: string
  seq: bigint
  index: bigint
}

const WAL_NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/

/** `walName(seq, index)`. */
export function walName(seq: bigint, index: bigint): string {
  return `${hex16(seq)}-${hex16(index)}.wal`
}

/**
 * Parses `%016x-%016x.wal`. Go's `fmt.Sscanf("%016x-%016x.wal")` also accepts upper-case hex; etcd
 * never writes it, so an upper-case name is returned as undefined and listed as unknown.
 */
export function parseWalName(name: string): SegmentName | undefined {
  const m = WAL_NAME.exec(name)
  if (!m) return undefined
  return { name, seq: BigInt('0x' + m[1]), index: BigInt('0x' + m[2]) }
}

/** What a file in a WAL directory is. */
export type WalDirEntryKind = 'segment' | 'tmp' | 'broken' | 'unknown'

export function classifyWalDirEntry(name: string): WalDirEntryKind {
  if (parseWalName(name)) return 'segment'
  if (name.endsWith('.tmp')) return 'tmp'
  if (name.endsWith('.broken')) return 'broken'
  return 'unknown'
}

/** A gap in the segment sequence: `after` is followed by `next` instead of `after.seq + 1`. */
export interface SeqGap {
  after: SegmentName
  next: SegmentName
}

/**
 * Sorts segment names and lists seq gaps. etcd's `isValidSeq` requires consecutive seq numbers
 * from the segment it starts at; a gap means a segment was lost.
 */
export function orderSegments(names: readonly SegmentName[]): { segments: SegmentName[]; gaps: SeqGap[] } {
  const segments = [...names].sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : a.index < b.index ? -1 : a.index > b.index ? 1 : 0))
  const gaps: SeqGap[] = []
  for (let i = 1; i < segments.length; i++) {
    if (segments[i]!.seq !== segments[i - 1]!.seq + 1n) gaps.push({ after: segments[i - 1]!, next: segments[i]! })
  }
  return { segments, gaps }
}
