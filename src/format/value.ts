/**
 * One byte-formatting function for keys and values (bbolt's formatBytes): `auto` prints printable
 * UTF-8 as text and anything else as hex; `redacted` prints only the length and a SHA-256 prefix,
 * because etcd values are Kubernetes objects and may be Secrets. Values default to redacted.
 */
import { sha256Prefix } from './digest.js'

export type BytesMode = 'auto' | 'hex' | 'ascii' | 'redacted'

/** A formatted byte string as it appears in results (JSON-stable). */
export interface FormattedBytes {
  /** Length in bytes. */
  len: number
  /** Text (printable UTF-8), when shown and printable. */
  text?: string
  /** Lowercase hex, when shown and not printable (or mode hex). */
  hex?: string
  /** First 16 hex digits of SHA-256, when redacted. */
  sha256?: string
  redacted?: true
}

const decoder = new TextDecoder('utf-8', { fatal: true })

/** True when the bytes are valid UTF-8 without control characters other than \t \n \r. */
export function isPrintable(b: Uint8Array): boolean {
  let ascii = true
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!
    if (((c - 0x20) >>> 0) < 0x5f) continue // 0x20..0x7e, one comparison for the common byte
    if (c === 0x09 || c === 0x0a || c === 0x0d) continue
    if (c < 0x20 || c === 0x7f) return false
    ascii = false
  }
  // Printable ASCII is valid UTF-8: the decoder (a native call) is needed only for other bytes.
  if (ascii) return true
  try {
    decoder.decode(b)
    return true
  } catch {
    return false
  }
}

export function formatBytes(b: Uint8Array, mode: BytesMode): FormattedBytes {
  switch (mode) {
    case 'redacted':
      return { len: b.length, sha256: sha256Prefix(b), redacted: true }
    case 'hex':
      return { len: b.length, hex: Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex') }
    case 'ascii':
      return { len: b.length, text: Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1') }
    case 'auto':
      return isPrintable(b)
        ? { len: b.length, text: Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8') }
        : { len: b.length, hex: Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex') }
  }
}

/** Short human form used by table/simple renderers. */
export function bytesLabel(f: FormattedBytes): string {
  if (f.redacted) return `<redacted len:${f.len} sha256:${f.sha256}>`
  if (f.text !== undefined) return JSON.stringify(f.text)
  return `0x${f.hex}`
}
