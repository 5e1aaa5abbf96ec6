/**
 * Classification of stored values (FORMATS.md §7): Kubernetes protobuf envelope (`k8s\0` +
 * runtime.Unknown), encryption at rest (`k8s:enc:<provider>:v1:<key>:`), CBOR, JSON, or opaque.
 * Never decrypts and never prints key material.
 * (Initial version: prefix detection only; the db issue fills in apiVersion/kind/namespace/name.)
 */

export type ValueClass =
  | { kind: 'k8s-protobuf'; apiVersion?: string; objectKind?: string; namespace?: string; name?: string }
  | { kind: 'k8s-encrypted'; provider: string; keyName?: string; version: string }
  | { kind: 'cbor' }
  | { kind: 'json' }
  | { kind: 'text' }
  | { kind: 'opaque' }

const K8S_MAGIC = [0x6b, 0x38, 0x73, 0x00]

export function classifyValue(v: Uint8Array): ValueClass {
  if (v.length >= 8 && v[0] === 0x6b && v[1] === 0x38 && v[2] === 0x73 && v[3] === 0x3a) {
    const head = Buffer.from(v.buffer, v.byteOffset, Math.min(v.length, 256)).toString('latin1')
    const m = /^k8s:enc:([a-z0-9]+):(v\d+):([^:]*):/.exec(head)
    if (m) return { kind: 'k8s-encrypted', provider: m[1]!, version: m[2]!, keyName: m[3] }
  }
  if (v.length >= 4 && K8S_MAGIC.every((b, i) => v[i] === b)) return { kind: 'k8s-protobuf' }
  if (v.length >= 3 && v[0] === 0xd9 && v[1] === 0xd9 && v[2] === 0xf7) return { kind: 'cbor' }
  if (v.length > 0 && (v[0] === 0x7b || v[0] === 0x5b)) return { kind: 'json' }
  return { kind: 'opaque' }
}
