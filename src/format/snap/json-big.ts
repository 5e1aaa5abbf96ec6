/**
 * A strict JSON parser that keeps integers exact: every integer literal becomes a `bigint`,
 * every number with a fraction or exponent a JS `number`. Go's encoding/json writes uint64 fields
 * (raft indexes, member IDs in `meta/confState`, v2 store `CreatedIndex`) as bare JSON numbers,
 * which `JSON.parse` rounds above 2^53 (FORMATS.md §9).
 *
 * Errors are DecodeError('bad-json') with the absolute file offset of the offending character
 * (`base` + position in `text`; exact for ASCII JSON, which is what Go writes for the v2 store keys).
 */
import { DecodeError } from '../../errors.js'

/** A parsed JSON value with integers as bigint. */
export type JsonBig = null | boolean | bigint | number | string | JsonBig[] | { [k: string]: JsonBig }

/** Nesting limit: a v2 store tree is a few levels deep; anything deeper is hostile input. */
const MAX_DEPTH = 512

export function parseJsonBig(text: string, file = '<json>', base = 0): JsonBig {
  let i = 0
  const fail = (detail: string, at = i): never => {
    throw new DecodeError(file, base + at, 'bad-json', `json: ${detail}`)
  }
  const ws = (): void => {
    for (;;) {
      const c = text.charCodeAt(i)
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++
      else return
    }
  }
  const str = (): string => {
    // Caller saw the opening quote at i.
    const start = ++i
    let out = ''
    let chunk = start
    for (;;) {
      if (i >= text.length) fail('unterminated string', start - 1)
      const c = text.charCodeAt(i)
      if (c === 0x22) {
        out += text.slice(chunk, i)
        i++
        return out
      }
      if (c < 0x20) fail('control character in string')
      if (c === 0x5c) {
        out += text.slice(chunk, i)
        const e = text[i + 1]
        switch (e) {
          case '"': out += '"'; break
          case '\\': out += '\\'; break
          case '/': out += '/'; break
          case 'b': out += '\b'; break
          case 'f': out += '\f'; break
          case 'n': out += '\n'; break
          case 'r': out += '\r'; break
          case 't': out += '\t'; break
          case 'u': {
            const h = text.slice(i + 2, i + 6)
            if (!/^[0-9a-fA-F]{4}$/.test(h)) fail('bad \\u escape')
            out += String.fromCharCode(parseInt(h, 16))
            i += 4
            break
          }
          default:
            fail('bad escape')
        }
        i += 2
        chunk = i
        continue
      }
      i++
    }
  }
  const num = (): bigint | number => {
    const m = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y
    m.lastIndex = i
    const r = m.exec(text)
    if (!r) fail('bad number')
    const lit = r![0]
    i += lit.length
    return r![1] === undefined && r![2] === undefined ? BigInt(lit) : Number(lit)
  }
  const value = (depth: number): JsonBig => {
    if (depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`)
    ws()
    const c = text[i]
    if (c === '{') {
      i++
      const obj: { [k: string]: JsonBig } = {}
      ws()
      if (text[i] === '}') { i++; return obj }
      for (;;) {
        ws()
        if (text[i] !== '"') fail('expected a string key')
        const k = str()
        ws()
        if (text[i] !== ':') fail("expected ':'")
        i++
        // defineProperty: a key named __proto__ must stay data, not change the prototype.
        Object.defineProperty(obj, k, { value: value(depth + 1), enumerable: true, writable: true, configurable: true })
        ws()
        if (text[i] === ',') { i++; continue }
        if (text[i] === '}') { i++; return obj }
        fail("expected ',' or '}'")
      }
    }
    if (c === '[') {
      i++
      const arr: JsonBig[] = []
      ws()
      if (text[i] === ']') { i++; return arr }
      for (;;) {
        arr.push(value(depth + 1))
        ws()
        if (text[i] === ',') { i++; continue }
        if (text[i] === ']') { i++; return arr }
        fail("expected ',' or ']'")
      }
    }
    if (c === '"') return str()
    if (c === 't' && text.startsWith('true', i)) { i += 4; return true }
    if (c === 'f' && text.startsWith('false', i)) { i += 5; return false }
    if (c === 'n' && text.startsWith('null', i)) { i += 4; return null }
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return num()
    return fail(i >= text.length ? 'unexpected end of input' : `unexpected character ${JSON.stringify(c)}`)
  }
  const v = value(0)
  ws()
  if (i < text.length) fail('trailing data after the JSON value')
  return v
}

/** True for a JSON object (not an array, not null). */
export function isJsonObject(v: JsonBig | undefined): v is { [k: string]: JsonBig } {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
