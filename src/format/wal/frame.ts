/**
 * The WAL frame, mirroring `encodeFrameSize`/`decodeFrameSize` in
 * etcd-io/etcd@v3.6.0:server/storage/wal/{encoder.go,decoder.go}:
 *
 *   offset k (a multiple of 8): u64 little-endian length word
 *     bits 0..55  recBytes (length of the walpb.Record)
 *     bit  63     padded flag; when set, bits 56..58 = padBytes (0..7)
 *     bits 59..62 unused (etcd ignores them; we report them)
 *   then recBytes bytes of walpb.Record, then padBytes zero bytes.
 *
 * A zero word is not a record: it is the preallocated tail that ends a segment.
 */

/** Size of the length word in bytes. */
export const FRAME_HEADER_BYTES = 8
/** etcd's `minSectorSize`: the torn-write test splits frames on 512-byte file sectors. */
export const MIN_SECTOR_SIZE = 512
/** etcd's `SegmentSizeBytes`: 64,000,000 bytes (not MiB). */
export const SEGMENT_SIZE_BYTES = 64 * 1000 * 1000

/** A decoded length word. */
export interface FrameSize {
  /** Bytes of protobuf Record. Exact below 2^53; larger words can never fit in a file anyway. */
  recBytes: number
  /** Zero bytes after the record so the frame ends on a multiple of 8. */
  padBytes: number
  /** Bits 59..62 of the word (should be zero). */
  reservedBits: number
}

/**
 * Decodes a length word given as its two little-endian u32 halves (avoids a bigint per record).
 * @param lo bits 0..31
 * @param hi bits 32..63
 */
export function decodeFrameSize(lo: number, hi: number): FrameSize {
  const top = hi >>> 24
  const recBytes = (lo >>> 0) + (hi & 0x00ffffff) * 0x1_0000_0000
  // Go: `if int64(lenField) < 0 { padBytes = int64((uint64(lenField) >> 56) & 0x7) }`
  const padBytes = top & 0x80 ? top & 0x07 : 0
  return { recBytes, padBytes, reservedBits: (top >>> 3) & 0x0f }
}

/** Encodes a frame size the way etcd's encoder does: `0x80 | pad` in the top byte when padded. */
export function encodeFrameSize(recBytes: number): { word: bigint; padBytes: number } {
  const padBytes = (8 - (recBytes % 8)) % 8
  let word = BigInt(recBytes)
  if (padBytes !== 0) word |= BigInt(0x80 | padBytes) << 56n
  return { word, padBytes }
}

/**
 * etcd's `isTornEntry` test on one frame payload (record + padding) that starts at file offset
 * `fileOffset`: split it on 512-byte file-sector boundaries; if any piece is entirely zero, a
 * sector never reached the disk and the frame is a torn write. The caller applies it only in the
 * last segment, as etcd does.
 */
export function isTornEntry(payload: Uint8Array, fileOffset: number): boolean {
  let cur = 0
  let off = fileOffset
  while (cur < payload.length) {
    let chunk = MIN_SECTOR_SIZE - (off % MIN_SECTOR_SIZE)
    if (chunk > payload.length - cur) chunk = payload.length - cur
    let zero = true
    for (let i = cur, e = cur + chunk; i < e; i++) {
      if (payload[i] !== 0) {
        zero = false
        break
      }
    }
    if (zero) return true
    off += chunk
    cur += chunk
  }
  return false
}
