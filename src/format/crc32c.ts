/**
 * CRC-32C (Castagnoli), as etcd's pkg/crc and Go's crc32.Update(prev, castagnoliTable, p): the
 * seed is the previous checksum, pre/post inversion included, so update(update(0, a), b) equals
 * crc32c(a ‖ b). Check value: crc32c("123456789") = 0xe3069283.
 */
import CRC32C from 'crc-32/crc32c.js'

/** Continues the running checksum `prev` (unsigned) over `data`; returns an unsigned 32-bit value. */
export function crc32cUpdate(prev: number, data: Uint8Array): number {
  return CRC32C.buf(data, prev | 0) >>> 0
}

export function crc32c(data: Uint8Array): number {
  return CRC32C.buf(data, 0) >>> 0
}
