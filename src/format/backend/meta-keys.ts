/**
 * The `meta` bucket (etcd 3.4 mvcc/kvstore.go + etcdserver/cindex, 3.6 server/storage/schema/):
 *   consistent_index     8-byte BE u64, last applied raft index
 *   term                 8-byte BE u64 (3.5+)
 *   scheduledCompactRev  17-byte revision key {main, sub 0}
 *   finishedCompactRev   17-byte revision key
 *   confState            JSON of raftpb.ConfState (3.5+), uint64 numbers
 *   storageVersion       ASCII "X.Y" (3.6+)
 */
import { DecodeError } from '../../errors.js'
import { idHex } from '../ids.js'
import { parseJsonExact, toBigInt } from './json.js'
import { decodeRevision } from './revision.js'

/** An 8-byte big-endian u64 value. */
export function decodeU64be(v: Uint8Array, what: string, file: string, offset: number): bigint {
  if (v.length !== 8) {
    throw new DecodeError(file, offset, 'bad-meta-key', `${what}: ${v.length} bytes, expected an 8-byte big-endian integer`)
  }
  return new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0, false)
}

/** A compaction revision stored as a revision key: its `main`. */
export function decodeCompactRev(v: Uint8Array, what: string, file: string, offset: number): bigint {
  return decodeRevision(v, file, offset).main
}

/** raftpb.ConfState as etcd stores it in meta/confState. */
export interface ConfState {
  voters: string[]
  learners: string[]
  votersOutgoing: string[]
  learnersNext: string[]
  autoLeave: boolean
}

export function decodeConfState(v: Uint8Array, file: string, offset: number): ConfState {
  let j: Record<string, unknown>
  try {
    j = parseJsonExact(Buffer.from(v).toString('utf8')) as Record<string, unknown>
  } catch (e) {
    throw new DecodeError(file, offset, 'bad-meta-key', `meta/confState: not JSON (${(e as Error).message})`)
  }
  const ids = (x: unknown): string[] =>
    Array.isArray(x) ? x.map((n) => toBigInt(n)).filter((n): n is bigint => n !== undefined).map(idHex) : []
  return {
    voters: ids(j.voters), learners: ids(j.learners), votersOutgoing: ids(j.voters_outgoing),
    learnersNext: ids(j.learners_next), autoLeave: j.auto_leave === true,
  }
}
