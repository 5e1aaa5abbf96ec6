/**
 * The optional native addon (src/native/digest.c, built by src/native/build.mjs during
 * `npm run build`): CRC-32C over many WAL records per call and the value digest, without the cost
 * of JS table lookups and of Node's per-call crypto overhead. Absent (no compiler
 * when installed) or disabled, every caller falls back to Node's crypto with the same output.
 * ETCD_INSPECT_NATIVE=0 disables it (test/format/native-off.test.ts and the bench A/B use that).
 * A missing addon is never an error here: test/format/native.test.ts fails instead, and
 * src/native/build.mjs fails the build under ETCD_INSPECT_NATIVE=require (CI).
 */
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

export interface NativeAddon {
  /** format/crc32c.ts crc32cBatch: the first job (start, end, prev, stored) whose CRC-32C does not match, or -1. */
  crc32cBatch(src: Uint8Array, jobs: Int32Array, count: number): number
  /** CRC-32C(prev, src[start, end)), unsigned. */
  crc32c(prev: number, src: Uint8Array, start: number, end: number): number
  /** The first 16 hex digits of the SHA-256 of src[start, end), written at out[at, at + 16). */
  sha16(src: Uint8Array, start: number, end: number, out: Uint8Array, at: number): void
  /** sha16 for each (start, end, at) triple of jobs[0, 3 * count), all into `out`. */
  sha16Batch(src: Uint8Array, jobs: Int32Array, count: number, out: Uint8Array): void
}

// from src/native (vitest) and from dist/native (the build) alike: the addon is built in src/native/build
const ADDON = fileURLToPath(new URL('../../src/native/build/Release/etcd_inspect_native.node', import.meta.url))

function load(): NativeAddon | null {
  if (process.env.ETCD_INSPECT_NATIVE === '0') return null
  try {
    return createRequire(import.meta.url)(ADDON) as NativeAddon
  } catch {
    return null
  }
}

/** The loaded addon, or null (then callers use Node's crypto). */
export const native: NativeAddon | null = load()
