import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { classifyKind, classifyValue, mayHaveEnvelope, valueClassLabel } from '../../src/format/k8s/value.js'
import { sharedTestdata } from '../support/shared-testdata.js'

const K8S = sharedTestdata('k8s')
const enc = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'))
const cat = (...parts: (Uint8Array | number[])[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]))
const ld = (field: number, b: Uint8Array): number[] => [(field << 3) | 2, b.length, ...b]

describe('k8s value classification', () => {
  it('a real Pod (protobuf envelope): kind, apiVersion, namespace, name', () => {
    const c = classifyValue(Uint8Array.from(readFileSync(join(K8S, 'pod.value.bin'))))
    expect(c).toMatchObject({ kind: 'k8s-protobuf', apiVersion: 'v1', objectKind: 'Pod', namespace: 'default', name: 'pi-dqtsw', generateName: 'pi-' })
    expect(valueClassLabel(c)).toBe('k8s v1/Pod default/pi-dqtsw')
    // pod.value.bin carries one byte (a newline) after the 1576-byte value stored in the db: the
    // identity is still read, and the trailing byte is reported.
    expect(c).toHaveProperty('malformed', 'runtime.Unknown: at byte 1577: protobuf: truncated varint')
  })
  it('a real Job', () => {
    const c = classifyValue(Uint8Array.from(readFileSync(join(K8S, 'job.value.bin'))))
    expect(c).toMatchObject({ kind: 'k8s-protobuf', apiVersion: 'batch/v1', objectKind: 'Job', namespace: 'default', name: 'pi' })
    expect(valueClassLabel(c)).toBe('k8s batch/v1/Job default/pi')
  })
  it('a truncated envelope is reported as malformed, never thrown', () => {
    const pod = Uint8Array.from(readFileSync(join(K8S, 'pod.value.bin')))
    const c = classifyValue(pod.subarray(0, 40))
    expect(c.kind).toBe('k8s-protobuf')
    expect(c).toHaveProperty('malformed')
  })
  it('encryption at rest: provider and key name, never the payload', () => {
    expect(classifyValue(cat(enc('k8s:enc:aescbc:v1:key1:'), new Uint8Array(32).fill(7)))).toEqual({ kind: 'k8s-encrypted', provider: 'aescbc', version: 'v1', keyName: 'key1' })
    expect(classifyValue(cat(enc('k8s:enc:secretbox:v1:sb:'), new Uint8Array(40)))).toMatchObject({ provider: 'secretbox', keyName: 'sb' })
    expect(classifyValue(cat(enc('k8s:enc:kms:v1:myKms:'), [0, 4, 1, 2, 3, 4, 9, 9]))).toMatchObject({ provider: 'kms', version: 'v1', keyName: 'myKms' })
    const v2 = cat(enc('k8s:enc:kms:v2:vault:'), ld(1, enc('ciphertext')), ld(2, enc('key-2024')), ld(3, enc('dek')), [0x28, 0x01])
    const c = classifyValue(v2)
    expect(c).toEqual({ kind: 'k8s-encrypted', provider: 'kms', version: 'v2', keyName: 'vault', keyId: 'key-2024', dekSourceType: 'HKDF_SHA256_XNONCE_AES_GCM_SEED' })
    expect(valueClassLabel(c)).toBe('encrypted kms:v2:vault keyID=key-2024')
  })
  it('JSON objects (custom resources) with apiVersion/kind/metadata, CBOR, text, opaque', () => {
    expect(classifyValue(enc('{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"ns"}}')))
      .toEqual({ kind: 'json', apiVersion: 'example.com/v1', objectKind: 'Widget', namespace: 'ns', name: 'w1' })
    expect(classifyValue(enc('[1,2]'))).toEqual({ kind: 'json' })
    expect(classifyValue(Uint8Array.from([0xd9, 0xd9, 0xf7, 0xa0]))).toEqual({ kind: 'cbor' })
    expect(classifyValue(enc('231840'))).toEqual({ kind: 'text' })
    expect(classifyValue(Uint8Array.from([0, 1, 2, 0xff]))).toEqual({ kind: 'opaque' })
    expect(classifyValue(new Uint8Array(0))).toEqual({ kind: 'opaque' })
  })
})

describe('mayHaveEnvelope: which values classifyValue has to look at', () => {
  const b = (...x: (number | string)[]) => Uint8Array.from(x.flatMap((v) => (typeof v === 'string' ? [...Buffer.from(v)] : [v])))
  it('a k8s prefix, the CBOR tag, JSON; not other text starting with k or 0xd9', () => {
    expect(mayHaveEnvelope(b('k8s', 0, 1, 2), 0, 6)).toBe(true)
    expect(mayHaveEnvelope(b('k8s:enc:aescbc:v1:key1:'), 0, 23)).toBe(true)
    expect(mayHaveEnvelope(b(0xd9, 0xd9, 0xf7, 1), 0, 4)).toBe(true)
    expect(mayHaveEnvelope(b('{"a":1}'), 0, 7)).toBe(true)
    expect(mayHaveEnvelope(b('[1]'), 0, 3)).toBe(true)
    expect(mayHaveEnvelope(b('kkkkkk'), 0, 6)).toBe(false)
    expect(mayHaveEnvelope(b('kube-system'), 0, 11)).toBe(false)
    expect(mayHaveEnvelope(b(0xd9, 0x41), 0, 2)).toBe(false)
    // the bytes after the value are not the value's: "k8" then "s" of something else
    expect(mayHaveEnvelope(b('k8s'), 0, 2)).toBe(false)
    expect(mayHaveEnvelope(b(''), 0, 0)).toBe(false)
  })
  it('classifyKind gives classifyValue\'s kind for every one of them', () => {
    for (const v of [b('k8s', 0, 1, 2), b('kkkk'), b('k8'), b('k8sx'), b(0xd9, 0xd9, 0xf7), b(0xd9, 0x41), b(0xd9), b('k', 0x01), b('k', 0xc3, 0xa9), b('{'), b('[1,2]'), b('text')]) {
      expect(classifyKind(v)).toBe(classifyValue(v).kind)
    }
  })
})
