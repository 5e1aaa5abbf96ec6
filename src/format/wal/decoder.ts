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
 * Pure: bytes come from a caller-supplied `RandomAccess` (io/ opens files; tests pass memory)
 * through the one frame reader (frame.ts `FrameCursor`: one reused buffer, default 4 MiB, a
 * partial frame carried across reads, so memory stays flat whatever the number of segments); the
 * chain is chain.ts `CrcChain`, every finding comes from findings.ts.
 */
import { DecodeError } from '../../errors.js'
import { ChainLink, CrcChain } from './chain.js'
import { framingFinding, walFinding, worseEnd, type SegmentEnd, type WalEndStatus, type WalFinding } from './findings.js'
import { FRAME_HEADER_BYTES, Frame, FrameCursor, isTornEntry, mayBeTorn, type RandomAccess } from './frame.js'
import { RecordType, decodeRecordInto, type RecordPos } from './record.js'

export type { RandomAccess } from './frame.js'
export type { SegmentEnd, WalEndStatus, WalFinding } from './findings.js'

/** One segment to decode, in log order. `file` is the name used in results and errors. */
export interface SegmentInput {
  file: string
  source: RandomAccess
}

export type WalEvent =
  | { kind: 'segment-start'; segment: number; file: string; byteLength: number }
  | WalRecordEvent
  | { kind: 'finding'; segment: number; finding: WalFinding }
  | WalSegmentEndEvent
  | WalEndEvent

/**
 * One record. `buf[dataStart, dataEnd)` is its `data`, in the reader's reused buffer: valid only
 * until the next iteration. `data` makes the view on demand (views cost more than small records).
 */
export class WalRecordEvent {
  readonly kind = 'record' as const
  constructor(
    readonly segment: number,
    readonly file: string,
    /** Offset of the length word. */
    readonly offset: number,
    readonly recBytes: number,
    readonly padBytes: number,
    readonly type: number,
    readonly storedCrc: number,
    /** Chain value after this record (CRC records: the running value it was compared with). */
    readonly computedCrc: number,
    readonly status: 'ok' | 'crc-mismatch' | 'crc-chain-break' | 'adopted' | 'unverified',
    readonly buf: Uint8Array,
    readonly dataStart: number,
    readonly dataEnd: number,
  ) {}

  get data(): Uint8Array {
    return this.buf.subarray(this.dataStart, this.dataEnd)
  }
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

const hex8 = (v: number): string => (v >>> 0).toString(16).padStart(8, '0')

/**
 * Decodes the records of `segments` in order. Yields segment boundaries, records, findings and a
 * final `end` event. Throws only DecodeError for I/O-independent misuse; every problem in the
 * bytes is a finding.
 */
export function* decodeWal(segments: readonly SegmentInput[], opts: DecodeWalOptions = {}): Generator<WalEvent, void, undefined> {
  const tolerant = opts.tolerant ?? false
  const verify = opts.verifyCrc ?? true
  const cur = new FrameCursor(opts.chunkBytes ?? DEFAULT_CHUNK)
  const chain = new CrcChain(opts.initialCrc ?? 0)
  let status: WalEndStatus = 'clean'
  let lastValidFile: string | undefined
  let lastValidOff = 0
  const rec: RecordPos = { type: 0, crc: 0, dataStart: 0, dataEnd: 0 }

  for (let si = 0; si < segments.length; si++) {
    const { file, source } = segments[si]!
    const size = source.byteLength
    const isLast = si === segments.length - 1
    yield { kind: 'segment-start', segment: si, file, byteLength: size }
    cur.reset(source)
    let records = 0
    let end: SegmentEnd = 'eof'
    let zeroTailBytes = 0
    let stop = false

    const finding = (f: WalFinding) => ({ kind: 'finding' as const, segment: si, finding: f })
    const hintAt = isLast ? 'last' : undefined

    for (;;) {
      const off = cur.offset
      const tornOk = mayBeTorn(isLast, off)
      const left = size - off
      const k = cur.next()
      if (k === Frame.End) {
        end = 'eof'
        break
      }
      if (k === Frame.PartialWord) {
        // etcd: a partial length word is io.ErrUnexpectedEOF.
        yield finding(framingFinding(cur, k, file, tornOk))
        end = tornOk ? 'torn-tail' : 'corrupt'
        status = worseEnd(status, end)
        if (!isLast && tolerant) { end = 'skipped'; break }
        stop = true
        break
      }
      if (k === Frame.ZeroWord) {
        // Hit the preallocated space: etcd drops the rest of this file (decoder.go).
        end = 'zero-tail'
        zeroTailBytes = left
        if (!isLast) {
          yield finding(walFinding('zero-tail-before-last', file, off,
            `wal: zero length word at ${off} in a segment that is not the last (${left} bytes not read); etcd cuts segments without a zero tail`))
        }
        break
      }
      const { recBytes, padBytes, frameBytes } = cur
      if (k === Frame.PastEnd) {
        yield finding(framingFinding(cur, k, file, tornOk))
        status = worseEnd(status, tornOk ? 'torn-tail' : 'corrupt')
        end = tornOk ? 'torn-tail' : !isLast && tolerant ? 'skipped' : 'corrupt'
        if (isLast || !tolerant) stop = true
        break
      }
      if (k === Frame.Ok && cur.reservedBits !== 0) {
        yield finding(walFinding('frame-reserved-bits', file, off,
          `wal: length word ${cur.wordHex()} has bits 59..62 set (${cur.reservedBits.toString(2)}); etcd ignores them`))
      }
      if (k !== Frame.Ok || !cur.whole()) {
        // The file shrank under us (a live member truncating a tail): same as a short read.
        yield finding(framingFinding(cur, Frame.ShortRead, file, tornOk))
        status = worseEnd(status, tornOk ? 'torn-tail' : 'corrupt')
        end = tornOk ? 'torn-tail' : 'corrupt'
        stop = true; break
      }
      const buf = cur.buf
      const recStart = cur.recStart
      try {
        decodeRecordInto(buf, recStart, recStart + recBytes, file, cur.start, rec)
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err
        if (tornOk && isTornEntry(buf.subarray(recStart, recStart + frameBytes), off + FRAME_HEADER_BYTES)) {
          yield finding(walFinding('torn-tail', file, off, `wal: torn write: record at ${off} does not decode (${err.detail}) and holds an all-zero 512-byte sector`))
          status = worseEnd(status, 'torn-tail')
          end = 'torn-tail'
          stop = true; break
        }
        yield finding(walFinding('bad-protobuf', file, off, `wal: record at ${off} is not a walpb.Record: ${err.detail} (at ${err.offset})`, { variant: hintAt }))
        status = 'corrupt'
        if (!tolerant) { end = 'corrupt'; stop = true; break }
        cur.advance()
        continue
      }

      const type = rec.type
      const stored = rec.crc
      const dataStart = rec.dataStart
      const dataEnd = rec.dataEnd
      let recStatus: WalRecordEvent['status'] = 'unverified'
      let computed = chain.value
      if (type === RecordType.Crc) {
        if (records !== 0) {
          yield finding(walFinding('crc-record-not-first', file, off, `wal: CRC record at ${off} is record ${records + 1} of the segment; etcd writes it first`))
        }
        // The CRC record replaces the running value (wal.go: decoder.updateCRC(rec.Crc)).
        const link = chain.crcRecord(stored)
        if (!verify) recStatus = 'unverified'
        else if (link === ChainLink.Adopted) recStatus = 'adopted'
        else if (link === ChainLink.Break) {
          recStatus = 'crc-chain-break'
          yield finding(walFinding('crc-chain-break', file, off,
            `wal: crc mismatch: CRC record at ${off} stores ${hex8(stored)} but the chain up to here computes ${hex8(computed)}: records were lost or changed before this segment`,
            { expected: hex8(stored), computed: hex8(computed) }))
          status = 'corrupt'
          if (!tolerant) {
            yield new WalRecordEvent(si, file, off, recBytes, padBytes, type, stored, computed, recStatus, buf, dataStart, dataEnd)
            end = 'corrupt'
            stop = true; break
          }
        } else recStatus = 'ok'
      } else {
        if (records === 0) {
          yield finding(walFinding('missing-crc-record', file, off,
            `wal: segment does not start with a CRC record (first record has type ${type}); etcd starts every segment with one`))
          status = 'corrupt'
        }
        if (verify) {
          if (!chain.check(buf, dataStart, dataEnd, stored)) {
            computed = chain.computed
            if (tornOk && isTornEntry(buf.subarray(recStart, recStart + frameBytes), off + FRAME_HEADER_BYTES)) {
              yield finding(walFinding('torn-tail', file, off, `wal: torn write: record at ${off} fails its CRC (expected ${hex8(stored)} computed ${hex8(computed)}) and holds an all-zero 512-byte sector`))
              status = worseEnd(status, 'torn-tail')
              end = 'torn-tail'
              stop = true; break
            }
            recStatus = 'crc-mismatch'
            yield finding(walFinding('crc-mismatch', file, off, `wal: crc mismatch: expected ${hex8(stored)} computed ${hex8(computed)}`,
              { variant: hintAt, expected: hex8(stored), computed: hex8(computed) }))
            status = 'corrupt'
            if (!tolerant) {
              yield new WalRecordEvent(si, file, off, recBytes, padBytes, type, stored, computed, recStatus, buf, dataStart, dataEnd)
              end = 'corrupt'
              stop = true; break
            }
            // Re-seed from the stored value so one damaged record is reported once, not the rest of the log.
            chain.reseed(stored)
          } else {
            computed = chain.value
            recStatus = 'ok'
          }
        }
        if (!(type >= 1 && type <= 5)) {
          yield finding(walFinding('unknown-record-type', file, off,
            `wal: unexpected block type ${Number.isNaN(type) ? '(out of range)' : type} at ${off}; etcd knows types 1..5`, { variant: 'last' }))
          status = 'corrupt'
          if (!tolerant) { end = 'corrupt'; stop = true; break }
        }
      }
      records++
      yield new WalRecordEvent(si, file, off, recBytes, padBytes, type, stored, computed, recStatus, buf, dataStart, dataEnd)
      cur.advance()
      lastValidFile = file
      lastValidOff = cur.offset
    }
    if (records === 0 && !stop && end !== 'skipped') {
      yield finding(walFinding('empty-segment', file, 0,
        `wal: segment holds no records (${end === 'zero-tail' ? `${zeroTailBytes} zero bytes` : 'empty file'}); etcd creates every segment with a CRC and a metadata record`))
      status = 'corrupt'
    }
    yield { kind: 'segment-end', segment: si, file, end, lastValidOffset: cur.offset, zeroTailBytes, records }
    if (stop) break
  }
  yield { kind: 'end', status, crc: chain.value, lastValid: lastValidFile === undefined ? undefined : { file: lastValidFile, offset: lastValidOff } }
}
