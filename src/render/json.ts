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

/** One line of NDJSON. */
export function toJsonLine(value: unknown): string {
  return JSON.stringify(value, jsonReplacer)
}
