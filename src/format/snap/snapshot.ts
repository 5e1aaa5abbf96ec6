/**
 * `.snap` files: the raft snapshot as etcd's snapshotter writes and reads it.
 * Mirrors etcd-io/etcd server/etcdserver/api/snap/snapshotter.go (`Read`, `snapNames`) and
 * snappb/snap.proto, raftpb/raft.proto (FORMATS.md §4.1):
 *
 *   file  = snappb.snapshot { uint32 crc = 1 (varint); bytes data = 2 }
 *   crc   = CRC-32C(data), single shot (not chained like the WAL)
 *   data  = raftpb.Snapshot { bytes data = 1 (v2 store JSON); SnapshotMetadata metadata = 2 }
 *   SnapshotMetadata { ConfState conf_state = 1; uint64 index = 2; uint64 term = 3 }
 *   ConfState { repeated uint64 voters = 1, learners = 2, voters_outgoing = 3, learners_next = 4;
 *               bool auto_leave = 5 }   (gogo writes repeated fields unpacked; both are accepted)
 *
 * `Read` fails, in this order: empty file; snappb protobuf error; `len(data) == 0 || crc == 0`
 * (also "empty"); CRC mismatch; raftpb protobuf error. We keep that order and its three outcomes
 * (empty, crc-mismatch, undecodable) as stable error codes. Name: `%016x-%016x.snap` = term-index.
 */
import { DecodeError } from '../../errors.js'
import { crc32c } from '../crc32c.js'
import { ProtoReader, WireType } from '../protowire.js'

/** Stable error codes of `readSnapshot` (also the `status` of a file in `snap -w json`). */
export const SnapErrorCode = {
  /** 0-byte file, or `data` empty, or stored crc 0 (etcd's ErrEmptySnapshot). */
  Empty: 'empty-snapshot',
  /** CRC-32C of `data` differs from the stored crc (etcd's ErrCRCMismatch). */
  CrcMismatch: 'crc-mismatch',
  /** Not a snappb.snapshot / raftpb.Snapshot protobuf. */
  BadProtobuf: 'bad-protobuf',
} as const

/** raft ConfState: the configuration at the snapshot index. IDs are member IDs. */
export interface ConfState {
  voters: bigint[]
  learners: bigint[]
  votersOutgoing: bigint[]
  learnersNext: bigint[]
  autoLeave: boolean
}

/** raftpb.SnapshotMetadata. */
export interface SnapshotMetadata {
  term: bigint
  index: bigint
  confState: ConfState
}

/** A `.snap` file that read cleanly. Offsets are absolute file offsets. */
export interface DecodedSnapshot {
  /** CRC stored in snappb.snapshot.crc (unsigned 32-bit). */
  storedCrc: number
  /** CRC-32C computed over snappb.snapshot.data (equal to storedCrc here). */
  computedCrc: number
  /** Offset and length of snappb.snapshot.data (the raftpb.Snapshot bytes). */
  raftOffset: number
  raftLength: number
  metadata: SnapshotMetadata
  /** raftpb.Snapshot.data: the v2 store JSON (zero-copy view into the file bytes). */
  data: Uint8Array
  /** File offset of data[0]. */
  dataOffset: number
}

const emptyHint = 'etcd skips it at start (renaming it to .broken) and falls back to an older snapshot; keep the file for analysis'

/**
 * Decodes and verifies one `.snap` file held entirely in memory (`.snap` files are small; read whole).
 * Throws DecodeError with code `empty-snapshot`, `bad-protobuf` or `crc-mismatch`.
 */
export function readSnapshot(bytes: Uint8Array, file: string): DecodedSnapshot {
  try {
    return readSnapshotUnchecked(bytes, file)
  } catch (err) {
    // The walker's own messages ("protobuf: truncated varint") gain the format prefix and a next step.
    if (err instanceof DecodeError && err.code === SnapErrorCode.BadProtobuf && !err.detail.startsWith('snap: ')) {
      throw new DecodeError(err.file, err.offset, err.code, `snap: ${err.detail}; not a valid .snap file`, undecodableHint)
    }
    if (err instanceof DecodeError && err.code === SnapErrorCode.BadProtobuf && err.hint === undefined) {
      throw new DecodeError(err.file, err.offset, err.code, err.detail, undecodableHint)
    }
    throw err
  }
}

const undecodableHint = 'etcd cannot read it either: at start it renames the file to .broken and uses an older snapshot; keep the file for analysis'

function readSnapshotUnchecked(bytes: Uint8Array, file: string): DecodedSnapshot {
  if (bytes.length === 0) {
    throw new DecodeError(file, 0, SnapErrorCode.Empty, 'snap: empty snapshot (0-byte file); expected snappb.snapshot {crc, data}', emptyHint)
  }
  // snappb.snapshot
  const r = new ProtoReader(bytes, file, 0)
  let crc = 0
  let raft: [number, number] | undefined
  while (!r.done) {
    const at = r.pos
    const { field, wire } = r.tag()
    if (field === 1) {
      if (wire !== WireType.Varint) r.fail(SnapErrorCode.BadProtobuf, `snap: snappb.snapshot field 1 (crc) has wire type ${wire}, want 0; not a .snap file`, at)
      // gogo's generated Unmarshal accumulates into a uint32 and drops higher bits.
      crc = Number(r.varint64() & 0xffffffffn)
    } else if (field === 2) {
      if (wire !== WireType.Bytes) r.fail(SnapErrorCode.BadProtobuf, `snap: snappb.snapshot field 2 (data) has wire type ${wire}, want 2; not a .snap file`, at)
      raft = r.lengthDelimited()
    } else {
      r.skip(wire, field)
    }
  }
  if (raft === undefined || raft[1] === raft[0] || crc === 0) {
    const what = raft === undefined || raft[1] === raft[0] ? 'no data' : 'stored crc is 0'
    throw new DecodeError(file, raft?.[0] ?? 0, SnapErrorCode.Empty, `snap: empty snapshot (${what}); expected a non-empty raftpb.Snapshot with its CRC-32C`, emptyHint)
  }
  const [rs, re] = raft
  const payload = bytes.subarray(rs, re)
  const computed = crc32c(payload)
  if (computed !== crc) {
    throw new DecodeError(file, rs, SnapErrorCode.CrcMismatch,
      `snap: crc mismatch: expected ${hex8(crc)} computed ${hex8(computed)} over ${re - rs} bytes`,
      'the file is damaged; etcd renames it to .broken at start and uses an older snapshot matching a WAL snapshot record',
      { expected: hex8(crc), computed: hex8(computed) })
  }
  // raftpb.Snapshot
  const s = new ProtoReader(bytes, file, 0, rs, re)
  let data: [number, number] = [rs, rs]
  let metadata: SnapshotMetadata | undefined
  while (!s.done) {
    const at = s.pos
    const { field, wire } = s.tag()
    if (field === 1) {
      if (wire !== WireType.Bytes) s.fail(SnapErrorCode.BadProtobuf, `snap: raftpb.Snapshot field 1 (data) has wire type ${wire}, want 2`, at)
      data = s.lengthDelimited()
    } else if (field === 2) {
      if (wire !== WireType.Bytes) s.fail(SnapErrorCode.BadProtobuf, `snap: raftpb.Snapshot field 2 (metadata) has wire type ${wire}, want 2`, at)
      const [ms, me] = s.lengthDelimited()
      metadata = readMetadata(bytes, file, ms, me)
    } else {
      s.skip(wire, field)
    }
  }
  // A proto2 message without metadata decodes in Go as all-zero metadata (gogo non-nullable).
  metadata ??= { term: 0n, index: 0n, confState: emptyConfState() }
  return {
    storedCrc: crc,
    computedCrc: computed,
    raftOffset: rs,
    raftLength: re - rs,
    metadata,
    data: bytes.subarray(data[0], data[1]),
    dataOffset: data[0],
  }
}

function emptyConfState(): ConfState {
  return { voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false }
}

function readMetadata(bytes: Uint8Array, file: string, start: number, end: number): SnapshotMetadata {
  const r = new ProtoReader(bytes, file, 0, start, end)
  const md: SnapshotMetadata = { term: 0n, index: 0n, confState: emptyConfState() }
  while (!r.done) {
    const at = r.pos
    const { field, wire } = r.tag()
    if (field === 1) {
      if (wire !== WireType.Bytes) r.fail(SnapErrorCode.BadProtobuf, `snap: SnapshotMetadata field 1 (conf_state) has wire type ${wire}, want 2`, at)
      const [cs, ce] = r.lengthDelimited()
      md.confState = readConfState(bytes, file, cs, ce)
    } else if (field === 2 || field === 3) {
      if (wire !== WireType.Varint) r.fail(SnapErrorCode.BadProtobuf, `snap: SnapshotMetadata field ${field} (${field === 2 ? 'index' : 'term'}) has wire type ${wire}, want 0`, at)
      const v = r.varint64()
      if (field === 2) md.index = v
      else md.term = v
    } else {
      r.skip(wire, field)
    }
  }
  return md
}

const confStateLists = { 1: 'voters', 2: 'learners', 3: 'votersOutgoing', 4: 'learnersNext' } as const

function readConfState(bytes: Uint8Array, file: string, start: number, end: number): ConfState {
  const r = new ProtoReader(bytes, file, 0, start, end)
  const cs = emptyConfState()
  while (!r.done) {
    const at = r.pos
    const { field, wire } = r.tag()
    if (field >= 1 && field <= 4) {
      const list = cs[confStateLists[field as 1 | 2 | 3 | 4]]
      if (wire === WireType.Varint) {
        list.push(r.varint64())
      } else if (wire === WireType.Bytes) {
        // Packed encoding (what google.golang.org/protobuf may write).
        const [ps, pe] = r.lengthDelimited()
        const p = new ProtoReader(bytes, file, 0, ps, pe)
        while (!p.done) list.push(p.varint64())
      } else {
        r.fail(SnapErrorCode.BadProtobuf, `snap: ConfState field ${field} has wire type ${wire}, want 0 or 2`, at)
      }
    } else if (field === 5) {
      if (wire !== WireType.Varint) r.fail(SnapErrorCode.BadProtobuf, `snap: ConfState field 5 (auto_leave) has wire type ${wire}, want 0`, at)
      cs.autoLeave = r.varint64() !== 0n
    } else {
      r.skip(wire, field)
    }
  }
  return cs
}

/** `%08x` of an unsigned 32-bit CRC. */
export function hex8(v: number): string {
  return (v >>> 0).toString(16).padStart(8, '0')
}

/** Parses `%016x-%016x.snap` (term-index). Undefined for any other name. */
export function parseSnapName(name: string): { term: bigint; index: bigint } | undefined {
  const m = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/.exec(name)
  return m ? { term: BigInt('0x' + m[1]), index: BigInt('0x' + m[2]) } : undefined
}

/** Parses `%016x.snap.db` (raft snapshot index of a db received from the leader). */
export function parseSnapDbName(name: string): bigint | undefined {
  const m = /^([0-9a-f]{16})\.snap\.db$/.exec(name)
  return m ? BigInt('0x' + m[1]) : undefined
}

/** `%016x-%016x.snap` for a term and index (snapshotter.go `snapSuffix` naming). */
export function snapName(term: bigint, index: bigint): string {
  return `${term.toString(16).padStart(16, '0')}-${index.toString(16).padStart(16, '0')}.snap`
}
