/**
 * The value digest of redacted output, in one home: the first 16 hex digits of a value's SHA-256
 * (`value.sha256` in every JSON contract, `sha256:` in table and simple). With the native addon
 * (src/native/addon.ts) a call costs the hash plus ~0.15 µs, and `DigestBatch` hashes a whole
 * chunk's values in one call; without it, Node's crypto.hash (~0.6 µs more per value). Both give
 * the same digits (test/format/native.test.ts, native-off.test.ts).
 */
import { hash } from 'node:crypto'
import { native } from '../native/addon.js'

const HEX = new Uint8Array([...'0123456789abcdef'].map((c) => c.charCodeAt(0)))
const scratch = Buffer.alloc(16)

/** The digits through Node's crypto, at o[p]: 'binary' (one char per digest byte) and our own hex of the first 8. */
function putSha16Js(o: Uint8Array, p: number, b: Uint8Array, s: number, e: number): number {
  const d = hash('sha256', b.subarray(s, e), 'binary')
  for (let i = 0; i < 8; i++) {
    const x = d.charCodeAt(i)
    o[p++] = HEX[x >>> 4]!
    o[p++] = HEX[x & 15]!
  }
  return p
}

/** The first 16 hex digits of the SHA-256 of `b`. */
export function sha256Prefix(b: Uint8Array): string {
  if (native === null) return hash('sha256', b, 'hex').slice(0, 16)
  native.sha16(b, 0, b.length, scratch, 0)
  return scratch.toString('latin1', 0, 16)
}

/**
 * The digests of one output buffer, filled in at the end: a writer leaves 16 bytes where each
 * digest goes (`add`) and `fill`s them all once the buffer is final, in one native call.
 */
export class DigestBatch {
  private jobs = new Int32Array(3 * 4096)
  private n = 0

  /** The digest of src[s, e) goes at out[at, at + 16) (positions in the buffers given to `fill`). */
  add(s: number, e: number, at: number): void {
    let j = this.jobs
    const k = 3 * this.n
    if (k === j.length) {
      j = new Int32Array(j.length * 2)
      j.set(this.jobs)
      this.jobs = j
    }
    j[k] = s
    j[k + 1] = e
    j[k + 2] = at
    this.n++
  }

  /** Writes every digest added since the last fill; `src` and `out` are the buffers the positions are in. */
  fill(src: Uint8Array, out: Uint8Array): void {
    const n = this.n
    this.n = 0
    if (n === 0) return
    if (native !== null) {
      native.sha16Batch(src, this.jobs, n, out)
      return
    }
    const j = this.jobs
    for (let k = 0; k < 3 * n; k += 3) putSha16Js(out, j[k + 2]!, src, j[k]!, j[k + 1]!)
  }

  /** Forgets the digests added (a chunk given up). */
  clear(): void {
    this.n = 0
  }
}

/** Whether the native digest is in use (for --version and the bench). */
export const nativeDigest = native !== null
