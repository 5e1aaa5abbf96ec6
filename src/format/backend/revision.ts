/**
 * mvcc revision keys (etcd mvcc/revision.go, server/storage/mvcc/revision.go): 17 bytes
 * `BE64(main) '_' BE64(sub)`, or 18 with a trailing 't' marking a tombstone. Big-endian, so bbolt's
 * key order is revision order. etcd panics on any other shape; we throw a DecodeError.
 */
import { DecodeError } from '../../errors.js'

/** A decoded revision key. */
export interface Revision {
  /** Transaction revision (int64, non-negative). */
  main: bigint
  /** Index of the change inside the transaction. */
  sub: bigint
  /** True for an 18-byte key ending in 't'. */
  tombstone: boolean
}

/** Decodes a revision key; `file`/`offset` locate it for the error message. */
export function decodeRevision(k: Uint8Array, file = '<key>', offset = 0): Revision {
  if ((k.length !== 17 && k.length !== 18) || k[8] !== 0x5f || (k.length === 18 && k[17] !== 0x74)) {
    throw new DecodeError(file, offset, 'bad-revision',
      `mvcc: revision key ${Buffer.from(k).toString('hex')} is not BE64(main) '_' BE64(sub) [+ 't'] (${k.length} bytes)`,
      'keys in the `key` bucket must be 17 or 18 bytes')
  }
  const v = new DataView(k.buffer, k.byteOffset, 17)
  const main = v.getBigInt64(0, false)
  const sub = v.getBigInt64(9, false)
  if (main < 0n || sub < 0n) {
    throw new DecodeError(file, offset, 'bad-revision', `mvcc: revision key has a negative main or sub (${main}_${sub})`)
  }
  return { main, sub, tombstone: k.length === 18 }
}

/** Encodes a revision key (17 bytes, or 18 with the tombstone marker). */
export function encodeRevision(main: bigint, sub = 0n, tombstone = false): Uint8Array {
  const b = new Uint8Array(tombstone ? 18 : 17)
  const v = new DataView(b.buffer)
  v.setBigInt64(0, main, false)
  b[8] = 0x5f
  v.setBigInt64(9, sub, false)
  if (tombstone) b[17] = 0x74
  return b
}

/** `main_sub` with a `t` suffix for tombstones, as etcd-dump-db prints revisions. */
export function revisionLabel(r: Revision): string {
  return `${r.main}_${r.sub}${r.tombstone ? 't' : ''}`
}
