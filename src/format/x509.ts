/**
 * PEM armour (RFC 7468) and the X.509 v3 extensions node:crypto's X509Certificate does not expose
 * on Node 20 (RFC 5280 §4.2): keyUsage bits, basicConstraints as written (present or not, pathLen,
 * critical), extendedKeyUsage as written, subject/authority key identifiers.
 *
 * DER: every element is tag, length, value. Lengths are short form (< 0x80) or long form (0x81-0x84
 * followed by 1-4 big-endian length bytes); indefinite lengths (0x80) are BER, not DER, and refused.
 * Every length is checked against the bytes of its parent before anything is read. Pure: bytes in,
 * plain object out; errors are DecodeErrors with the file and the byte offset inside the DER.
 */
import { DecodeError } from '../errors.js'

/** One PEM block: its label (`CERTIFICATE`, `PRIVATE KEY`, `EC PRIVATE KEY`, ...) and DER bytes. */
export interface PemBlock {
  label: string
  der: Uint8Array
  /** 1-based line of the BEGIN line, for messages. */
  line: number
}

const PEM_RE = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g

/** Splits PEM text into its blocks (text outside the armour, like openssl's `Bag Attributes`, is skipped). */
export function splitPem(text: string): PemBlock[] {
  const out: PemBlock[] = []
  for (const m of text.matchAll(PEM_RE)) {
    // RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`) are kept out of the base64.
    const body = m[2]!.split('\n').filter((l) => !l.includes(':')).join('')
    out.push({ label: m[1]!, der: new Uint8Array(Buffer.from(body.replace(/\s+/g, ''), 'base64')), line: text.slice(0, m.index).split('\n').length })
  }
  return out
}

/** A DER element: tag byte, where its value starts and ends (offsets into the buffer). */
interface Tlv {
  tag: number
  start: number
  valueStart: number
  end: number
}

function readTlv(buf: Uint8Array, pos: number, limit: number, file: string, what: string): Tlv {
  if (pos + 2 > limit) throw new DecodeError(file, pos, 'truncated', `truncated DER ${what}: need 2 header bytes, ${limit - pos} left`)
  const tag = buf[pos]!
  let len = buf[pos + 1]!
  let p = pos + 2
  if (len & 0x80) {
    const n = len & 0x7f
    // 0x80 is BER's indefinite length; more than 4 length bytes cannot describe a certificate.
    if (n === 0 || n > 4) throw new DecodeError(file, pos + 1, 'bad-der', `DER ${what}: unsupported length form 0x${len.toString(16)}`)
    if (p + n > limit) throw new DecodeError(file, p, 'truncated', `truncated DER ${what}: need ${n} length bytes, ${limit - p} left`)
    len = 0
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!
    p += n
  }
  if (p + len > limit) throw new DecodeError(file, pos, 'truncated', `DER ${what} declares ${len} bytes, ${limit - p} left in its parent`)
  return { tag, start: pos, valueStart: p, end: p + len }
}

function expectTag(t: Tlv, tag: number, file: string, what: string): void {
  if (t.tag !== tag) throw new DecodeError(file, t.start, 'bad-der', `DER ${what}: expected tag 0x${tag.toString(16)}, found 0x${t.tag.toString(16)}`)
}

/** The children of a constructed element. */
function children(buf: Uint8Array, parent: Tlv, file: string, what: string): Tlv[] {
  const out: Tlv[] = []
  for (let p = parent.valueStart; p < parent.end;) {
    const t = readTlv(buf, p, parent.end, file, what)
    out.push(t)
    p = t.end
  }
  return out
}

/** Dotted OID from the value bytes of an OBJECT IDENTIFIER (base-128 arcs, first byte = 40*a + b). */
export function oidString(v: Uint8Array): string {
  const arcs: number[] = []
  let cur = 0
  for (const b of v) {
    cur = cur * 128 + (b & 0x7f)
    if (!(b & 0x80)) {
      if (arcs.length === 0) arcs.push(cur < 80 ? Math.floor(cur / 40) : 2, cur < 80 ? cur % 40 : cur - 80)
      else arcs.push(cur)
      cur = 0
    }
  }
  return arcs.join('.')
}

/** RFC 5280 §4.2.1.3 KeyUsage bit names, bit 0 first. */
export const KEY_USAGE_BITS = ['digitalSignature', 'contentCommitment', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'] as const
export type KeyUsageName = (typeof KEY_USAGE_BITS)[number]

/** Extended key usage OIDs (RFC 5280 §4.2.1.12) by the names Go and openssl print. */
export const EKU_NAMES: Record<string, string> = {
  '2.5.29.37.0': 'any',
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
}

const OID_KEY_USAGE = '2.5.29.15'
const OID_BASIC_CONSTRAINTS = '2.5.29.19'
const OID_EXT_KEY_USAGE = '2.5.29.37'
const OID_SUBJECT_KEY_ID = '2.5.29.14'
const OID_AUTHORITY_KEY_ID = '2.5.29.35'

/** The extensions of one certificate, as written; an absent extension is `undefined`. */
export interface CertExtensions {
  keyUsage?: { usages: KeyUsageName[]; critical: boolean }
  basicConstraints?: { ca: boolean; pathLen?: number; critical: boolean }
  /** Names from EKU_NAMES, else the dotted OID. */
  extKeyUsage?: { usages: string[]; critical: boolean }
  /** Lowercase hex. */
  subjectKeyId?: string
  /** keyIdentifier of authorityKeyIdentifier, lowercase hex. */
  authorityKeyId?: string
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')

/**
 * Decodes the v3 extensions of a DER certificate. Certificate ::= SEQUENCE { tbsCertificate,
 * signatureAlgorithm, signature }; the extensions are the `[3]` EXPLICIT field at the end of
 * tbsCertificate, a SEQUENCE OF Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE,
 * extnValue OCTET STRING }.
 */
export function decodeCertExtensions(der: Uint8Array, file = '<certificate>'): CertExtensions {
  const cert = readTlv(der, 0, der.length, file, 'Certificate')
  expectTag(cert, 0x30, file, 'Certificate')
  const tbs = readTlv(der, cert.valueStart, cert.end, file, 'TBSCertificate')
  expectTag(tbs, 0x30, file, 'TBSCertificate')
  const out: CertExtensions = {}
  // [3] is context-specific constructed 3 = 0xa3; the fields before it need not be understood.
  const extWrap = children(der, tbs, file, 'TBSCertificate field').find((t) => t.tag === 0xa3)
  if (!extWrap) return out
  const seq = readTlv(der, extWrap.valueStart, extWrap.end, file, 'Extensions')
  expectTag(seq, 0x30, file, 'Extensions')
  for (const ext of children(der, seq, file, 'Extension')) {
    expectTag(ext, 0x30, file, 'Extension')
    const parts = children(der, ext, file, 'Extension field')
    const id = parts[0]
    if (!id) throw new DecodeError(file, ext.start, 'bad-der', 'DER Extension: empty')
    expectTag(id, 0x06, file, 'extnID')
    const oid = oidString(der.subarray(id.valueStart, id.end))
    let critical = false
    let i = 1
    if (parts[i]?.tag === 0x01) {
      critical = parts[i]!.end > parts[i]!.valueStart && der[parts[i]!.valueStart] !== 0
      i++
    }
    const val = parts[i]
    if (!val) throw new DecodeError(file, ext.start, 'bad-der', `DER Extension ${oid}: no extnValue`)
    expectTag(val, 0x04, file, `extnValue of ${oid}`)
    const inner = readTlv(der, val.valueStart, val.end, file, `value of ${oid}`)
    if (oid === OID_KEY_USAGE) {
      expectTag(inner, 0x03, file, 'KeyUsage')
      // BIT STRING: first value byte = unused bits in the last byte; bit 0 is the MSB of the next byte.
      const usages: KeyUsageName[] = []
      const bits = der.subarray(inner.valueStart + 1, inner.end)
      KEY_USAGE_BITS.forEach((name, bit) => {
        const byte = bits[bit >> 3]
        if (byte !== undefined && byte & (0x80 >> (bit & 7))) usages.push(name)
      })
      out.keyUsage = { usages, critical }
    } else if (oid === OID_BASIC_CONSTRAINTS) {
      expectTag(inner, 0x30, file, 'BasicConstraints')
      let ca = false
      let pathLen: number | undefined
      for (const f of children(der, inner, file, 'BasicConstraints field')) {
        if (f.tag === 0x01) ca = f.end > f.valueStart && der[f.valueStart] !== 0
        else if (f.tag === 0x02) {
          pathLen = 0
          for (let p = f.valueStart; p < Math.min(f.end, f.valueStart + 4); p++) pathLen = pathLen * 256 + der[p]!
        }
      }
      out.basicConstraints = { ca, ...(pathLen !== undefined ? { pathLen } : {}), critical }
    } else if (oid === OID_EXT_KEY_USAGE) {
      expectTag(inner, 0x30, file, 'ExtKeyUsageSyntax')
      const usages = children(der, inner, file, 'KeyPurposeId').map((t) => {
        expectTag(t, 0x06, file, 'KeyPurposeId')
        const o = oidString(der.subarray(t.valueStart, t.end))
        return EKU_NAMES[o] ?? o
      })
      out.extKeyUsage = { usages, critical }
    } else if (oid === OID_SUBJECT_KEY_ID) {
      expectTag(inner, 0x04, file, 'SubjectKeyIdentifier')
      out.subjectKeyId = hex(der.subarray(inner.valueStart, inner.end))
    } else if (oid === OID_AUTHORITY_KEY_ID) {
      expectTag(inner, 0x30, file, 'AuthorityKeyIdentifier')
      // keyIdentifier is [0] IMPLICIT OCTET STRING = tag 0x80.
      const kid = children(der, inner, file, 'AuthorityKeyIdentifier field').find((t) => t.tag === 0x80)
      if (kid) out.authorityKeyId = hex(der.subarray(kid.valueStart, kid.end))
    }
  }
  return out
}
