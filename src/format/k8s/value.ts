/**
 * Classification of stored values (FORMATS.md §7.2, §7.3), in kube-apiserver's detection order:
 *   1. `k8s:enc:` encryption at rest: provider and key name (kms v2: also keyID and the DEK source
 *      type from the EncryptedObject); the payload is never decoded or printed
 *   2. `6b 38 73 00` ("k8s\0") + runtime.Unknown { TypeMeta typeMeta = 1 { apiVersion = 1; kind = 2 };
 *      bytes raw = 2; contentEncoding = 3; contentType = 4 }, and from `raw` field 1 (ObjectMeta
 *      { name = 1; generateName = 2; namespace = 3; uid = 5; creationTimestamp = 8 }) the identity
 *   3. `d9 d9 f7` CBOR (self-described), 4. `{`/`[` JSON (apiVersion/kind/metadata when an object),
 *   5. printable text, 6. opaque.
 * Decoding is best effort: a malformed envelope is reported as such, never thrown.
 */
import { ProtoReader, WireType } from '../protowire.js'
import { isPrintable } from '../value.js'

/** What a stored value is. Existing fields are kept stable; new ones are optional. */
export type ValueClass =
  | {
      kind: 'k8s-protobuf'
      apiVersion?: string
      /** TypeMeta.kind, e.g. "Pod". */
      objectKind?: string
      namespace?: string
      name?: string
      generateName?: string
      uid?: string
      /** ObjectMeta.creationTimestamp seconds (Unix). */
      creationTimestamp?: bigint
      contentType?: string
      /** Set when the envelope does not decode; the detail says where. */
      malformed?: string
    }
  | {
      kind: 'k8s-encrypted'
      /** aescbc, aesgcm, secretbox, kms. */
      provider: string
      /** The configured key name (for kms: the KMS provider name). */
      keyName?: string
      /** v1 or v2. */
      version: string
      /** kms v2: EncryptedObject.keyID. */
      keyId?: string
      /** kms v2: EncryptedDEKSourceType name. */
      dekSourceType?: string
    }
  | { kind: 'cbor' }
  | { kind: 'json'; apiVersion?: string; objectKind?: string; namespace?: string; name?: string }
  | { kind: 'text' }
  | { kind: 'opaque' }

const K8S_MAGIC = [0x6b, 0x38, 0x73, 0x00]
const utf8 = new TextDecoder()
/** JSON values larger than this are classified without being parsed. */
const MAX_JSON_PARSE = 1 << 20

/** Classifies a value; never throws. */
export function classifyValue(v: Uint8Array): ValueClass {
  if (v.length >= 8 && v[0] === 0x6b && v[1] === 0x38 && v[2] === 0x73 && v[3] === 0x3a) {
    const head = Buffer.from(v.buffer, v.byteOffset, Math.min(v.length, 256)).toString('latin1')
    const m = /^k8s:enc:([a-z0-9]+):(v\d+):([^:]*):/.exec(head)
    if (m) {
      const c: ValueClass = { kind: 'k8s-encrypted', provider: m[1]!, version: m[2]!, keyName: m[3] }
      if (m[1] === 'kms' && m[2] === 'v2') Object.assign(c, kmsV2(v.subarray(m[0].length)))
      return c
    }
  }
  if (v.length >= 4 && K8S_MAGIC.every((b, i) => v[i] === b)) return k8sProtobuf(v.subarray(4))
  if (v.length >= 3 && v[0] === 0xd9 && v[1] === 0xd9 && v[2] === 0xf7) return { kind: 'cbor' }
  if (v.length > 0 && (v[0] === 0x7b || v[0] === 0x5b)) return json(v)
  if (v.length > 0 && isPrintable(v)) return { kind: 'text' }
  return { kind: 'opaque' }
}

/**
 * Whether b[s, e) starts like one of the envelopes classifyValue knows (`k8s`: Kubernetes protobuf
 * or encryption at rest, CBOR's self-describing tag d9 d9 f7, a JSON object or array). Any other
 * value is text when printable, else opaque. Bytes past `e` are never taken for the value's.
 */
export function mayHaveEnvelope(b: Uint8Array, s: number, e: number): boolean {
  const b0 = b[s]
  if (s >= e) return false
  if (b0 === 0x7b || b0 === 0x5b) return true
  return e - s >= 3 && ((b0 === 0x6b && b[s + 1] === 0x38 && b[s + 2] === 0x73) || (b0 === 0xd9 && b[s + 1] === 0xd9 && b[s + 2] === 0xf7))
}

/**
 * `classifyValue(v).kind` without building the description: redacted output names only the kind,
 * and a Kubernetes object's envelope need not be walked for it.
 */
export function classifyKind(v: Uint8Array): ValueClass['kind'] {
  if (mayHaveEnvelope(v, 0, v.length)) {
    if (v.length >= 4 && v[1] === 0x38 && v[2] === 0x73 && v[3] === 0x00) return 'k8s-protobuf'
    return classifyValue(v).kind
  }
  return v.length > 0 && isPrintable(v) ? 'text' : 'opaque'
}

type Fields = Map<number, Uint8Array | bigint>

/**
 * First occurrence of each length-delimited or varint field of a message (strict wire walk). The
 * fields found before a wire error are kept; the error goes to `onError` (best effort: a value with
 * trailing bytes still names its object).
 */
function fields(buf: Uint8Array, want: readonly number[], onError?: (msg: string) => void): Fields {
  const out: Fields = new Map()
  const r = new ProtoReader(buf)
  try {
    while (!r.done) {
      const { field, wire } = r.tag()
      if (want.includes(field) && !out.has(field) && (wire === WireType.Bytes || wire === WireType.Varint)) {
        out.set(field, wire === WireType.Bytes ? r.bytes() : r.varint64())
      } else {
        r.skip(wire, field)
      }
    }
  } catch (e) {
    if (!onError) throw e
    onError((e as Error).message)
  }
  return out
}

const str = (f: Fields, n: number): string | undefined => {
  const b = f.get(n)
  return b instanceof Uint8Array ? utf8.decode(b) : undefined
}

function k8sProtobuf(body: Uint8Array): ValueClass {
  const c: Extract<ValueClass, { kind: 'k8s-protobuf' }> = { kind: 'k8s-protobuf' }
  try {
    const unknown = fields(body, [1, 2, 4], (m) => { c.malformed = `runtime.Unknown: ${m.replace(/^<bytes>@(\d+)/, (_, o) => `at byte ${Number(o) + 4}`)}` })
    const tm = unknown.get(1)
    if (tm instanceof Uint8Array) {
      const t = fields(tm, [1, 2])
      c.apiVersion = str(t, 1)
      c.objectKind = str(t, 2)
    }
    c.contentType = str(unknown, 4) || undefined
    const raw = unknown.get(2)
    if (raw instanceof Uint8Array) {
      // Every built-in top-level object has ObjectMeta as field 1.
      const obj = fields(raw, [1])
      const om = obj.get(1)
      if (om instanceof Uint8Array) {
        const m = fields(om, [1, 2, 3, 5, 8])
        c.name = str(m, 1) || undefined
        c.generateName = str(m, 2) || undefined
        c.namespace = str(m, 3) || undefined
        c.uid = str(m, 5) || undefined
        const ts = m.get(8)
        if (ts instanceof Uint8Array) {
          const s = fields(ts, [1]).get(1)
          if (typeof s === 'bigint') c.creationTimestamp = BigInt.asIntN(64, s)
        }
      }
    }
  } catch (e) {
    c.malformed = (e as Error).message
  }
  for (const k of Object.keys(c) as (keyof typeof c)[]) if (c[k] === undefined) delete c[k]
  return c
}

const DEK_SOURCE = ['AES_GCM_KEY', 'HKDF_SHA256_XNONCE_AES_GCM_SEED']

function kmsV2(body: Uint8Array): { keyId?: string; dekSourceType?: string } {
  try {
    const f = fields(body, [2, 5])
    const t = f.get(5)
    return { keyId: str(f, 2), dekSourceType: typeof t === 'bigint' ? (DEK_SOURCE[Number(t)] ?? `UNKNOWN(${t})`) : DEK_SOURCE[0] }
  } catch {
    return {}
  }
}

function json(v: Uint8Array): ValueClass {
  if (v.length > MAX_JSON_PARSE) return { kind: 'json' }
  try {
    const j = JSON.parse(utf8.decode(v)) as Record<string, unknown>
    if (j === null || typeof j !== 'object' || Array.isArray(j)) return { kind: 'json' }
    const meta = (j.metadata ?? {}) as Record<string, unknown>
    const s = (x: unknown): string | undefined => (typeof x === 'string' && x !== '' ? x : undefined)
    const out: ValueClass = { kind: 'json' }
    if (s(j.apiVersion)) out.apiVersion = s(j.apiVersion)
    if (s(j.kind)) out.objectKind = s(j.kind)
    if (s(meta.namespace)) out.namespace = s(meta.namespace)
    if (s(meta.name)) out.name = s(meta.name)
    return out
  } catch {
    return isPrintable(v) ? { kind: 'text' } : { kind: 'opaque' }
  }
}

/** One-line label for table/simple renderers, e.g. `k8s v1/Pod default/pi-dqtsw`. */
export function valueClassLabel(c: ValueClass): string {
  switch (c.kind) {
    case 'k8s-protobuf':
    case 'json': {
      const type = [c.apiVersion, c.objectKind].filter(Boolean).join('/')
      const id = [c.namespace, c.name].filter(Boolean).join('/')
      return [c.kind === 'json' ? 'json' : 'k8s', type, id].filter(Boolean).join(' ')
    }
    case 'k8s-encrypted':
      return `encrypted ${c.provider}:${c.version}${c.keyName ? `:${c.keyName}` : ''}${c.keyId ? ` keyID=${c.keyId}` : ''}`
    default:
      return c.kind
  }
}
