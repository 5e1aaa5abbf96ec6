/**
 * The native addon (src/native/digest.c, built by `npm run build`) against Node's crypto and the
 * JS CRC-32C: the same digits and checksums around every block size, whole-batch checks, and
 * bounds that throw instead of reading or writing outside the arrays. `npm test` builds the addon
 * and CI sets ETCD_INSPECT_NATIVE=require, so it must have loaded here; native-off.test.ts runs
 * the same callers with it disabled.
 */
import { describe, expect, it } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { native } from '../../src/native/addon.js'
import { DigestBatch, nativeDigest, sha256Prefix } from '../../src/format/digest.js'
import { crc32cBatch, crc32cView } from '../../src/format/crc32c.js'
import { CrcChain } from '../../src/format/wal/chain.js'

const sha16 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex').slice(0, 16)
const LENGTHS = [...Array.from({ length: 140 }, (_, i) => i), 183, 191, 192, 255, 256, 257, 1000, 65_536 + 7]
const src = randomBytes(70_000)
const dv = new DataView(src.buffer, src.byteOffset, src.byteLength)

describe('native addon', () => {
  it('is built and loaded (npm run build; ETCD_INSPECT_NATIVE=0 is the only way to turn it off)', () => {
    expect(native).not.toBeNull()
    expect(nativeDigest).toBe(true)
  })

  it('value digest: the first 16 hex digits of SHA-256, at any offset and length', () => {
    const out = new Uint8Array(40)
    for (const n of LENGTHS) {
      const s = (n * 7) % 61
      const want = sha16(src.subarray(s, s + n))
      expect(sha256Prefix(src.subarray(s, s + n))).toBe(want)
      out.fill(0x2a)
      const one = new DigestBatch()
      one.add(s, s + n, 3)
      one.fill(src, out)
      expect(Buffer.from(out.subarray(3, 19)).toString('latin1')).toBe(want)
      // nothing written around the digits
      expect(out[2]).toBe(0x2a)
      expect(out[19]).toBe(0x2a)
    }
  })

  it('DigestBatch fills every slot in one call, in the final buffer, and forgets on clear', () => {
    const b = new DigestBatch()
    const out = new Uint8Array(16 * LENGTHS.length + 8).fill(0x2e)
    LENGTHS.forEach((n, i) => b.add(100 + i, 100 + i + n, 4 + 16 * i))
    b.fill(src, out)
    LENGTHS.forEach((n, i) => expect(Buffer.from(out.subarray(4 + 16 * i, 20 + 16 * i)).toString('latin1')).toBe(sha16(src.subarray(100 + i, 100 + i + n))))
    expect(out[3]).toBe(0x2e)
    // more jobs than the first allocation holds
    const many = new DigestBatch()
    const big = new Uint8Array(16 * 9000)
    for (let i = 0; i < 9000; i++) many.add(i, i + 40, 16 * i)
    many.fill(src, big)
    expect(Buffer.from(big.subarray(16 * 8999)).toString('latin1')).toBe(sha16(src.subarray(8999, 9039)))
    const none = new Uint8Array(16)
    many.add(0, 10, 0)
    many.clear()
    many.fill(src, none)
    expect([...none].every((x) => x === 0)).toBe(true)
  })

  it('DigestBatch hashes values in pairs (SHA-NI, two at a time): any two lengths, odd counts, the same value twice', () => {
    // lengths around the padding edges (55, 56, 63, 64 bytes into a block) paired with every other
    const edges = [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 200, 270, 511, 1000]
    const jobs: [number, number][] = []
    for (const a of edges) for (const b of edges) jobs.push([17 + a, 17 + 2 * a], [300 + b, 300 + b + b])
    jobs.push([5, 5 + 300]) // an odd one out
    jobs.push([5, 5 + 300]) // the same range again
    const b = new DigestBatch()
    const out = new Uint8Array(16 * jobs.length)
    jobs.forEach(([s, e], i) => b.add(s, e, 16 * i))
    b.fill(src, out)
    jobs.forEach(([s, e], i) => expect(Buffer.from(out.subarray(16 * i, 16 * i + 16)).toString('latin1'), `job ${i}: ${e - s} bytes`).toBe(sha16(src.subarray(s, e))))
  })

  it('DigestBatch pairs values of the same block count: odd counts per count, leftovers paired across counts, long values of different lengths in one class', () => {
    // every block count from 1 to 20 an odd number of times (1, 3 or 5), so each count leaves one
    // value for the leftover pairing; counts above 16 share a class and pair unequal lengths
    const lengths: number[] = []
    for (let blocks = 1; blocks <= 20; blocks++) for (let k = 0; k < 1 + 2 * (blocks % 3); k++) lengths.push(Math.max(0, 64 * blocks - 9 - ((k * 13) % 50)))
    lengths.push(4000, 4100, 9000)
    for (const count of [0, 1, 2, 3, lengths.length - 1, lengths.length]) {
      const b = new DigestBatch()
      const out = new Uint8Array(16 * Math.max(1, count))
      const jobs = lengths.slice(0, count).map((n, i) => [(i * 37) % 500, (i * 37) % 500 + n] as const)
      jobs.forEach(([s, e], i) => b.add(s, e, 16 * i))
      b.fill(src, out)
      jobs.forEach(([s, e], i) => expect(Buffer.from(out.subarray(16 * i, 16 * i + 16)).toString('latin1'), `${count} values, job ${i}: ${e - s} bytes`).toBe(sha16(src.subarray(s, e))))
    }
  })

  it('CRC-32C: the same as the JS loop for every length and seed, and the check value', () => {
    expect(native!.crc32c(0, new TextEncoder().encode('123456789'), 0, 9)).toBe(0xe3069283)
    for (const n of LENGTHS) {
      for (const seed of [0, 1, 0x7fffffff, 0x80000000, 0xffffffff]) {
        const s = (n * 13) % 29
        expect(native!.crc32c(seed, src, s, s + n)).toBe(crc32cView(seed, dv, s, s + n))
      }
    }
  })

  it('crc32cBatch: -1 when every record matches, else the first that does not', () => {
    const n = 500
    const jobs = new Int32Array(4 * n)
    let prev = 0x1234
    for (let i = 0, p = 0; i < n; i++) {
      const len = (i * 37) % 130
      const c = crc32cView(prev, dv, p, p + len)
      jobs.set([p, p + len, prev | 0, c | 0], 4 * i)
      prev = c
      p += len
    }
    expect(crc32cBatch(src, jobs, n)).toBe(-1)
    // records go three at a time, the last ones alone: a bad one at each place of a three, in the
    // first and last threes and in the ones left over
    for (const bad of [0, 1, 2, 250, 251, 252, 497, 498, 499]) {
      const j = jobs.slice()
      j[4 * bad + 3]! ^= 1 << (bad % 32)
      expect(crc32cBatch(src, j, n)).toBe(bad)
      // only the first of two
      j[4 * 499 + 3]! ^= 0x100
      expect(crc32cBatch(src, j, n)).toBe(bad)
    }
    // two bad in one three: the first of them
    const two = jobs.slice()
    two[4 * 4 + 3]! ^= 1
    two[4 * 5 + 3]! ^= 1
    expect(crc32cBatch(src, two, n)).toBe(4)
    // count limits what is checked
    const j = jobs.slice()
    j[4 * 400 + 3]! ^= 1
    expect(crc32cBatch(src, j, 400)).toBe(-1)
  })

  it('bounds: a range outside the arrays throws, nothing is read or written', () => {
    const out = new Uint8Array(20).fill(7)
    expect(() => native!.sha16(src, 10, src.length + 1, out, 0)).toThrow(RangeError)
    expect(() => native!.sha16(src, 10, 5, out, 0)).toThrow(RangeError)
    expect(() => native!.sha16(src, 0, 10, out, 5)).toThrow(RangeError)
    expect(() => native!.sha16(src, 0, 10, new Uint16Array(20) as unknown as Uint8Array, 0)).toThrow(TypeError)
    expect(() => native!.sha16Batch(src, Int32Array.from([0, 10, 0, 0, 10, 19]), 2, out)).toThrow(RangeError)
    expect([...out].every((x) => x === 7)).toBe(true)
    expect(() => native!.sha16Batch(src, Int32Array.from([0, 10, 0]), 2, out)).toThrow(RangeError)
    expect(() => native!.crc32cBatch(src, Int32Array.from([0, src.length + 1, 0, 0]), 1)).toThrow(RangeError)
    expect(() => native!.crc32cBatch(src, Int32Array.from([-1, 3, 0, 0]), 1)).toThrow(RangeError)
    expect(() => native!.crc32c(0, src, 5, 4)).toThrow(RangeError)
    expect(() => native!.crc32cBatch(src, new Uint32Array(4) as unknown as Int32Array, 1)).toThrow(TypeError)
    // a detached (transferred) buffer is an empty array, not a crash
    const gone = new Uint8Array(64)
    structuredClone(gone.buffer, { transfer: [gone.buffer] })
    expect(() => native!.sha16(gone, 0, 1, out, 0)).toThrow(RangeError)
    expect(native!.crc32c(0, gone, 0, 0)).toBe(0)
  })
})

describe('CrcChain: deferred records settle to the first that does not match', () => {
  /** Records at src[p, p + len) with their stored CRCs as the chain computes them. */
  function records(n: number, seed: number) {
    const out: { s: number; e: number; crc: number }[] = []
    let prev = seed
    for (let i = 0, p = 0; i < n; i++) {
      const len = 10 + ((i * 29) % 90)
      const crc = crc32cView(prev, dv, p, p + len)
      out.push({ s: p, e: p + len, crc })
      prev = crc
      p += len
    }
    return out
  }
  it('deferred and immediate checks mix; the chain ends where it would have', () => {
    const rs = records(40, 0xabc)
    const a = new CrcChain(0xabc)
    const b = new CrcChain(0xabc)
    rs.forEach((r, i) => {
      expect(a.check(src, r.s, r.e, r.crc)).toBe(true)
      if (i % 3 === 0) expect(b.check(src, r.s, r.e, r.crc)).toBe(true)
      else b.defer(r.s, r.e, r.crc)
    })
    expect(b.value).toBe(a.value)
    expect(b.settle(src)).toBe(-1)
    // nothing deferred since
    expect(b.settle(src)).toBe(-1)
  })
  it('a bad record is named by its position among the deferred ones, also after an immediate check', () => {
    const rs = records(30, 7)
    const c = new CrcChain(7)
    rs.forEach((r, i) => {
      if (i === 5) expect(c.check(src, r.s, r.e, r.crc)).toBe(true)
      else c.defer(r.s, r.e, i === 20 ? r.crc ^ 0x10 : r.crc)
    })
    // records 0..4 and 6..29 were deferred: record 20 is the 19th of them
    expect(c.settle(src)).toBe(19)
  })
})
