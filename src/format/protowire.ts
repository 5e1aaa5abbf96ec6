/**
 * A strict protobuf wire-format walker, as strict as Go's gogo-generated `Unmarshal` that etcd uses:
 * field number 0, wire types 6/7, stray end-groups, a known field with the wrong wire type, and any
 * length that runs past its enclosing message are errors. protobufjs' generated `decode` checks
 * none of these, and etcd's EntryNormal classification (InternalRaftRequest vs legacy v2 Request,
 * FORMATS.md §3.3) depends on them, so classification goes through here first.
 * 64-bit varints are returned as bigint; nothing is rounded through a JS number.
 */
import { DecodeError } from '../errors.js'

export const WireType = { Varint: 0, Fixed64: 1, Bytes: 2, StartGroup: 3, EndGroup: 4, Fixed32: 5 } as const
export type WireType = (typeof WireType)[keyof typeof WireType]

/**
 * Expected wire shape of each known field of a message. A nested `MessageSchema` means the field is
 * a length-delimited message that is validated recursively (Go unmarshals known sub-messages eagerly).
 */
export type FieldShape = 'varint' | 'fixed64' | 'fixed32' | 'bytes' | MessageSchema
export interface MessageSchema {
  readonly name: string
  readonly fields: Readonly<Record<number, FieldShape>>
  /** Repeated scalar fields that may also arrive packed (wire type 2). */
  readonly packed?: readonly number[]
}

/**
 * End of a u64 varint at b[q, end): at most 10 bytes, the 10th at most 1; -1 when bad. The
 * allocation-free check of the byte-level fast paths (format/raft/put-shape.ts, io/wal-scan.ts),
 * which test a shape and leave anything else to ProtoReader.
 */
export function varintEnd(b: Uint8Array, q: number, end: number): number {
  for (let i = 0; i < 10; i++) {
    if (q >= end) return -1
    const x = b[q++]!
    if (x < 0x80) return i === 9 && x > 1 ? -1 : q
  }
  return -1
}

/** Cursor over one protobuf message. `base` is the file offset of buf[0] for error messages. */
export class ProtoReader {
  pos: number
  readonly end: number

  constructor(readonly buf: Uint8Array, readonly file = '<bytes>', readonly base = 0, start = 0, end = buf.length) {
    this.pos = start
    this.end = end
  }

  get done(): boolean {
    return this.pos >= this.end
  }

  fail(code: string, detail: string, at = this.pos): never {
    throw new DecodeError(this.file, this.base + at, code, detail)
  }

  /** Reads a varint of up to 10 bytes as bigint. */
  varint64(): bigint {
    const buf = this.buf
    let lo = 0
    let shift = 0
    let pos = this.pos
    // Fast path: the low 28 bits fit a JS int without loss.
    for (; shift < 28; shift += 7) {
      if (pos >= this.end) this.fail('bad-protobuf', 'protobuf: truncated varint')
      const b = buf[pos++]!
      lo |= (b & 0x7f) << shift
      if (b < 0x80) {
        this.pos = pos
        return BigInt(lo >>> 0)
      }
    }
    let result = BigInt(lo >>> 0)
    let bshift = 28n
    for (let i = 4; i < 10; i++) {
      if (pos >= this.end) this.fail('bad-protobuf', 'protobuf: truncated varint')
      const b = buf[pos++]!
      result |= BigInt(b & 0x7f) << bshift
      bshift += 7n
      if (b < 0x80) {
        this.pos = pos
        return BigInt.asUintN(64, result)
      }
    }
    this.fail('bad-protobuf', 'protobuf: varint longer than 10 bytes')
  }

  /** Reads a varint that must fit in 32 bits unsigned (tags, lengths, enums, bools). */
  varint32(): number {
    const buf = this.buf
    let v = 0
    let pos = this.pos
    for (let shift = 0; shift < 35; shift += 7) {
      if (pos >= this.end) this.fail('bad-protobuf', 'protobuf: truncated varint')
      const b = buf[pos++]!
      if (shift === 28) {
        if (b > 0x0f) {
          // Larger than 32 bits: fall back to the exact reader and range-check.
          this.pos = pos - 5
          const big = this.varint64()
          if (big > 0xffffffffn) this.fail('bad-protobuf', `protobuf: varint ${big} exceeds 32 bits`)
          return Number(big)
        }
        v += b * 2 ** 28
        this.pos = pos
        return v >>> 0
      }
      v |= (b & 0x7f) << shift
      if (b < 0x80) {
        this.pos = pos
        return v >>> 0
      }
    }
    this.fail('bad-protobuf', 'protobuf: bad varint')
  }

  /** Reads a length prefix and returns the bounds [start, end) of the payload, checked against `end`. */
  lengthDelimited(): [number, number] {
    const at = this.pos
    const len = this.varint32()
    const start = this.pos
    if (len > this.end - start) {
      this.fail('bad-protobuf', `protobuf: length ${len} runs past the end of the message (${this.end - start} bytes left)`, at)
    }
    this.pos = start + len
    return [start, start + len]
  }

  /** A length-delimited field as a zero-copy subarray. */
  bytes(): Uint8Array {
    const [s, e] = this.lengthDelimited()
    return this.buf.subarray(s, e)
  }

  fixed64(): bigint {
    if (this.end - this.pos < 8) this.fail('bad-protobuf', 'protobuf: truncated fixed64')
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getBigUint64(0, true)
    this.pos += 8
    return v
  }

  fixed32(): number {
    if (this.end - this.pos < 4) this.fail('bad-protobuf', 'protobuf: truncated fixed32')
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getUint32(0, true)
    this.pos += 4
    return v
  }

  /** Reads a tag; returns field number and wire type, rejecting field 0 and wire types 6/7. */
  tag(): { field: number; wire: WireType } {
    const at = this.pos
    const t = this.varint32()
    const field = t >>> 3
    const wire = t & 7
    if (field === 0) this.fail('bad-protobuf', 'protobuf: illegal field number 0', at)
    if (wire > 5) this.fail('bad-protobuf', `protobuf: illegal wire type ${wire} for field ${field}`, at)
    return { field, wire: wire as WireType }
  }

  /** Skips a field of the given wire type the way Go's generated skip functions do. */
  skip(wire: WireType, field: number): void {
    switch (wire) {
      case WireType.Varint: this.varint64(); return
      case WireType.Fixed64: this.fixed64(); return
      case WireType.Fixed32: this.fixed32(); return
      case WireType.Bytes: this.lengthDelimited(); return
      case WireType.StartGroup: {
        // Groups are legal on the wire; skip to the matching end-group.
        for (;;) {
          if (this.done) this.fail('bad-protobuf', `protobuf: unterminated group ${field}`)
          const t = this.tag()
          if (t.wire === WireType.EndGroup) {
            if (t.field !== field) this.fail('bad-protobuf', `protobuf: end-group ${t.field} does not match group ${field}`)
            return
          }
          this.skip(t.wire, t.field)
        }
      }
      case WireType.EndGroup:
        this.fail('bad-protobuf', `protobuf: unexpected end-group for field ${field}`)
    }
  }
}

const shapeWire: Record<'varint' | 'fixed64' | 'fixed32' | 'bytes', WireType> = {
  varint: WireType.Varint, fixed64: WireType.Fixed64, fixed32: WireType.Fixed32, bytes: WireType.Bytes,
}

/**
 * Validates `buf[start, end)` against `schema` the way Go's generated Unmarshal would accept or
 * reject it. Throws DecodeError('bad-protobuf') with the absolute offset of the first problem.
 */
export function validateMessage(schema: MessageSchema, buf: Uint8Array, file = '<bytes>', base = 0, start = 0, end = buf.length): void {
  const r = new ProtoReader(buf, file, base, start, end)
  while (!r.done) {
    const at = r.pos
    const { field, wire } = r.tag()
    const shape = schema.fields[field]
    if (shape === undefined) {
      r.skip(wire, field)
      continue
    }
    if (typeof shape === 'string') {
      const want = shapeWire[shape]
      if (wire !== want) {
        if (wire === WireType.Bytes && schema.packed?.includes(field)) {
          const [s, e] = r.lengthDelimited()
          const inner = new ProtoReader(buf, file, base, s, e)
          while (!inner.done) inner.skip(want, field)
          continue
        }
        r.fail('bad-protobuf', `protobuf: ${schema.name} field ${field} has wire type ${wire}, want ${want}`, at)
      }
      r.skip(wire, field)
      continue
    }
    if (wire !== WireType.Bytes) {
      r.fail('bad-protobuf', `protobuf: ${schema.name} field ${field} has wire type ${wire}, want 2 (${shape.name})`, at)
    }
    const [s, e] = r.lengthDelimited()
    validateMessage(shape, buf, file, base, s, e)
  }
}

/** True when `validateMessage` accepts the bytes (Go's `pbutil.MaybeUnmarshal`). */
export function maybeValid(schema: MessageSchema, buf: Uint8Array): boolean {
  try {
    validateMessage(schema, buf)
    return true
  } catch {
    return false
  }
}
