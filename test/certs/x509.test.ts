/**
 * src/format/x509.ts on certificates made by openssl: the extensions decoded from DER equal what
 * `openssl x509 -text` prints, and every truncation or hostile length is a DecodeError with an
 * offset inside the buffer (never another exception, never a read past the end).
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { DecodeError } from '../../src/errors.js'
import { decodeCertExtensions, oidString, splitPem } from '../../src/format/x509.js'
import { issueCert, newCa, type Ca } from '../support/tls.js'
import { tempDir } from '../support/etcd.js'

let ca: Ca
let leafPem: string
let der: Uint8Array

beforeAll(async () => {
  ca = await newCa('x509-test-ca', tempDir('x509-ca-'), { keyAlg: 'rsa-2048', keyUsage: 'critical,keyCertSign,cRLSign' })
  const c = await issueCert(ca, 'peer', { dir: tempDir('x509-'), eku: 'serverAuth,clientAuth,1.3.6.1.4.1.99999.1', keyUsage: 'critical,digitalSignature,keyEncipherment,keyAgreement,decipherOnly' })
  leafPem = readFileSync(c.cert, 'utf8')
  der = splitPem(leafPem)[0]!.der
})

const opensslText = (pem: string): string => execFileSync('openssl', ['x509', '-noout', '-text'], { input: pem }).toString()

describe('decodeCertExtensions', () => {
  it('matches openssl -text for a leaf (key usage incl. bit 8, EKU with an unknown OID, CA:FALSE, key ids)', () => {
    const e = decodeCertExtensions(der, 'peer.pem')
    const text = opensslText(leafPem)
    expect(text).toMatch(/X509v3 Key Usage: critical\n\s+Digital Signature, Key Encipherment, Key Agreement, Decipher Only/)
    expect(e.keyUsage).toEqual({ usages: ['digitalSignature', 'keyEncipherment', 'keyAgreement', 'decipherOnly'], critical: true })
    expect(text).toMatch(/Extended Key Usage: \n\s+TLS Web Server Authentication, TLS Web Client Authentication, 1\.3\.6\.1\.4\.1\.99999\.1/)
    expect(e.extKeyUsage).toEqual({ usages: ['serverAuth', 'clientAuth', '1.3.6.1.4.1.99999.1'], critical: false })
    expect(e.basicConstraints).toEqual({ ca: false, critical: true })
    const ski = /Subject Key Identifier: \n\s+([0-9A-F:]+)/.exec(text)![1]!.replace(/:/g, '').toLowerCase()
    const aki = /Authority Key Identifier: \n\s+(?:keyid:)?([0-9A-F:]+)/.exec(text)![1]!.replace(/:/g, '').toLowerCase()
    expect(e.subjectKeyId).toBe(ski)
    expect(e.authorityKeyId).toBe(aki)
  })

  it('reads a CA (CA:TRUE, keyCertSign) and a pathlen', async () => {
    const pem = readFileSync(ca.cert, 'utf8')
    expect(decodeCertExtensions(splitPem(pem)[0]!.der)).toMatchObject({ keyUsage: { usages: ['keyCertSign', 'cRLSign'], critical: true }, basicConstraints: { ca: true, critical: true } })
    const inter = await newCa('x509-inter', tempDir('x509-ca-'), { parent: ca, basicConstraints: 'critical,CA:TRUE,pathlen:0' })
    expect(decodeCertExtensions(splitPem(readFileSync(inter.cert, 'utf8'))[0]!.der).basicConstraints).toEqual({ ca: true, pathLen: 0, critical: true })
  })

  it('a certificate without extensions (v1) has none', () => {
    const d = tempDir('x509-v1-')
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${d}/k.pem`, '-out', `${d}/c.pem`, '-days', '1', '-subj', '/CN=v1', '-config', '/dev/null'], { stdio: 'ignore' })
    const pem = readFileSync(`${d}/c.pem`, 'utf8')
    expect(opensslText(pem)).not.toContain('X509v3 extensions')
    expect(decodeCertExtensions(splitPem(pem)[0]!.der)).toEqual({})
  })

  it('every truncation is a DecodeError with an offset inside the buffer', () => {
    for (let n = 0; n < der.length; n++) {
      const cut = der.subarray(0, n)
      let err: unknown
      try {
        decodeCertExtensions(cut, 'cut.pem')
      } catch (e) {
        err = e
      }
      expect(err, `length ${n}`).toBeInstanceOf(DecodeError)
      expect((err as DecodeError).offset).toBeLessThanOrEqual(n)
      expect((err as DecodeError).file).toBe('cut.pem')
    }
  })

  it('any single byte overwritten (0x00, 0x84, 0xff) decodes or is a DecodeError inside the buffer', () => {
    for (let i = 0; i < der.length; i++) {
      for (const v of [0x00, 0x84, 0xff]) {
        const bad = Uint8Array.from(der)
        bad[i] = v
        try {
          decodeCertExtensions(bad, 'bad.pem')
        } catch (e) {
          expect(e, `byte ${i} = ${v}`).toBeInstanceOf(DecodeError)
          expect((e as DecodeError).offset).toBeLessThan(der.length)
        }
      }
    }
  })

  it('hostile lengths: a 4-byte length far past the end, and BER indefinite length', () => {
    const huge = Uint8Array.from([0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x30, 0x00])
    expect(() => decodeCertExtensions(huge, 'h')).toThrow(/declares 2147483647 bytes, 2 left/)
    expect(() => decodeCertExtensions(Uint8Array.from([0x30, 0x80, 0, 0]), 'i')).toThrow(/unsupported length form 0x80/)
    expect(() => decodeCertExtensions(Uint8Array.from([0x02, 0x01, 0x00]), 'i')).toThrow(/expected tag 0x30, found 0x2/)
  })
})

describe('splitPem and oidString', () => {
  it('splits a bundle, skips text outside the armour, keeps labels and lines', () => {
    const text = `Bag Attributes: x\n${leafPem}junk\n${readFileSync(ca.cert, 'utf8')}`
    const blocks = splitPem(text)
    expect(blocks.map((b) => [b.label, b.line])).toEqual([['CERTIFICATE', 2], ['CERTIFICATE', 2 + leafPem.split('\n').length]])
    expect(Buffer.from(blocks[0]!.der).equals(Buffer.from(der))).toBe(true)
  })

  it('decodes OIDs with multi-byte arcs', () => {
    expect(oidString(Uint8Array.from([0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01]))).toBe('1.3.6.1.5.5.7.3.1')
    expect(oidString(Uint8Array.from([0x55, 0x1d, 0x25]))).toBe('2.5.29.37')
    expect(oidString(Uint8Array.from([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]))).toBe('1.2.840.113549')
  })
})
