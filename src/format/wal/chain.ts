/**
 * The WAL's rolling CRC-32C chain, as etcd-io/etcd@v3.6.0:server/storage/wal keeps it: every
 * record but a CRC record stores CRC-32C(previous value, its data) (encoder.go `e.crc.Write`);
 * a CRC record (type 4) stores the value carried over from the previous segment, and a reader
 * takes it as its running value (wal.go ReadAll: `decoder.updateCRC(rec.Crc)`), checking it
 * first unless it has nothing yet (value 0: a reader starting mid-log adopts the first one).
 * The one chain every path uses: `decodeWal`, the verify/status scan, the parallel chunks (each
 * seeded with the stored CRC of the record before it) and the links between segments.
 */
import { crc32cBatch, crc32cView } from '../crc32c.js'

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
  private buf: Uint8Array | null = null
  private dv: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0))
  /** Deferred records (`defer`): start, end, the chain before, the stored value. */
  private jobs: Int32Array = new Int32Array(0)
  private deferred = 0

  /**
   * `seed`: the value before the first record (0: adopt the first CRC record). `scratch`: room for
   * deferred records to reuse (4 ints each), so a worker's chains do not leave one array per chunk.
   */
  constructor(seed = 0, scratch?: Int32Array) {
    this.value = seed >>> 0
    if (scratch !== undefined) this.jobs = scratch
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
    // One DataView per buffer (a reader's window, a worker's chunk), none per record.
    if (buf !== this.buf) {
      this.buf = buf
      this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
    }
    const c = crc32cView(this.value, this.dv, start, end)
    this.computed = c
    if (c !== stored) return false
    this.value = c
    return true
  }

  /**
   * Deferred checking, for a run of regular records whose first mismatch only needs to be known at
   * the end (a parallel chunk, app/wal-fast.ts): `defer` takes the record as if it matched (the
   * chain moves to `stored`), `settle` checks every record deferred since the last settle in one
   * call (format/crc32c.ts crc32cBatch) and returns the position (0 = the first deferred) of the
   * first that does not match, or -1.
   */
  defer(start: number, end: number, stored: number): void {
    let j = this.jobs
    const k = 4 * this.deferred
    if (k === j.length) {
      j = new Int32Array(Math.max(4 * 4096, j.length * 2))
      j.set(this.jobs)
      this.jobs = j
    }
    j[k] = start
    j[k + 1] = end
    j[k + 2] = this.value
    j[k + 3] = stored
    this.value = stored >>> 0
    this.deferred++
  }

  /** See `defer`; `buf` is the buffer the deferred positions are in. */
  settle(buf: Uint8Array): number {
    const n = this.deferred
    this.deferred = 0
    return n === 0 ? -1 : crc32cBatch(buf, this.jobs, n)
  }

  /** Continues from `value` (after a mismatch in tolerant mode: one damaged record is reported once). */
  reseed(value: number): void {
    this.value = value >>> 0
  }
}
