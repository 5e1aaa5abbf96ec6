/**
 * A bounds-checked cursor over a caller-owned Uint8Array (modelled on protobuf-es' BinaryReader).
 * Every read checks its bounds first and throws DecodeError('truncated', file, absolute offset);
 * `bytes(n)` returns a subarray (zero-copy). bbolt structures are little-endian; mvcc revision keys
 * and etcd `meta` integers are big-endian, so both byte orders are explicit at the call site.
 */
import { DecodeError } from '../errors.js'

export class ByteReader {
  /** Position relative to the start of `buf`. */
  pos = 0
  private readonly view: DataView

  /**
   * @param buf bytes to read (not copied)
   * @param file file name used in error messages
   * @param base file offset of buf[0], so errors carry absolute offsets
   */
  constructor(readonly buf: Uint8Array, readonly file: string, readonly base = 0) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  }

  get len(): number {
    return this.buf.length
  }

  /** Bytes left after `pos`. */
  get remaining(): number {
    return this.buf.length - this.pos
  }

  /** Absolute file offset of `pos`. */
  get offset(): number {
    return this.base + this.pos
  }

  assertBounds(n: number, what = 'data'): void {
    if (n < 0 || this.pos + n > this.buf.length) {
      throw new DecodeError(this.file, this.base + this.pos, 'truncated',
        `truncated ${what}: need ${n} bytes, ${this.buf.length - this.pos} left`)
    }
  }

  seek(pos: number): this {
    if (pos < 0 || pos > this.buf.length) {
      throw new DecodeError(this.file, this.base + pos, 'truncated', `offset ${pos} outside ${this.buf.length}-byte buffer`)
    }
    this.pos = pos
    return this
  }

  u8(): number { this.assertBounds(1); return this.buf[this.pos++]! }
  u16le(): number { this.assertBounds(2); const v = this.view.getUint16(this.pos, true); this.pos += 2; return v }
  u32le(): number { this.assertBounds(4); const v = this.view.getUint32(this.pos, true); this.pos += 4; return v }
  u32be(): number { this.assertBounds(4); const v = this.view.getUint32(this.pos, false); this.pos += 4; return v }
  u64le(): bigint { this.assertBounds(8); const v = this.view.getBigUint64(this.pos, true); this.pos += 8; return v }
  u64be(): bigint { this.assertBounds(8); const v = this.view.getBigUint64(this.pos, false); this.pos += 8; return v }

  /** Zero-copy view of the next n bytes. */
  bytes(n: number, what = 'data'): Uint8Array {
    this.assertBounds(n, what)
    const b = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return b
  }
}
