/**
 * CRC-32C for the snapshot-status hash over every value of a db (often GBs): the one JS loop of
 * format/crc32c.ts (`crc32cView`, slicing-by-16 over 32-bit loads), with the same running-checksum
 * semantics as crc32cUpdate (Go's crc32.Update with the Castagnoli table).
 * The app layer may plug in a native implementation (`@node-rs/crc32`, several GB/s) with
 * `useNativeCrc32c`; this module itself stays pure.
 */
import { crc32cView } from '../crc32c.js'

/** Pure-JS running CRC-32C: `prev` is the previous (unsigned) checksum, 0 to start. */
export function crc32cUpdateJs(prev: number, buf: Uint8Array): number {
  return crc32cView(prev, new DataView(buf.buffer, buf.byteOffset, buf.byteLength), 0, buf.length)
}

/** A native running CRC-32C: `(input, initial) => crc`, as `@node-rs/crc32`'s `crc32c`. */
export type NativeCrc32c = (input: Uint8Array, initial?: number) => number

let native: NativeCrc32c | null = null

/** Which implementation `crc32cFast` uses. */
export let crc32cImplementation = 'js slicing-by-16'

/** Plugs in a native CRC-32C (checked against the JS one on a test vector first). */
export function useNativeCrc32c(fn: NativeCrc32c | null): boolean {
  if (fn && (fn(Uint8Array.from(Buffer.from('123456789')), 0) >>> 0) !== 0xe3069283) return false
  native = fn
  crc32cImplementation = fn ? 'native @node-rs/crc32' : 'js slicing-by-16'
  return true
}

/** Running CRC-32C, native when plugged in. Small inputs stay in JS (the native call costs more). */
export function crc32cFast(prev: number, buf: Uint8Array): number {
  if (native && buf.length >= 256) return native(buf, prev) >>> 0
  return crc32cUpdateJs(prev, buf)
}

// CRC combination (zlib's crc32_combine, multmodp/x2nmodp form) for the Castagnoli polynomial:
// crc(A ‖ B) = combine(crc(A), crc(B), len(B)), so large values can be hashed on other threads.
const POLY = 0x82f63b78

function multmodp(a: number, b: number): number {
  let m = 0x80000000
  let p = 0
  for (;;) {
    if ((a & m) !== 0) {
      p ^= b
      if ((a & (m - 1)) === 0) break
    }
    m >>>= 1
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1
  }
  return p >>> 0
}

const X2N = new Uint32Array(32)
{
  let p = 0x40000000 // x^1
  X2N[0] = p
  for (let n = 1; n < 32; n++) X2N[n] = p = multmodp(p, p)
}

function x2nmodp(n: number, k: number): number {
  let p = 0x80000000 // x^0
  while (n > 0) {
    if (n % 2 === 1) p = multmodp(X2N[k & 31]!, p)
    n = Math.floor(n / 2)
    k++
  }
  return p
}

/** CRC-32C of A ‖ B from crc(A), crc(B) and the length of B in bytes. */
export function crc32cCombine(crcA: number, crcB: number, lenB: number): number {
  return (multmodp(x2nmodp(lenB, 3), crcA >>> 0) ^ crcB) >>> 0
}
