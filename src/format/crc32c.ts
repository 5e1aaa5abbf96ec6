/**
 * CRC-32C (Castagnoli), as etcd's pkg/crc and Go's crc32.Update(prev, castagnoliTable, p): the
 * seed is the previous checksum, pre/post inversion included, so update(update(0, a), b) equals
 * crc32c(a ‖ b). Check value: crc32c("123456789") = 0xe3069283.
 *
 * Whole buffers go through the design card's `crc-32`. `crc32cRange` is the same slicing-by-16
 * algorithm over `buf[start, end)`: the WAL's records are a few hundred bytes each, and making a
 * subarray view per record cost as much as checksumming it (bench/wal.mjs prints both).
 */
import CRC32C from 'crc-32/crc32c.js'

/** Continues the running checksum `prev` (unsigned) over `data`; returns an unsigned 32-bit value. */
export function crc32cUpdate(prev: number, data: Uint8Array): number {
  return CRC32C.buf(data, prev | 0) >>> 0
}

export function crc32c(data: Uint8Array): number {
  return CRC32C.buf(data, 0) >>> 0
}

// Tables for slicing-by-16: T[k][n] is the CRC of byte n followed by k zero bytes.
const T: Int32Array[] = []
{
  const t0 = new Int32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
    t0[n] = c
  }
  T.push(t0)
  for (let k = 1; k < 16; k++) {
    const p = T[k - 1]!
    const t = new Int32Array(256)
    for (let n = 0; n < 256; n++) t[n] = (p[n]! >>> 8) ^ t0[p[n]! & 0xff]!
    T.push(t)
  }
}
const [T0, T1, T2, T3, T4, T5, T6, T7, T8, T9, Ta, Tb, Tc, Td, Te, Tf] = T as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array,
  Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array]

/** `crc32cUpdate(prev, buf.subarray(start, end))` without the view. */
export function crc32cRange(prev: number, B: Uint8Array, start: number, end: number): number {
  let C = ~prev
  let i = start
  const L = end - 15
  while (i < L) {
    C = Tf[B[i]! ^ (C & 255)]! ^ Te[B[i + 1]! ^ ((C >> 8) & 255)]! ^ Td[B[i + 2]! ^ ((C >> 16) & 255)]! ^ Tc[B[i + 3]! ^ (C >>> 24)]! ^
      Tb[B[i + 4]!]! ^ Ta[B[i + 5]!]! ^ T9[B[i + 6]!]! ^ T8[B[i + 7]!]! ^ T7[B[i + 8]!]! ^ T6[B[i + 9]!]! ^ T5[B[i + 10]!]! ^ T4[B[i + 11]!]! ^
      T3[B[i + 12]!]! ^ T2[B[i + 13]!]! ^ T1[B[i + 14]!]! ^ T0[B[i + 15]!]!
    i += 16
  }
  while (i < end) C = (C >>> 8) ^ T0[(C ^ B[i++]!) & 0xff]!
  return ~C >>> 0
}
