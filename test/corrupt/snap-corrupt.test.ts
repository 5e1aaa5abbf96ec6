/**
 * Generated corruptions of real `.snap` files written by etcd 3.4 (fixtures/single): every
 * truncation, a flipped bit in every region, zeroed sectors, garbage. Each must end in a typed
 * DecodeError with a stable code and an offset inside the file — never another exception.
 */
import { describe, expect, it } from 'vitest'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { readSnapshot } from '../../src/format/snap/snapshot.js'
import { decodeSnapFile } from '../../src/app/snap.js'
import { DecodeError } from '../../src/errors.js'

const dir = 'fixtures/single/data/member/snap'
const names = readdirSync(dir).filter((n) => n.endsWith('.snap')).sort()
const real = readFileSync(join(dir, names[names.length - 1]!))
const codes = new Set(['empty-snapshot', 'crc-mismatch', 'bad-protobuf'])

function outcome(bytes: Uint8Array): string {
  try {
    readSnapshot(bytes, 'c.snap')
    return 'ok'
  } catch (err) {
    expect(err).toBeInstanceOf(DecodeError)
    const e = err as DecodeError
    expect(codes.has(e.code)).toBe(true)
    expect(e.offset).toBeGreaterThanOrEqual(0)
    expect(e.offset).toBeLessThanOrEqual(bytes.length)
    expect(e.message).toMatch(/^c\.snap@\d+: snap: /)
    expect(e.hint).toBeTruthy()
    return e.code
  }
}

describe('corrupted real .snap files', () => {
  it('the fixture itself decodes', () => {
    expect(names.length).toBeGreaterThan(0)
    expect(outcome(real)).toBe('ok')
  })
  it('every truncation is a typed error', () => {
    const seen = new Map<string, number>()
    for (let n = 0; n < real.length; n++) {
      const code = outcome(real.subarray(0, n))
      expect(code).not.toBe('ok')
      seen.set(code, (seen.get(code) ?? 0) + 1)
    }
    // 0 bytes: empty; inside the crc or the data length: bad-protobuf; cut inside data: bad-protobuf too (length past end).
    expect(outcome(real.subarray(0, 0))).toBe('empty-snapshot')
    expect(seen.get('bad-protobuf')).toBeGreaterThan(real.length - 10)
  })
  it('a flipped bit in the payload is a crc-mismatch; in the stored crc too', () => {
    const dataStart = real.length - 7000
    for (const at of [dataStart, dataStart + 1000, real.length - 20, real.length - 1]) {
      const b = Uint8Array.from(real)
      b[at]! ^= 0x01
      expect(outcome(b)).toBe('crc-mismatch')
    }
    const c = Uint8Array.from(real)
    c[1]! ^= 0x01 // low 7 bits of the stored crc varint
    expect(outcome(c)).toBe('crc-mismatch')
  })
  it('a zeroed 512-byte sector in the middle', () => {
    const b = Uint8Array.from(real)
    b.fill(0, 1024, 1536)
    expect(outcome(b)).toBe('crc-mismatch')
  })
  it('garbage of several kinds', () => {
    expect(outcome(new Uint8Array(4096))).toBe('bad-protobuf') // field 0
    expect(outcome(new Uint8Array(4096).fill(0xff))).toBe('bad-protobuf')
    expect(outcome(new TextEncoder().encode('{"Root":{}}'))).toBe('bad-protobuf')
    let seed = 42
    for (let i = 0; i < 200; i++) {
      const b = new Uint8Array(256)
      for (let j = 0; j < b.length; j++) b[j] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24
      expect(outcome(b)).not.toBe('ok')
    }
  })
  it('decodeSnapFile classifies instead of throwing', () => {
    expect(decodeSnapFile('e.snap', new Uint8Array(0)).status).toBe('empty')
    const b = Uint8Array.from(real)
    b[b.length - 1]! ^= 0x80
    expect(decodeSnapFile('c.snap', b)).toMatchObject({ status: 'crc-mismatch', crc: 'mismatch', term: null, index: null })
    expect(decodeSnapFile('g.snap', new Uint8Array(16).fill(0xff))).toMatchObject({ status: 'undecodable', crc: 'not-checked' })
  })
})
