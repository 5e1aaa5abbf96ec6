/**
 * THE JSON line of a WAL entry, in one home: `entryLine` writes any presented entry
 * (render/wal-entry.ts) as text, byte-identical to toJsonLine of it (bigints as decimal strings);
 * `EntryLineWriter` writes the lines of a chunk of entries as bytes for the workers of the parallel
 * path (app/wal-parallel.ts, workers/wal-chunk.ts). The writer's fast path takes the dominant
 * entry, a put of a printable key with a text/opaque/cbor value (format/raft/put-shape.ts),
 * straight from the WAL bytes into the output; every other entry goes through presentEntry +
 * entryLine. test/format/wal-parallel.test.ts compares every line of every fixture and of a log
 * of every kind of value with the reader path.
 */
import { jsonString, toJsonLine } from './json.js'
import type { FormattedBytes } from '../format/value.js'
import { classifyKind, mayHaveEnvelope, type ValueClass } from '../format/k8s/value.js'
import { DigestBatch } from '../format/digest.js'
import { matchPut, newPutShape, type PutShape } from '../format/raft/put-shape.js'
import type { ChunkEntrySink } from '../app/wal-fast.js'
import type { WalEntry } from '../app/wal.js'
import { presentEntry, type WalEntryOut } from './wal-entry.js'

const jstr = jsonString

function valueJson(v: FormattedBytes & { type?: string }): string {
  // formatBytes' key order: len, then sha256 + redacted, or text, or hex; valueOut appends type.
  let s = '{"len":' + v.len
  if (v.sha256 !== undefined) s += ',"sha256":' + jstr(v.sha256)
  if (v.text !== undefined) s += ',"text":' + jstr(v.text)
  if (v.hex !== undefined) s += ',"hex":' + jstr(v.hex)
  if (v.redacted !== undefined) s += ',"redacted":' + v.redacted
  if (v.type !== undefined) s += ',"type":' + jstr(v.type)
  return s + '}'
}

const PUT_KEYS = new Set(['kind', 'key', 'keyEncoding', 'value', 'valueClass', 'lease', 'prevKv', 'ignoreValue', 'ignoreLease'])
/** The classes without details, as JSON (the common ones). */
const PLAIN_CLASS: Record<string, string> = { opaque: '{"kind":"opaque"}', text: '{"kind":"text"}', cbor: '{"kind":"cbor"}' }

function classJson(c: ValueClass): string {
  return (Object.keys(c).length === 1 ? PLAIN_CLASS[c.kind] : undefined) ?? toJsonLine(c)
}
const HEADER_KEYS = new Set(['id', 'username', 'authRevision'])

function hasOnly(o: object, keys: Set<string>): boolean {
  for (const k in o) if (!keys.has(k)) return false
  return true
}

function requestJson(r: NonNullable<WalEntryOut['request']>): string {
  if (r.kind !== 'put' || !hasOnly(r, PUT_KEYS) || typeof r.key !== 'string') return toJsonLine(r)
  // presentOp's key order for a put: kind, key, keyEncoding, value, valueClass, lease, prevKv, ignoreValue, ignoreLease.
  let s = '{"kind":"put","key":' + jstr(r.key)
  if (r.keyEncoding !== undefined) s += ',"keyEncoding":' + toJsonLine(r.keyEncoding)
  if (r.value !== undefined) s += ',"value":' + valueJson(r.value as FormattedBytes)
  if (r.valueClass !== undefined) s += ',"valueClass":' + classJson(r.valueClass as ValueClass)
  if (r.lease !== undefined) s += ',"lease":' + toJsonLine(r.lease)
  if (r.prevKv !== undefined) s += ',"prevKv":' + toJsonLine(r.prevKv)
  if (r.ignoreValue !== undefined) s += ',"ignoreValue":' + toJsonLine(r.ignoreValue)
  if (r.ignoreLease !== undefined) s += ',"ignoreLease":' + toJsonLine(r.ignoreLease)
  return s + '}'
}

function headerJson(h: Record<string, unknown>): string {
  if (!hasOnly(h, HEADER_KEYS) || (h.id !== undefined && typeof h.id !== 'string')) return toJsonLine(h)
  // presentEntry's key order: id, username, authRevision.
  let s = ''
  if (h.id !== undefined) s += ',"id":' + jstr(h.id as string)
  if (h.username !== undefined) s += ',"username":' + toJsonLine(h.username)
  if (h.authRevision !== undefined) s += ',"authRevision":' + toJsonLine(h.authRevision)
  return '{' + s.slice(1) + '}'
}

const fileJson = new Map<string, string>()

/** An entry as a member of the JSON document's `entries` (entryLine without the kind). */
export function entryJson(e: WalEntryOut): string {
  return entryLine(e, '{"index":"')
}

/**
 * One `{"kind":"entry",…}` line, byte-identical to toJsonLine of the presented entry (bigints as
 * decimal strings): the fixed fields and put requests are written by hand in presentEntry's key
 * order (about 5x faster than the general serialiser); anything else goes through toJsonLine.
 */
export function entryLine(e: WalEntryOut, head = '{"kind":"entry","index":"'): string {
  let f = fileJson.get(e.file)
  if (f === undefined) {
    f = toJsonLine(e.file)
    if (fileJson.size > 1024) fileJson.clear()
    fileJson.set(e.file, f)
  }
  let s = head + e.index + '","term":"' + e.term + '","type":' + jstr(e.type) + ',"file":' + f +
    ',"offset":' + toJsonLine(e.offset) + ',"dataBytes":' + toJsonLine(e.dataBytes) + (e.committed ? ',"committed":true' : ',"committed":false')
  // presentEntry's key order: replaces, then request (+ header | + unknown) or confChange or confChangeV2; runWal adds replaced.
  if (e.replaces !== undefined) s += ',"replaces":' + toJsonLine(e.replaces)
  if (e.request !== undefined) s += ',"request":' + requestJson(e.request)
  if (e.header !== undefined) s += ',"header":' + headerJson(e.header)
  if (e.confChange !== undefined) s += ',"confChange":' + toJsonLine(e.confChange)
  if (e.confChangeV2 !== undefined) s += ',"confChangeV2":' + toJsonLine(e.confChangeV2)
  if (e.unknown !== undefined) s += ',"unknown":' + toJsonLine(e.unknown)
  if (e.replaced !== undefined) s += ',"replaced":' + toJsonLine(e.replaced)
  return s + '}'
}


// ---------------------------------------------------------------------------------------------
// The byte writer of the parallel path.
// ---------------------------------------------------------------------------------------------

const enc = new TextEncoder()
const bytesOf = (s: string) => enc.encode(s)

/** What comes before an entry object: a line of its own (ndjson), or a member of the JSON document's `entries`. */
export type LineStyle = 'ndjson' | 'json'
/** ndjson: `{"kind":"entry",…}\n`; json: `,\n    {…}` (the renderer drops the comma before the document's first entry). */
const HEADS: Record<LineStyle, { head: string; before: string; after: string }> = {
  ndjson: { head: '{"kind":"entry","index":"', before: '', after: '\n' },
  json: { head: '{"index":"', before: ',\n    ', after: '' },
}

/** The end of a line and the start of the next, per style: made once (each has a writer function of its own). */
const END_PRE = {} as Record<LineStyle, Words>

/** A constant of the line as 8-byte words (zero-padded), for `putWords`, and its own writer. */
interface Words {
  words: Float64Array
  n: number
  /** Writes the constant at v[p] (and up to 7 bytes of padding) and returns p + n, as putWords does. */
  put: (v: DataView, p: number) => number
}

/** Writes n bytes of words w at v[p] (up to 7 more of padding) and returns p + n. */
type PutN = (v: DataView, p: number, w: Float64Array) => number
const putByLength = new Map<number, PutN>()

/**
 * putWords unrolled for `n` bytes: one store per word and no loop. A writer per length, not per
 * constant, for the file's constant made per segment: `raw` then calls the same function for
 * every segment of a log (a new function at each segment would be a new call target there, and V8
 * would throw the compiled chunk loop away).
 */
function putFor(n: number): PutN {
  let f = putByLength.get(n)
  if (f !== undefined) return f
  let body = ''
  for (let k = 0; 8 * k < n; k++) body += `v.setFloat64(p + ${8 * k}, w[${k}], true)\n`
  f = generated<PutN>(['v', 'p', 'w'], `${body}return p + ${n}`, (v, p, w) => putWords(v, p, w, n))
  putByLength.set(n, f)
  return f
}

/**
 * A function made from source text, or `fallback` (the same behaviour, a loop) where the process
 * forbids code from strings (--disallow-code-generation-from-strings).
 */
function generated<F>(params: string[], body: string, fallback: F): F {
  try {
    return new Function(...params, body) as F
  } catch {
    return fallback
  }
}

/**
 * `s` as UTF-8 in 8-byte words, written by `putWords` one word per store: a byte loop or
 * TypedArray#set cost 20-40 ns for each of the line's constants. The words go through float64
 * values, which keep every bit unless the value is a NaN (a float store may change a NaN's bits).
 * A little-endian word is a NaN only when its top byte is 0x7f or 0xff and the byte below is 0xf0
 * or more: 0xff never occurs in UTF-8 and 0x7f cannot follow a lead byte, so no text is one.
 * `unroll`: give it a writer function of its own (`unrolled`), for the constants made once.
 */
function constant(s: string, unroll = true): Words {
  const bytes = bytesOf(s)
  const words = new Float64Array(Math.ceil(bytes.length / 8))
  new Uint8Array(words.buffer).set(bytes)
  if (!words.every(Number.isFinite)) throw new Error(`wal-line: ${JSON.stringify(s)} reads as a NaN or infinite word`)
  const n = bytes.length
  const c: Words = { words, n, put: (v, p) => putWords(v, p, words, n) }
  if (unroll) c.put = unrolled(c)
  return c
}

/**
 * A writer of `c` with each word a number literal of its own: V8 compiles it to a store of an
 * immediate per word, without putWords' loop and its loads from the array. With the id digits copied
 * (`raw`), the line writer took ~6 % less time an entry (same-process A/B, docs/wal.md "session
 * 10"). A finite double prints as the shortest text that reads back as the same bits, but -0 prints
 * as "0". Where the process forbids code from strings, putWords (`generated`).
 */
function unrolled(c: Words): Words['put'] {
  let body = ''
  c.words.forEach((w, k) => {
    body += `v.setFloat64(p + ${8 * k}, ${Object.is(w, -0) ? '-0' : String(w)}, true)\n`
  })
  return generated(['v', 'p'], `${body}return p + ${c.n}`, c.put)
}

/**
 * Writes `c` at o[p] a word at a time and returns p + its length. Up to 7 bytes past the end are
 * written too (the padding): the caller writes the next field over them, and keeps room for them.
 */
function putWords(v: DataView, p: number, w: Float64Array, n: number): number {
  for (let i = 0, k = 0; i < n; i += 8, k++) v.setFloat64(p + i, w[k]!, true)
  return p + n
}

for (const style of ['ndjson', 'json'] as const) {
  const h = HEADS[style]
  END_PRE[style] = constant('"}}' + h.after + h.before + h.head)
}
const P_TERM = constant('","term":"')
const P_DATA = constant(',"dataBytes":')
const P_COMMITTED = constant(',"committed":true,"request":{"kind":"put","key":"')
const P_UNCOMMITTED = constant(',"committed":false,"request":{"kind":"put","key":"')
const P_LEN = constant('","value":{"len":')
const P_SHA = constant(',"sha256":"')
/**
 * The rest of a put line after the SHA-256, by value class: the classes without details only; a
 * Kubernetes object, JSON or an encrypted value names its object, key or provider (valueClass), so
 * it takes the general path (presentEntry + entryLine), like every other request.
 */
const KIND_TAIL: Record<FastPutKind, Words> = {
  opaque: constant('","redacted":true},"valueClass":{"kind":"opaque"}},"header":{"id":"'),
  text: constant('","redacted":true,"type":"text"},"valueClass":{"kind":"text"}},"header":{"id":"'),
  cbor: constant('","redacted":true,"type":"cbor"},"valueClass":{"kind":"cbor"}},"header":{"id":"'),
}
/** Value bytes that keep a value `text` on the ASCII fast path: printable, \t, \n, \r. */
const TEXT_BYTE = new Uint8Array(256)
for (let c = 0x20; c < 0x7f; c++) TEXT_BYTE[c] = 1
TEXT_BYTE[0x09] = TEXT_BYTE[0x0a] = TEXT_BYTE[0x0d] = 1
/** Key bytes written as they are in a JSON string: printable ASCII but `"` and `\`. */
const KEY_BYTE = new Uint8Array(256)
for (let c = 0x20; c < 0x7f; c++) KEY_BYTE[c] = 1
KEY_BYTE[0x22] = KEY_BYTE[0x5c] = 0
const HEX = bytesOf('0123456789abcdef')
/** The two hex digits of a byte as a little-endian 16-bit word (the first digit in the low byte). */
const HEX2 = Uint16Array.from({ length: 256 }, (_, x) => HEX[x >>> 4]! | (HEX[x & 15]! << 8))

/**
 * Writes the lines of one chunk's entries into one buffer (reused across chunks when it is large
 * enough, grown for long lines). `begin` a chunk, hand it the entries, `take` the bytes.
 */
export class EntryLineWriter implements ChunkEntrySink {
  private buf: Uint8Array = new Uint8Array(0)
  private view: DataView = new DataView(new ArrayBuffer(0))
  /** The chunk's file, as results name it. */
  private file = ''
  /**
   * `","type":"normal","file":"<file>","offset":`, made once a file (the term before it is written
   * as a number: a constant per term would be remade in a branch that each chunk takes once, and V8
   * compiled the writer before that branch had any type feedback, then threw the code away at the
   * next chunk).
   */
  private fileWords: Words = constant('', false)
  private filePut: PutN = putFor(0)
  private ob: Uint8Array = new Uint8Array(0)
  /** A view of `ob` for the key's four-byte copies. */
  private ov: DataView = new DataView(new ArrayBuffer(0))
  private op = 0
  private readonly pre: Words
  private readonly head: string
  private readonly before: string
  private readonly after: string
  /** The end of a line and the start of the next (`raw` writes both: one constant less a line). */
  private readonly endPre: Words
  /**
   * The bytes before `op` end with `pre`, the start of the next line, written ahead so that `raw`
   * has no branch for it (a branch taken once a chunk had no type feedback when V8 compiled `raw`,
   * and the code was thrown away at the next chunk): `entry` and `take` drop it.
   */
  private open = false
  private readonly shape = newPutShape()
  /** The value digests of the lines written since `begin`, filled in by `take`. */
  private readonly digests = new DigestBatch()
  /**
   * The last header id written from bytes: its varint at buf[idS, idE), its digits at ob[idAt,
   * idAt + idN). etcd numbers requests from a counter, so the next id mostly differs in the varint's
   * first byte only, the low seven bits: the digits are copied and the last two rewritten (-1: none).
   */
  private idS = -1
  private idE = -1
  private idAt = 0
  private idN = 0
  /** Entries written since `begin`. */
  count = 0

  constructor(style: LineStyle) {
    const h = HEADS[style]
    this.head = h.head
    this.before = h.before
    this.after = h.after
    this.pre = constant(h.before + h.head, false)
    this.endPre = END_PRE[style]
  }

  /**
   * Starts a chunk: `buf` holds its frames (the positions handed to `raw` are into it), `out` is a
   * buffer to write into when it is at least `want` bytes long (else a new one: a buffer handed out
   * by `take` is never written again).
   */
  begin(buf: Uint8Array, file: string, out?: Uint8Array, want = 4096): void {
    this.buf = buf
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
    if (file !== this.file || this.fileWords.n === 0) {
      this.file = file
      // (a writer per length, putFor: one made per file would be a new call target in `raw` at each file)
      this.fileWords = constant('","type":"normal","file":' + JSON.stringify(file) + ',"offset":', false)
      this.filePut = putFor(this.fileWords.n)
    }
    this.ob = out !== undefined && out.length >= want ? out : new Uint8Array(want)
    this.ov = new DataView(this.ob.buffer, this.ob.byteOffset, this.ob.byteLength)
    this.op = 0
    this.open = false
    this.count = 0
    this.idS = -1
    this.digests.clear()
    this.reopen()
  }

  restart(): void {
    this.open = false
    this.op = 0
    this.count = 0
    this.idS = -1
    this.digests.clear()
    this.reopen()
  }

  /** Writes the start of the next line ahead (see `open`). */
  private reopen(): void {
    this.room(this.pre.n + 8)
    this.op = this.pre.put(this.ov, this.op)
    this.open = true
  }

  /** The bytes written since `begin` (a view of the output buffer), digests filled in. */
  take(): Uint8Array {
    this.close()
    this.digests.fill(this.buf, this.ob)
    return this.ob.subarray(0, this.op)
  }

  /** Drops the start of a line `raw` wrote ahead. */
  private close(): void {
    if (!this.open) return
    this.op -= this.pre.n
    this.open = false
  }

  entry(e: WalEntry): void {
    this.close()
    const line = this.before + entryLine(presentEntry(e), this.head) + this.after
    this.room(line.length * 3)
    this.op += enc.encodeInto(line, this.ob.subarray(this.op)).written
    this.count++
    this.reopen()
  }

  /**
   * Writes the line of a normal entry whose data is buf[s, e) from its bytes and returns true, or
   * returns false (nothing written) when it is not the put shape this writes: a printable ASCII key
   * needing no JSON escape, and a value of a class without details (text, opaque, cbor).
   */
  raw(s: number, e: number, index: number, term: number, offset: number, committed: boolean): boolean {
    const b = this.buf
    const p = this.shape
    const kind = fastPut(this.view, b, s, e, p)
    if (kind === null) return false
    const tail = KIND_TAIL[kind]
    const ks = p.keyStart
    const ke = p.keyEnd
    const vs = p.valueStart
    const ve = p.valueEnd
    const fileWords = this.fileWords
    // (putWords writes up to 7 bytes past each constant: within this room)
    this.room(512 + (ke - ks) + fileWords.n)
    const o = this.ob
    const ov = this.ov
    let q = this.op
    q = putUint(o, q, index)
    q = P_TERM.put(ov, q)
    q = putUint(o, q, term)
    q = this.filePut(ov, q, fileWords.words)
    q = putUint(o, q, offset)
    q = P_DATA.put(ov, q)
    q = putUint(o, q, e - s)
    q = committed ? P_COMMITTED.put(ov, q) : P_UNCOMMITTED.put(ov, q)
    // the key eight bytes at a time (printable ASCII, so never a NaN as a float64: see `constant`)
    const bv = this.view
    let i = ks
    for (; i + 8 <= ke; i += 8, q += 8) ov.setFloat64(q, bv.getFloat64(i, true), true)
    for (; i < ke; i++) o[q++] = b[i]!
    q = P_LEN.put(ov, q)
    q = putUint(o, q, ve - vs)
    q = P_SHA.put(ov, q)
    // the digits are written by `take`, for the whole chunk in one call (format/digest.ts)
    this.digests.add(vs, ve, q)
    q += 16
    q = tail.put(ov, q)
    const is = p.idStart
    const ie = p.idEnd
    const ps = this.idS
    let n: number
    // three bytes or more: the id is 2^14 or more, so equal bytes after the first mean as many digits
    if (ie - is >= 3 && ie - is === this.idE - ps && sameBytes(bv, is + 1, ps + 1, ie - is - 1)) {
      n = this.idN
      // hex digits and the text after them read as words: never a NaN (see `constant`)
      for (let k = 0, from = this.idAt; k < n; k += 8) ov.setFloat64(q + k, ov.getFloat64(from + k, true), true)
      ov.setUint16(q + n - 2, HEX2[(b[is]! & 0x7f) | ((b[is + 1]! & 1) << 7)]!, true)
    } else n = putHexVarint(ov, q, b, is, ie) - q
    this.idS = is
    this.idE = ie
    this.idAt = q
    this.idN = n
    this.op = this.endPre.put(ov, q + n)
    this.count++
    return true
  }

  private room(n: number): void {
    if (this.op + n <= this.ob.length) return
    const nb = new Uint8Array(Math.max(this.ob.length * 2, this.op + n))
    nb.set(this.ob.subarray(0, this.op))
    this.ob = nb
    this.ov = new DataView(nb.buffer)
  }
}

/** The value classes the fast paths write: those without details (the rest name an object, key or provider). */
export type FastPutKind = 'text' | 'opaque' | 'cbor'

/**
 * The fast paths' test (the line writer here, the row writer of render/wal.ts): the normal entry at
 * b[s, e) is the put shape (format/raft/put-shape.ts, positions into `p`), its key is printable
 * ASCII needing no JSON escape, and its value is of a class without details; that class, else null.
 */
export function fastPut(view: DataView, b: Uint8Array, s: number, e: number, p: PutShape): FastPutKind | null {
  if (!matchPut(b, s, e, p)) return null
  if (!plainKey(view, b, p.keyStart, p.keyEnd)) return null
  // classifyValue's kind: a value that may have an envelope goes the long way; the rest is text
  // when printable (isPrintable: ASCII without controls but \t \n \r, or valid UTF-8).
  const vs = p.valueStart
  const ve = p.valueEnd
  let kind: string
  if (vs === ve) kind = 'opaque'
  else if (mayHaveEnvelope(b, vs, ve)) kind = classifyKind(b.subarray(vs, ve))
  else {
    const t = textScan(view, b, vs, ve)
    kind = t === 1 ? 'text' : t === 0 ? 'opaque' : classifyKind(b.subarray(vs, ve))
  }
  return kind === 'text' || kind === 'opaque' || kind === 'cbor' ? kind : null
}

/** Writers into o at p, returning the next position. */
export function put(o: Uint8Array, p: number, c: Uint8Array): number {
  const n = c.length
  // a native copy pays off past a couple of dozen bytes
  if (n > 24) {
    o.set(c, p)
    return p + n
  }
  for (let i = 0; i < n; i++) o[p++] = c[i]!
  return p
}

/** '00'..'99' as byte pairs, for writing two digits per division. */
const DIGITS2 = bytesOf(Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0')).join(''))

/**
 * A non-negative integer below 2^53 in decimal. Below 2^31 (every offset and length, indexes and
 * terms of any real log) two digits per integer division; above it, through String().
 */
export function putUint(o: Uint8Array, p: number, n: number): number {
  if (n < 10) {
    o[p] = 0x30 + n
    return p + 1
  }
  if (n > 0x7fffffff) {
    const s = String(n)
    for (let i = 0; i < s.length; i++) o[p++] = s.charCodeAt(i)
    return p
  }
  const d = n < 100 ? 2 : n < 1000 ? 3 : n < 10000 ? 4 : n < 100000 ? 5 : n < 1000000 ? 6 : n < 10000000 ? 7 : n < 100000000 ? 8 : n < 1000000000 ? 9 : 10
  const end = p + d
  let q = end
  while (n >= 100) {
    const t = (n / 100) | 0
    const r = (n - t * 100) << 1
    o[--q] = DIGITS2[r + 1]!
    o[--q] = DIGITS2[r]!
    n = t
  }
  if (n >= 10) {
    o[--q] = DIGITS2[(n << 1) + 1]!
    o[--q] = DIGITS2[n << 1]!
  } else o[--q] = 0x30 + n
  return end
}

// Every branch of putUint once, at load, before V8 optimizes the line writer: a comparison never
// made carries no type feedback, and the first 8-digit offset deep into a log would otherwise throw
// the whole inlined chunk loop back to the interpreter (app/wal-fast.ts presentChunk) to recompile.
{
  // (V8 gives a function its feedback slots only after a few calls: several rounds)
  const scratch = new Uint8Array(16)
  for (let round = 0; round < 4; round++) for (let n = 1; n < 2 ** 32; n *= 10) putUint(scratch, 0, n + 1)
}

/**
 * 1 when b[s, e) is ASCII text (printable, \t \n \r), 0 when a control byte makes it opaque,
 * 2 when bytes beyond ASCII leave it to the exact UTF-8 check. The common all-printable value is
 * checked sixteen bytes at a time (SWAR on four words, one branch per sixteen bytes: a byte below
 * 0x20 borrows, a byte of 0x7f or more carries into bit 7 or has it; both only ever flag too much,
 * never too little); the rest, and any flagged block, byte by byte. Measured on bench/wal's values
 * (271 bytes on average): 87 ns against 120-260 ns four bytes at a time; without the `& ~x` the
 * borrow test had (bytes of 0x80 or more flag through `| x` anyway) the line writer took ~55 ns an
 * entry less (same-process A/B, session 10).
 */
function textScan(dv: DataView, b: Uint8Array, s: number, e: number): number {
  let i = s
  for (const end16 = e - 15; i < end16; i += 16) {
    const x = dv.getInt32(i, true)
    const y = dv.getInt32(i + 4, true)
    const z = dv.getInt32(i + 8, true)
    const w = dv.getInt32(i + 12, true)
    const low = (x - 0x20202020) | (y - 0x20202020) | (z - 0x20202020) | (w - 0x20202020)
    const high = (x + 0x01010101) | x | (y + 0x01010101) | y | (z + 0x01010101) | z | (w + 0x01010101) | w
    if (((low | high) & 0x80808080) !== 0) break
  }
  let r = 1
  for (; i < e; i++) {
    const x = b[i]!
    if (TEXT_BYTE[x] === 1) continue
    if (x < 0x20 || x === 0x7f) return 0
    r = 2
  }
  return r
}

/**
 * True when every byte of b[s, e) is printable ASCII but `"` and `\`, a key written as it is in a
 * JSON string. Four bytes at a time (textScan's borrow and carry tests, and the zero-byte test on
 * the word xor `"` and xor `\`: all only ever flag too much), a flagged word byte by byte.
 */
function plainKey(dv: DataView, b: Uint8Array, s: number, e: number): boolean {
  let i = s
  for (; i + 4 <= e; i += 4) {
    const x = dv.getInt32(i, true)
    const q = x ^ 0x22222222
    const z = x ^ 0x5c5c5c5c
    const flag = ((x - 0x20202020) & ~x) | (x + 0x01010101) | x | ((q - 0x01010101) & ~q) | ((z - 0x01010101) & ~z)
    if ((flag & 0x80808080) !== 0 && (KEY_BYTE[b[i]!]! & KEY_BYTE[b[i + 1]!]! & KEY_BYTE[b[i + 2]!]! & KEY_BYTE[b[i + 3]!]!) === 0) return false
  }
  for (; i < e; i++) if (KEY_BYTE[b[i]!] === 0) return false
  return true
}

/** Whether v[a, a + n) and v[c, c + n) hold the same bytes (n >= 2), four at a time. */
function sameBytes(v: DataView, a: number, c: number, n: number): boolean {
  if (n < 4) return v.getUint16(a) === v.getUint16(c) && v.getUint8(a + n - 1) === v.getUint8(c + n - 1)
  for (let i = 0; i + 4 < n; i += 4) if (v.getInt32(a + i) !== v.getInt32(c + i)) return false
  return v.getInt32(a + n - 4) === v.getInt32(c + n - 4)
}

/** The u64 varint at b[s, e) (checked by matchPut) in etcdctl's hex: lowercase, no padding. */
function putHexVarint(o: DataView, p: number, b: Uint8Array, s: number, e: number): number {
  let lo = 0
  let hi = 0
  for (let i = 0, q = s; q < e; i++, q++) {
    const x = b[q]! & 0x7f
    if (i < 4) lo |= x << (7 * i)
    else if (i === 4) {
      lo |= (x & 0x0f) << 28
      hi = x >>> 4
    } else hi |= x << (7 * i - 32)
  }
  if (hi !== 0) return putHex(o, putHex(o, p, hi, 8 - (Math.clz32(hi) >>> 2)), lo, 8)
  return putHex(o, p, lo, lo === 0 ? 1 : 8 - (Math.clz32(lo) >>> 2))
}

/** The low `n` hex digits of the 32 bits of x, at o[p]. */
function putHex(o: DataView, p: number, x: number, n: number): number {
  let i = p + n
  // two digits (one byte of x) a store, then the odd leading digit
  for (; i - 2 >= p; i -= 2, x >>>= 8) o.setUint16(i - 2, HEX2[x & 0xff]!, true)
  if (i > p) o.setUint8(p, HEX[x & 15]!)
  return p + n
}
