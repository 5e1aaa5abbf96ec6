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
 * Decodes a length word given as its two little-endian u32 halves (avoids a bigint per record),
 * into `out` when given (the frame reader passes itself: no object per record).
 * @param lo bits 0..31
 * @param hi bits 32..63
 */
export function decodeFrameSize(lo: number, hi: number, out: FrameSize = { recBytes: 0, padBytes: 0, reservedBits: 0 }): FrameSize {
  const top = hi >>> 24
  const high = hi & 0x00ffffff
  // A length below 2^32 (every real frame) stays a small integer: a product with 2^32, even 0,
  // is a double, and V8 would then keep every offset derived from it (FrameCursor.offset, the
  // offsets printed per entry) as a boxed double, allocated at each use.
  out.recBytes = high === 0 ? lo >>> 0 : (lo >>> 0) + high * 0x1_0000_0000
  // Go: `if int64(lenField) < 0 { padBytes = int64((uint64(lenField) >> 56) & 0x7) }`
  out.padBytes = top & 0x80 ? top & 0x07 : 0
  out.reservedBits = (top >>> 3) & 0x0f
  return out
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

/** Positioned reads (structurally an io/ ByteSource; tests pass memory). */
export interface RandomAccess {
  readonly byteLength: number
  /** Reads into `target` from `offset`; returns the number of bytes read (short only at EOF). */
  readInto(offset: number, target: Uint8Array): number
}

// FrameCursor returns these as module constants, not as loads of `Frame`'s properties: a load
// needs V8's type feedback, and a rare answer (the end of a chunk, a zero word) returned first after
// the function was compiled threw its code away (the chunker's `next`, four compiles a run).
const OK = 0
const END = 1
const ZERO_WORD = 2
const PARTIAL_WORD = 3
const PAST_END = 4
const SHORT_READ = 5

/** What `FrameCursor.next` found at the cursor's offset. */
export const Frame = {
  /** A frame that fits in the region: recBytes, padBytes, frameBytes, reservedBits are set. */
  Ok: OK,
  /** The region ends exactly here (a frame boundary). */
  End: END,
  /** A zero length word: the preallocated tail (etcd stops reading the file there). */
  ZeroWord: ZERO_WORD,
  /** Fewer than 8 bytes left: a partial length word (etcd: io.ErrUnexpectedEOF). */
  PartialWord: PARTIAL_WORD,
  /** The length word announces a frame that runs past the end of the region (its sizes are set). */
  PastEnd: PAST_END,
  /** The source returned fewer bytes than the region promised: a file shrinking under us, or the end of an in-memory window. */
  ShortRead: SHORT_READ,
} as const
export type FrameResult = (typeof Frame)[keyof typeof Frame]

/**
 * Whether a frame that cannot be read (cut short, undecodable, failing its CRC with an all-zero
 * sector) may be a torn write: only in the last segment, and never at offset 0 (segments are
 * created complete: written as .tmp, fsynced, renamed). The one place that decides torn tail vs
 * corruption; `isTornEntry` then decides for frames that were read whole.
 */
export function mayBeTorn(lastSegment: boolean, offset: number): boolean {
  return lastSegment && offset > 0
}

/**
 * The one WAL frame reader: a bounds-checked walk over the frames of one segment (or of a
 * region of one), every length word checked against the bytes left BEFORE anything is read or
 * allocated, so a hostile length can neither overrun nor make us allocate. Every path reads
 * frames through it: `decodeWal`, the verify/status scan (io/wal-scan.ts), the parallel chunker
 * and its workers (app/wal-parallel.ts, app/wal-fast.ts), `replace`'s identity.
 *
 * Allocation-free per frame: the caller loops `while (cur.next() === Frame.Ok)`, makes the frame
 * (or only its head) available with `whole()`/`head(n)`, reads `buf[recStart, recStart + recBytes)`
 * and calls `advance()`. Two kinds of input:
 *  - a `RandomAccess` (`reset`): read sequentially into one reused buffer, a partial frame carried
 *    to the buffer's front, a frame larger than the buffer read into a one-off buffer of exactly
 *    its size; after a head-only read the next length word is read with a small window, so
 *    skipping big payloads does not read them;
 *  - bytes already in memory (`over`): a window of file bytes [base, base + length), no copy.
 */
export class FrameCursor implements FrameSize {
  /** The current window; valid until the next `next()`/`whole()`/`head()`. */
  buf: Uint8Array
  /** File offset of `buf[0]`. */
  start = 0
  /** Valid bytes in `buf`. */
  len = 0
  /** File offset of the current frame's length word. */
  offset = 0
  /** Index in `buf` of the current frame's length word (after `next`, `whole`, `head`). */
  p = 0
  recBytes = 0
  padBytes = 0
  reservedBits = 0
  /** recBytes + padBytes */
  frameBytes = 0
  /** The two halves of the current length word (for messages). */
  lo = 0
  hi = 0
  /** File offset where the region ends (the file size, or the end of a chunk). */
  limit = 0
  private source: RandomAccess | null = null
  private readonly base: Uint8Array
  private window: number
  private readonly small: number

  /** `chunkBytes`: the reused buffer; `smallWindow`: read-ahead after a head-only read. */
  constructor(chunkBytes = 4 * 1024 * 1024, smallWindow = 4096) {
    this.base = new Uint8Array(Math.max(64, chunkBytes))
    this.buf = this.base
    this.window = this.base.length
    this.small = smallWindow
  }

  /** Starts on a segment read through `source`, from `from` to `limit` (default: the whole file). */
  reset(source: RandomAccess, from = 0, limit = source.byteLength): this {
    this.source = source
    this.buf = this.base
    this.start = from
    this.len = 0
    this.offset = from
    this.limit = limit
    this.window = this.base.length
    return this
  }

  /**
   * A cursor over bytes already read: `bytes[0, length)` are file bytes from offset `base`, and
   * the region ends at file offset `limit` (default: the end of the bytes). A frame past the
   * bytes but within the region is a `ShortRead` (the window ends there).
   */
  static over(bytes: Uint8Array, base = 0, length = bytes.length, limit = base + length): FrameCursor {
    const c = new FrameCursor(64)
    c.rewind(bytes, base, length, limit)
    return c
  }

  /** Reuses an in-memory cursor for another window (see `over`). */
  rewind(bytes: Uint8Array, base = 0, length = bytes.length, limit = base + length): this {
    this.source = null
    this.buf = bytes
    this.start = base
    this.len = length
    this.offset = base
    this.limit = limit
    return this
  }

  /** Index in `buf` of the current frame's record. */
  get recStart(): number {
    return this.p + FRAME_HEADER_BYTES
  }

  /** Bytes from the current offset to the end of the region. */
  get left(): number {
    return this.limit - this.offset
  }

  /** Reads and checks the length word at `offset` (see `Frame`). */
  next(): FrameResult {
    const left = this.limit - this.offset
    if (left === 0) return END
    if (left < FRAME_HEADER_BYTES) return PARTIAL_WORD
    const p = this.ensure(this.offset, FRAME_HEADER_BYTES)
    if (p < 0) return SHORT_READ
    const b = this.buf
    const lo = b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)
    const hi = b[p + 4]! | (b[p + 5]! << 8) | (b[p + 6]! << 16) | (b[p + 7]! << 24)
    this.p = p
    this.lo = lo
    this.hi = hi
    // (one comparison, always made: `hi === 0` alone was first made deep into a log)
    if ((lo | hi) === 0) return ZERO_WORD
    decodeFrameSize(lo, hi, this)
    this.frameBytes = this.recBytes + this.padBytes
    // Never trust a length: against the bytes left before reading or allocating.
    return this.frameBytes > left - FRAME_HEADER_BYTES ? PAST_END : OK
  }

  /** Makes the whole current frame available at `p`; false on a short read. */
  whole(): boolean {
    this.window = this.base.length
    const p = this.ensure(this.offset, FRAME_HEADER_BYTES + this.frameBytes)
    if (p < 0) return false
    this.p = p
    return true
  }

  /**
   * Makes at most the first `n` bytes of the current frame's record available at `recStart`
   * (a big frame: only its head is needed); the next length word is then read with a small window.
   */
  head(n: number): boolean {
    const want = FRAME_HEADER_BYTES + Math.min(n, this.frameBytes)
    if (this.source !== null) this.window = this.small
    const p = this.ensure(this.offset, want)
    if (p < 0) return false
    this.p = p
    return true
  }

  /**
   * Moves past every frame from the current offset that lies wholly in the bytes at hand and whose
   * length word is plain (nonzero, below 2^32, no reserved bits), as next + whole + advance would,
   * and stops at the first that is not or at the end of the bytes: the general steps take it from
   * there and judge it. Returns how many frames it passed; `p`, `recBytes` and `padBytes` then
   * describe the last of them. For the parallel chunker (app/wal-parallel.ts), which only needs
   * where whole frames end, over a million frames per log: one tight loop instead of four calls each.
   */
  skipPlain(): number {
    const b = this.buf
    const start = this.start
    const end = start + this.len
    let off = this.offset
    let n = 0
    // The cursor's fields are set in the loop, not after it: the first call runs long enough for V8
    // to compile the loop on the fly, before any code after it has run, and that code then lacked
    // the type feedback to stay compiled (on bench/wal's log, once per chunk: 368 times).
    for (;;) {
      if (end - off < FRAME_HEADER_BYTES) return n
      const p = off - start
      const lo = b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)
      const hi = b[p + 4]! | (b[p + 5]! << 8) | (b[p + 6]! << 16) | (b[p + 7]! << 24)
      // decodeFrameSize's rules, for the plain word only: pad in the low bits of the top byte when
      // its high bit is set, bits 3..6 reserved, nothing else above the low 32 bits
      if ((hi & 0x78ffffff) !== 0 || (lo | hi) === 0) return n
      const r = lo >>> 0
      const pd = hi & 0x80000000 ? (hi >>> 24) & 0x07 : 0
      if (r + pd > end - off - FRAME_HEADER_BYTES) return n
      off += FRAME_HEADER_BYTES + r + pd
      this.p = p
      this.recBytes = r
      this.padBytes = pd
      this.reservedBits = 0
      this.frameBytes = r + pd
      this.offset = off
      n++
    }
  }

  /** Moves past the current frame. */
  advance(): void {
    this.offset += FRAME_HEADER_BYTES + this.frameBytes
  }

  /** The current length word as 0x%016x (for messages). */
  wordHex(): string {
    return '0x' + (this.hi >>> 0).toString(16).padStart(8, '0') + (this.lo >>> 0).toString(16).padStart(8, '0')
  }

  /** Makes file bytes [at, at + n) available in `buf`; returns the index of `at`, or -1 on a short read. */
  private ensure(at: number, n: number): number {
    if (at >= this.start && at + n <= this.start + this.len) return at - this.start
    const src = this.source
    if (src === null) return -1
    const base = this.base
    if (n > base.length) {
      // A frame larger than the buffer: a one-off buffer of exactly its size (bounded by the
      // region, checked in `next`, so a hostile length word cannot make us allocate more).
      this.buf = new Uint8Array(n)
      this.start = at
      this.len = src.readInto(at, this.buf)
      return this.len >= n ? 0 : -1
    }
    let kept = 0
    if (this.buf !== base) this.len = 0
    else if (at >= this.start && at < this.start + this.len) {
      // Carry the partial frame already in the buffer to its front, then read the rest.
      kept = this.start + this.len - at
      base.copyWithin(0, at - this.start, this.len)
    }
    this.buf = base
    this.start = at
    const want = Math.min(Math.max(n, this.window), base.length, this.limit - at) - kept
    const got = want > 0 ? src.readInto(at + kept, base.subarray(kept, kept + want)) : 0
    this.len = kept + got
    return this.len >= n ? 0 : -1
  }
}
