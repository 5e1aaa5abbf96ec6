/**
 * The WAL's rolling CRC-32C chain, as etcd-io/etcd@v3.6.0:server/storage/wal keeps it: every
 * record but a CRC record stores CRC-32C(previous value, its data) (encoder.go `e.crc.Write`);
 * a CRC record (type 4) stores the value carried over from the previous segment, and a reader
 * takes it as its running value (wal.go ReadAll: `decoder.updateCRC(rec.Crc)`), checking it
 * first unless it has nothing yet (value 0: a reader starting mid-log adopts the first one).
 * The one chain every path uses: `decodeWal`, the verify/status scan, the parallel chunks (each
 * seeded with the stored CRC of the record before it) and the links between segments.
 */
import { crc32cRange, crc32cUpdate } from '../crc32c.js'

/** What a CRC record did to the chain. */
export const ChainLink = {
  /** The chain had no value yet (0): the record's value was taken unchecked. */
  Adopted: 0,
  /** The record carries exactly the chain's value. */
  Ok: 1,
  /** The record carries another value: records were lost or changed before it. */
  Break: 2,
} as const
export type ChainLink = (typeof ChainLink)[keyof typeof ChainLink]

export class CrcChain {
  /** The running value (after the last record taken). */
  value: number
  /** What the last `check` computed (also on a mismatch). */
  computed = 0

  /** `seed`: the value before the first record (0: adopt the first CRC record). */
  constructor(seed = 0) {
    this.value = seed >>> 0
  }

  /** A CRC record storing `stored`: adopted, ok or a break; the chain takes `stored` in every case. */
  crcRecord(stored: number): ChainLink {
    const r = this.value === 0 ? ChainLink.Adopted : this.value === stored ? ChainLink.Ok : ChainLink.Break
    this.value = stored >>> 0
    return r
  }

  /**
   * A data record `buf[start, end)` with its stored value: true when they match (the chain moves
   * on); false leaves the chain where it was (`computed` holds the mismatching value).
   */
  check(buf: Uint8Array, start: number, end: number, stored: number): boolean {
    // Measured (`wal verify` against the CRC-only floor, same process, bench/wal.mjs's logs): the
    // library's loop over a view beats the same loop over a range (V8 compiles the standalone loop
    // better than the copy inlined into the frame walk): 50 -> 62 % of the floor on the 1.09 M
    // small-entry log, 54 -> 99 % on the 100 KB log; below 64 bytes the view costs more than it saves.
    const c = end - start >= 64 ? crc32cUpdate(this.value, buf.subarray(start, end)) : crc32cRange(this.value, buf, start, end)
    this.computed = c
    if (c !== stored) return false
    this.value = c
    return true
  }

  /** Continues from `value` (after a mismatch in tolerant mode: one damaged record is reported once). */
  reseed(value: number): void {
    this.value = value >>> 0
  }
}
