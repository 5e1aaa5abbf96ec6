/**
 * The WAL record stream across segments: framing, the rolling CRC-32C chain and the end-of-log
 * classification, mirroring etcd-io/etcd@v3.6.0:server/storage/wal/decoder.go (`decodeRecord`,
 * `isTornEntry`) and the CRC-record check of wal.go `ReadAll`/`Verify`.
 *
 * Per segment, from offset 0: [u64 LE length word][walpb.Record][pad] … until EOF or a zero word.
 * The chain value is CRC-32C over the `data` of every non-CRC record since WAL creation; a CRC
 * record (type 4) stores the value carried over from the previous segment. A reader that starts
 * with value 0 adopts the first CRC record unchecked and checks every later one.
 *
 * Pure: bytes come from a caller-supplied `RandomAccess` (io/ opens files; tests pass memory),
 * read sequentially into one reused buffer (default 4 MiB) with a partial frame carried across
 * chunk boundaries, so memory stays flat whatever the number of segments.
 */
import { crc32cUpdate } from '../crc32c.js'
import { DecodeError } from '../../errors.js'
import { FRAME_HEADER_BYTES, decodeFrameSize, isTornEntry } from './frame.js'
import { RecordType, decodeRecord } from './record.js'

/** Positioned reads (structurally an io/ ByteSource). */
export interface RandomAccess {
  readonly byteLength: number
  /** Reads into `target` from `offset`; returns the number of bytes read (short only at EOF). */
  readInto(offset: number, target: Uint8Array): number
}

/** One segment to decode, in log order. `file` is the name used in results and errors. */
export interface SegmentInput {
  file: string
  source: RandomAccess
}

/** A finding: data, not prose (STYLE §5). CRC values are 8-digit lowercase hex. */
export interface WalFinding {
  severity: 'error' | 'warning' | 'info'
  /** Stable code: torn-tail, crc-mismatch, crc-chain-break, truncated-segment, bad-protobuf, … */
  code: string
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

/** How a segment ended. */
export type SegmentEnd =
  | 'eof' // the last frame ended exactly at the end of the file
  | 'zero-tail' // a zero length word: the preallocated tail (normal for the last segment)
  | 'torn-tail' // a torn write at the end of the last segment
  | 'corrupt' // reading stopped at corruption
  | 'skipped' // --tolerant jumped over the rest of the file after a frame it could not delimit

/** End-of-log verdict, as etcd would see it on boot (STYLE §6). */
export type WalEndStatus = 'clean' | 'torn-tail' | 'corrupt'

export type WalEvent =
  | { kind: 'segment-start'; segment: number; file: string; byteLength: number }
  | WalRecordEvent
  | { kind: 'finding'; segment: number; finding: WalFinding }
  | WalSegmentEndEvent
  | WalEndEvent

/** One record. `data` views the reader's reused buffer: valid only until the next iteration. */
export interface WalRecordEvent {
  kind: 'record'
  segment: number
  file: string
  /** Offset of the length word. */
  offset: number
  recBytes: number
  padBytes: number
  type: number
  storedCrc: number
  /** Chain value after this record (CRC records: the running value it was compared with). */
  computedCrc: number
  status: 'ok' | 'crc-mismatch' | 'crc-chain-break' | 'adopted' | 'unverified'
  data: Uint8Array
}

export interface WalSegmentEndEvent {
  kind: 'segment-end'
  segment: number
  file: string
  end: SegmentEnd
  /** Offset just past the last good frame (etcd's `lastValidOff`). */
  lastValidOffset: number
  /** Bytes from the zero word to the end of the file (not read: etcd never reads past the word). */
  zeroTailBytes: number
  records: number
}

export interface WalEndEvent {
  kind: 'end'
  status: WalEndStatus
  /** Chain value after the last good record. */
  crc: number
  /** Where the log's valid part ends: last segment file and offset. */
  lastValid?: { file: string; offset: number }
}

export interface DecodeWalOptions {
  /** Keep going after a record etcd would reject, and report every finding (etcd's continueOnCrcError). */
  tolerant?: boolean
  /** Compute and check the CRC chain (default true). Off: a framing-only pass. */
  verifyCrc?: boolean
  /** Reused read buffer size in bytes (default 4 MiB). */
  chunkBytes?: number
  /** Chain value before the first record (default 0: adopt the first CRC record). */
  initialCrc?: number
}

const DEFAULT_CHUNK = 4 * 1024 * 1024
const TORN_HINT = 'a torn write at the end of the last segment is normal after a crash or power loss; etcd repairs it on start (keeps a .broken copy)'
const CORRUPT_HINT_LAST = 'etcd will refuse to start on this WAL: restore the member from a healthy peer (etcd-inspect replace plan)'

const hex8 = (v: number): string => (v >>> 0).toString(16).padStart(8, '0')

/**
 * Decodes the records of `segments` in order. Yields segment boundaries, records, findings and a
 * final `end` event. Throws only DecodeError for I/O-independent misuse; every problem in the
 * bytes is a finding.
 */
export function* decodeWal(segments: readonly SegmentInput[], opts: DecodeWalOptions = {}): Generator<WalEvent, void, undefined> {
  const tolerant = opts.tolerant ?? false
  const verify = opts.verifyCrc ?? true
  let buf: Uint8Array = new Uint8Array(Math.max(64, opts.chunkBytes ?? DEFAULT_CHUNK))
  const baseBuf = buf
  let crc = (opts.initialCrc ?? 0) >>> 0
  let status: WalEndStatus = 'clean'
  let lastValid: { file: string; offset: number } | undefined

  for (let si = 0; si < segments.length; si++) {
    const { file, source } = segments[si]!
    const size = source.byteLength
    const isLast = si === segments.length - 1
    yield { kind: 'segment-start', segment: si, file, byteLength: size }
    buf = baseBuf
    let bufStart = 0 // file offset of buf[0]
    let bufLen = 0 // valid bytes in buf
    let off = 0
    let records = 0
    let end: SegmentEnd = 'eof'
    let zeroTailBytes = 0
    let stop = false

    /** Makes [at, at + n) available in buf; returns the index of `at` in buf, or -1 on a short read. */
    const ensure = (at: number, n: number): number => {
      if (at >= bufStart && at + n <= bufStart + bufLen) return at - bufStart
      if (n > buf.length) {
        // A frame larger than the chunk: a one-off buffer of exactly its size (already bounded by
        // the file size by the caller, so a hostile length word cannot make us allocate more).
        buf = new Uint8Array(n)
        bufStart = at
        bufLen = source.readInto(at, buf)
        return bufLen >= n ? 0 : -1
      }
      if (buf !== baseBuf) {
        buf = baseBuf
        bufLen = 0
      }
      // Carry the partial frame already in the buffer to its front, then read the rest.
      let kept = 0
      if (at >= bufStart && at < bufStart + bufLen) {
        kept = bufStart + bufLen - at
        buf.copyWithin(0, at - bufStart, bufLen)
      }
      bufStart = at
      const want = Math.min(buf.length, size - at) - kept
      const got = want > 0 ? source.readInto(at + kept, want === buf.length - kept ? buf.subarray(kept) : buf.subarray(kept, kept + want)) : 0
      bufLen = kept + got
      return bufLen >= n ? 0 : -1
    }

    const finding = (f: WalFinding) => ({ kind: 'finding' as const, segment: si, finding: f })

    for (;;) {
      const left = size - off
      if (left === 0) {
        end = 'eof'
        break
      }
      if (left < FRAME_HEADER_BYTES) {
        // etcd: a partial length word is io.ErrUnexpectedEOF.
        const f = frameProblem(file, off, isLast, `wal: partial length word: ${left} bytes left at end of file, need 8`)
        yield finding(f)
        end = isLast ? 'torn-tail' : 'corrupt'
        status = worse(status, isLast ? 'torn-tail' : 'corrupt')
        if (!isLast && tolerant) { end = 'skipped'; break }
        if (isLast || !tolerant) { stop = true; break }
        break
      }
      let p = ensure(off, FRAME_HEADER_BYTES)
      const lo = buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24)
      const hi = buf[p + 4]! | (buf[p + 5]! << 8) | (buf[p + 6]! << 16) | (buf[p + 7]! << 24)
      if (lo === 0 && hi === 0) {
        // Hit the preallocated space: etcd drops the rest of this file (decoder.go).
        end = 'zero-tail'
        zeroTailBytes = left
        if (!isLast) {
          yield finding({ severity: 'warning', code: 'zero-tail-before-last', file, offset: off,
            detail: `wal: zero length word at ${off} in a segment that is not the last (${left} bytes not read); etcd cuts segments without a zero tail`,
            hint: 'the CRC record of the next segment shows whether records were lost' })
        }
        break
      }
      const { recBytes, padBytes, reservedBits } = decodeFrameSize(lo, hi)
      if (reservedBits !== 0) {
        yield finding({ severity: 'warning', code: 'frame-reserved-bits', file, offset: off,
          detail: `wal: length word ${wordHex(lo, hi)} has bits 59..62 set (${reservedBits.toString(2)}); etcd ignores them` })
      }
      const frameBytes = recBytes + padBytes
      // Never trust a length: check it against the bytes left BEFORE reading or allocating.
      if (frameBytes > left - FRAME_HEADER_BYTES) {
        const f = frameProblem(file, off, isLast,
          `wal: frame length ${recBytes}+${padBytes} pad (word ${wordHex(lo, hi)}) runs past the end of the file: ${left - FRAME_HEADER_BYTES} bytes left`)
        yield finding(f)
        status = worse(status, isLast ? 'torn-tail' : 'corrupt')
        end = isLast ? 'torn-tail' : tolerant ? 'skipped' : 'corrupt'
        if (isLast || !tolerant) { stop = true; break }
        break
      }
      p = ensure(off, FRAME_HEADER_BYTES + frameBytes)
      if (p < 0) {
        // The file shrank under us (a live member truncating a tail): same as a short read.
        const f = frameProblem(file, off, isLast, `wal: short read of a ${frameBytes}-byte frame`)
        yield finding(f)
        status = worse(status, isLast ? 'torn-tail' : 'corrupt')
        end = isLast ? 'torn-tail' : 'corrupt'
        stop = true; break
      }
      const recStart = p + FRAME_HEADER_BYTES
      let type: number
      let stored: number
      let data: Uint8Array
      try {
        const rec = decodeRecord(buf, recStart, recStart + recBytes, file, bufStart)
        type = rec.type
        stored = rec.crc
        data = rec.data
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err
        if (isLast && isTornEntry(buf.subarray(recStart, recStart + frameBytes), off + FRAME_HEADER_BYTES)) {
          yield finding(tornFinding(file, off, `wal: torn write: record at ${off} does not decode (${err.detail}) and holds an all-zero 512-byte sector`))
          status = worse(status, 'torn-tail')
          end = 'torn-tail'
          stop = true; break
        }
        yield finding({ severity: 'error', code: 'bad-protobuf', file, offset: off,
          detail: `wal: record at ${off} is not a walpb.Record: ${err.detail} (at ${err.offset})`,
          hint: isLast ? CORRUPT_HINT_LAST : 'corruption before the last segment: etcd will not start; replace this member (etcd-inspect replace plan)' })
        status = 'corrupt'
        if (!tolerant) { end = 'corrupt'; stop = true; break }
        off += FRAME_HEADER_BYTES + frameBytes
        continue
      }

      let recStatus: WalRecordEvent['status'] = 'unverified'
      let computed = crc
      if (type === RecordType.Crc) {
        if (records !== 0) {
          yield finding({ severity: 'warning', code: 'crc-record-not-first', file, offset: off,
            detail: `wal: CRC record at ${off} is record ${records + 1} of the segment; etcd writes it first` })
        }
        if (!verify) recStatus = 'unverified'
        else if (crc === 0) recStatus = 'adopted'
        else if (crc !== stored) {
          recStatus = 'crc-chain-break'
          yield finding({ severity: 'error', code: 'crc-chain-break', file, offset: off,
            detail: `wal: crc mismatch: CRC record at ${off} stores ${hex8(stored)} but the chain up to here computes ${hex8(crc)}: records were lost or changed before this segment`,
            expected: hex8(stored), computed: hex8(crc),
            hint: 'an earlier segment is damaged or was replaced; etcd will not start: replace this member (etcd-inspect replace plan)' })
          status = 'corrupt'
          if (!tolerant) {
            yield { kind: 'record', segment: si, file, offset: off, recBytes, padBytes, type, storedCrc: stored, computedCrc: computed, status: recStatus, data }
            end = 'corrupt'
            stop = true; break
          }
        } else recStatus = 'ok'
        // The CRC record replaces the running value (wal.go: decoder.updateCRC(rec.Crc)).
        crc = stored
      } else {
        if (records === 0) {
          yield finding({ severity: 'error', code: 'missing-crc-record', file, offset: off,
            detail: `wal: segment does not start with a CRC record (first record has type ${type}); etcd starts every segment with one`,
            hint: 'the segment was not written by etcd or its head was overwritten; do not start etcd on it until explained' })
          status = 'corrupt'
        }
        if (verify) {
          computed = crc32cUpdate(crc, data)
          if (computed !== stored) {
            if (isLast && isTornEntry(buf.subarray(recStart, recStart + frameBytes), off + FRAME_HEADER_BYTES)) {
              yield finding(tornFinding(file, off, `wal: torn write: record at ${off} fails its CRC (expected ${hex8(stored)} computed ${hex8(computed)}) and holds an all-zero 512-byte sector`))
              status = worse(status, 'torn-tail')
              end = 'torn-tail'
              stop = true; break
            }
            recStatus = 'crc-mismatch'
            yield finding({ severity: 'error', code: 'crc-mismatch', file, offset: off,
              detail: `wal: crc mismatch: expected ${hex8(stored)} computed ${hex8(computed)}`,
              expected: hex8(stored), computed: hex8(computed),
              hint: isLast ? CORRUPT_HINT_LAST : 'corruption before the last segment: etcd will not start; replace this member (etcd-inspect replace plan)' })
            status = 'corrupt'
            if (!tolerant) {
              yield { kind: 'record', segment: si, file, offset: off, recBytes, padBytes, type, storedCrc: stored, computedCrc: computed, status: recStatus, data }
              end = 'corrupt'
              stop = true; break
            }
            // Re-seed from the stored value so one damaged record is reported once, not the rest of the log.
            crc = stored
          } else {
            crc = computed
            recStatus = 'ok'
          }
        }
        if (!(type >= 1 && type <= 5)) {
          yield finding({ severity: 'error', code: 'unknown-record-type', file, offset: off,
            detail: `wal: unexpected block type ${Number.isNaN(type) ? '(out of range)' : type} at ${off}; etcd knows types 1..5`,
            hint: CORRUPT_HINT_LAST })
          status = 'corrupt'
          if (!tolerant) { end = 'corrupt'; stop = true; break }
        }
      }
      records++
      yield { kind: 'record', segment: si, file, offset: off, recBytes, padBytes, type, storedCrc: stored, computedCrc: computed, status: recStatus, data }
      off += FRAME_HEADER_BYTES + frameBytes
      lastValid = { file, offset: off }
    }
    yield { kind: 'segment-end', segment: si, file, end, lastValidOffset: off, zeroTailBytes, records }
    if (stop) break
  }
  yield { kind: 'end', status, crc, lastValid }
}

function wordHex(lo: number, hi: number): string {
  return '0x' + (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0')
}

function worse(a: WalEndStatus, b: WalEndStatus): WalEndStatus {
  const rank = { clean: 0, 'torn-tail': 1, corrupt: 2 }
  return rank[b] > rank[a] ? b : a
}

function tornFinding(file: string, offset: number, detail: string): WalFinding {
  return { severity: 'warning', code: 'torn-tail', file, offset, detail, hint: TORN_HINT }
}

/** A frame that cannot be read whole: torn tail in the last segment, corruption anywhere else. */
function frameProblem(file: string, offset: number, isLast: boolean, detail: string): WalFinding {
  if (isLast) return tornFinding(file, offset, detail)
  return { severity: 'error', code: 'truncated-segment', file, offset, detail: detail + ' (not the last segment: etcd would silently stop reading here and drop later segments)',
    hint: 'a segment before the last is cut short: etcd will not see the entries after it; replace this member (etcd-inspect replace plan)' }
}
