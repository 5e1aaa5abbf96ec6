/**
 * JSON stored by etcd carries uint64 numbers (member `id`, `confState` voters) that JSON.parse
 * would round above 2^53. `parseJsonExact` quotes every integer literal of 16+ digits before
 * parsing, and `toBigInt` turns either form back into an exact bigint.
 */

/** JSON.parse, with long integer literals kept as decimal strings. */
export function parseJsonExact(text: string): unknown {
  let out = ''
  let i = 0
  let last = 0
  const n = text.length
  while (i < n) {
    const c = text.charCodeAt(i)
    if (c === 0x22) {
      // Skip a string literal, honouring escapes.
      i++
      while (i < n && text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c ? 2 : 1
      i++
      continue
    }
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const start = i
      i++
      while (i < n && /[0-9.eE+-]/.test(text[i]!)) i++
      const tok = text.slice(start, i)
      if (/^-?\d{16,}$/.test(tok)) {
        out += text.slice(last, start) + '"' + tok + '"'
        last = i
      }
      continue
    }
    i++
  }
  return JSON.parse(out + text.slice(last))
}

/** Exact bigint of a JSON number or decimal string (undefined when absent or not an integer). */
export function toBigInt(v: unknown): bigint | undefined {
  if (typeof v === 'bigint') return v
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v)
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v)
  return undefined
}
