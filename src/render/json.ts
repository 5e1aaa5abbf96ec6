/**
 * The single JSON serialiser for every result: bigint becomes a decimal string (never a rounded
 * number), Uint8Array becomes `{ "hex": ... }` unless a renderer formatted it first, Map becomes an
 * object. JSON output is the source of truth; table and simple views show a subset of these facts.
 */

export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Uint8Array) return { hex: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex') }
  if (value instanceof Map) return Object.fromEntries(value)
  if (value instanceof Set) return [...value]
  return value
}

/** Pretty JSON of a result object. */
export function toJson(value: unknown, indent = 2): string {
  return JSON.stringify(value, jsonReplacer, indent)
}

/** One line of NDJSON: the same text as `JSON.stringify(value, jsonReplacer)`. */
export function toJsonLine(value: unknown): string {
  return line(value, '') ?? 'null'
}

// A JSON string literal as JSON.stringify writes it; strings without quotes, backslashes, control
// characters or surrogates (nearly all keys and paths) are copied as they are.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/
/** `JSON.stringify(s)` for a string, without the call for the common plain string. */
export const jsonString = (s: string): string => (NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : '"' + s + '"')

/**
 * The compact serialiser behind `toJsonLine`: JSON.stringify's rules (toJSON first, then the
 * replacer's conversions; undefined/functions dropped in objects, null in arrays; non-finite
 * numbers null) written out, because JSON.stringify with a replacer calls back into JS for every
 * value and is about 2x slower (measured on WAL entries) — and a global BigInt.prototype.toJSON
 * to avoid the replacer would change JSON.stringify for every caller in the process.
 */
function line(v: unknown, key: string): string | undefined {
  if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') v = (v as { toJSON(k: string): unknown }).toJSON(key)
  switch (typeof v) {
    case 'string':
      return jsonString(v)
    case 'number':
      return Number.isFinite(v) ? '' + v : 'null'
    case 'bigint':
      return '"' + v + '"'
    case 'boolean':
      return v ? 'true' : 'false'
    case 'object': {
      if (v === null) return 'null'
      if (Array.isArray(v) || v instanceof Set) {
        const a = Array.isArray(v) ? v : [...v]
        let s = '['
        for (let i = 0; i < a.length; i++) s += (i ? ',' : '') + (line(a[i], String(i)) ?? 'null')
        return s + ']'
      }
      if (v instanceof Uint8Array || v instanceof Map) return line(jsonReplacer(key, v), key)
      let s = '{'
      for (const k of Object.keys(v)) {
        const x = line((v as Record<string, unknown>)[k], k)
        if (x === undefined) continue
        s += (s.length > 1 ? ',' : '') + jsonString(k) + ':' + x
      }
      return s + '}'
    }
    default:
      return undefined
  }
}
