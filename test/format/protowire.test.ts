import { describe, expect, it } from 'vitest'
import { ProtoReader, validateMessage, maybeValid, type MessageSchema } from '../../src/format/protowire.js'
import { crc32c, crc32cRange, crc32cUpdate, crc32cView } from '../../src/format/crc32c.js'
import { idHex, hex16, parseId } from '../../src/format/ids.js'
import { ByteReader } from '../../src/format/byte-reader.js'
import { DecodeError } from '../../src/errors.js'

const inner: MessageSchema = { name: 'Inner', fields: { 1: 'varint' } }
const outer: MessageSchema = { name: 'Outer', fields: { 1: 'varint', 2: inner, 3: 'bytes' } }

describe('protowire', () => {
  it('reads 64-bit varints exactly', () => {
    const r = new ProtoReader(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))
    expect(r.varint64()).toBe(0xffffffffffffffffn)
    // 0x2f7fbfd36802ff7a, a real member ID above 2^53, as Go's proto encoder writes it.
    const r2 = new ProtoReader(Uint8Array.from([0xfa, 0xfe, 0x8b, 0xc0, 0xb6, 0xfa, 0xef, 0xbf, 0x2f]))
    expect(r2.varint64().toString(16)).toBe('2f7fbfd36802ff7a')
  })
  it('rejects field 0, wire types 6/7, stray end-group and wrong wire types', () => {
    expect(maybeValid(outer, Uint8Array.from([0x00, 0x01]))).toBe(false)
    expect(maybeValid(outer, Uint8Array.from([0x0e]))).toBe(false)
    expect(maybeValid(outer, Uint8Array.from([0x0c]))).toBe(false)
    expect(maybeValid(outer, Uint8Array.from([0x0a, 0x00]))).toBe(false) // field 1 as bytes
    expect(maybeValid(outer, Uint8Array.from([0x08, 0x05, 0x12, 0x02, 0x08, 0x01]))).toBe(true)
  })
  it('rejects a nested length running past its parent', () => {
    expect(() => validateMessage(outer, Uint8Array.from([0x12, 0x05, 0x08, 0x01]), 'f', 100)).toThrowError(
      /f@101: protobuf: length 5 runs past/,
    )
  })
  it('validates nested messages strictly', () => {
    // Outer.2 is Inner, whose field 1 must be a varint.
    expect(maybeValid(outer, Uint8Array.from([0x12, 0x02, 0x0a, 0x00]))).toBe(false)
    // Unknown fields are skipped, as Go does.
    expect(maybeValid(outer, Uint8Array.from([0x22, 0x01, 0x41]))).toBe(true)
  })
  it('"PUT" is not a valid v2 field body (FORMATS §3.3)', () => {
    const v2req: MessageSchema = { name: 'Request', fields: { 1: 'varint', 2: 'bytes', 3: 'bytes', 10: 'varint' } }
    const irr: MessageSchema = { name: 'IRR', fields: { 1: 'varint', 2: v2req } }
    const bytes = Uint8Array.from([0x08, 0x07, 0x12, 0x03, 0x50, 0x55, 0x54])
    expect(maybeValid(irr, bytes)).toBe(false)
  })
})

describe('crc32c', () => {
  it('has the standard check value and chains like Go crc32.Update', () => {
    const enc = new TextEncoder()
    expect(crc32c(enc.encode('123456789'))).toBe(0xe3069283)
    expect(crc32c(enc.encode('somedata'))).toBe(0x741f6a05)
    const a = crc32cUpdate(0, enc.encode('somedata'))
    expect(crc32cUpdate(a, Uint8Array.from([0x08, 0x00, 0x10, 0x00]))).toBe(0x18206d80)
  })
  it('crc32cView/crc32cRange (the WAL chain\'s 32-bit-load loop) equal crc-32 on every range: offsets, lengths, chained seeds', () => {
    const buf = new Uint8Array(4096 + 7)
    for (let i = 0; i < buf.length; i++) buf[i] = (i * 2654435761) >>> 24
    const inner = buf.subarray(3) // a view at an odd byteOffset, as a worker's chunk can be
    const dv = new DataView(inner.buffer, inner.byteOffset, inner.byteLength)
    let seed = 0
    for (let start = 0; start < 40; start++) {
      for (const len of [0, 1, 3, 4, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255, 1000, 4000]) {
        const end = start + len
        const want = crc32cUpdate(seed, inner.slice(start, end))
        expect(crc32cView(seed, dv, start, end)).toBe(want)
        expect(crc32cRange(seed, inner, start, end)).toBe(want)
        seed = want
      }
    }
    expect(crc32cRange(0, new TextEncoder().encode('x123456789'), 1, 10)).toBe(0xe3069283)
  })
})

describe('ids', () => {
  it('prints like etcdctl and parses back', () => {
    expect(idHex(3422665156528897914n)).toBe('2f7fbfd36802ff7a')
    expect(idHex(0x0an)).toBe('a')
    expect(hex16(0x21n)).toBe('0000000000000021')
    expect(parseId('2f7fbfd36802ff7a')).toBe(3422665156528897914n)
    expect(parseId('zz')).toBeUndefined()
  })
})

describe('ByteReader', () => {
  it('reads both byte orders and reports absolute offsets', () => {
    const r = new ByteReader(Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]), 'x', 4096)
    expect(r.u64le()).toBe(1n)
    expect(r.u64be()).toBe(2n)
    try {
      r.u8()
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(DecodeError)
      expect((e as DecodeError).message).toBe('x@4112: truncated data: need 1 bytes, 0 left')
    }
  })
})
