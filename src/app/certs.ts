/**
 * `etcd-inspect certs`: audit one member's TLS set, read-only, against what etcd 3.4 (Go 1.19's
 * crypto/tls and crypto/x509) and its clients need, and against the runbook's cfssl profiles
 * (CA RSA 2048; server/peer/client ECDSA P-256; server and peer: serverAuth + clientAuth, client:
 * clientAuth; every member's address in the SANs). Sources: the member's `--config` (env file or
 * unit, read by replace's readConfig), etcd's own file flags, and etcdctl's --cert/--key/--cacert
 * for a client certificate. With --endpoints it also compares every live member's presented
 * certificate with the one on disk. Findings are data (severity, stable code, file, detail, hint);
 * the verdict is the worst severity. Nothing is written.
 */
import { X509Certificate, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { isIP } from 'node:net'
import { DecodeError, UsageError } from '../errors.js'
import { decodeCertExtensions, splitPem, type CertExtensions } from '../format/x509.js'
import { readConfig, splitUrls, type ConfigFormat } from './replace/config-render.js'
import type { ConnectionOptions } from '../cluster/settings.js'
import type { Finding } from './finding.js'

/** What a certificate file is for in the member's configuration. */
export type CertRole = 'server' | 'peer' | 'client' | 'trusted-ca' | 'peer-trusted-ca' | 'client-ca'

/**
 * The line etcd 3.4 (Go 1.19, default capnslog logger) prints every few seconds when its server
 * certificate lacks clientAuth under --client-cert-auth: its gRPC gateway dials the member itself
 * with the server certificate as client certificate. `…` stands for the dialling address.
 */
export const ETCD34_GATEWAY_REJECT_LINE = 'embed: rejected connection from "…" (error "tls: failed to verify client certificate: x509: certificate specifies an incompatible key usage", ServerName "")'

export interface CertFinding extends Finding {
  role?: CertRole
}

/** One certificate as read from a file (a leaf, an intermediate in a cert file, or a CA in a bundle). */
export interface CertSummary {
  role: CertRole
  /** The setting that names the file (ETCD_CERT_FILE, --cert, ...). */
  setting: string
  file: string
  /** Position in the file, 0 = first PEM certificate. */
  index: number
  subject: string
  issuer: string
  serial: string
  notBefore: string
  notAfter: string
  sans: string[]
  /** `rsa 2048`, `ec P-256`, `ed25519`. */
  publicKey: string
  isCa: boolean | null
  keyUsage: string[] | null
  extKeyUsage: string[] | null
  fingerprint256: string
}

export interface KeySummary {
  role: 'server' | 'peer' | 'client'
  setting: string
  file: string
  /** Octal permission bits, e.g. `0600`; null when the file cannot be stat'ed. */
  mode: string | null
  /** Whether the key belongs to its certificate; null when either could not be read. */
  matches: boolean | null
}

export interface LiveCheck {
  memberIdHex: string
  name: string
  url: string
  side: 'client' | 'peer'
  /** This member (the audited config) or another one. */
  self: boolean
  presentedSerial: string | null
  presentedNotAfter: string | null
  /** Presented and on-disk leaf are the same certificate (SHA-256 fingerprint); null when not compared. */
  matches: boolean | null
  error: string | null
}

export interface CertsResult {
  config: string | null
  now: string
  warnDays: number
  certificates: CertSummary[]
  keys: KeySummary[]
  /** Null without --endpoints. */
  live: LiveCheck[] | null
  findings: CertFinding[]
  counts: { errors: number; warnings: number; info: number }
  verdict: 'OK' | 'WARNINGS' | 'ERRORS'
}

export interface CertsOptions {
  configPath?: string
  configFormat?: ConfigFormat
  /** etcd flags given on the command line as ETCD_* settings; they override the config's. */
  flags?: Map<string, string>
  /** etcdctl's --cert/--key/--cacert: a client certificate to audit. */
  client?: { cert?: string; key?: string; cacert?: string }
  /** Live comparison; only with --endpoints. */
  connection?: ConnectionOptions
  warnDays?: number
  now?: Date
}

const DAY_MS = 86_400_000
const GOOD_CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1'])
const CURVE_NAMES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521', secp224r1: 'P-224', secp256k1: 'secp256k1' }
const MAX_SCAN_FILES = 256
const MAX_SCAN_BYTES = 256 * 1024

/** Go's strconv.ParseBool, which etcd's flags and ETCD_* variables use. */
function goBool(v: string | undefined): boolean {
  return v !== undefined && ['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v.trim())
}

function hostOf(url: string): string {
  const h = new URL(url).hostname
  return h.startsWith('[') ? h.slice(1, -1) : h
}

const iso = (s: string): string => new Date(s).toISOString()
const day = (d: Date): string => d.toISOString().slice(0, 10)

function keyDesc(k: KeyObject): string {
  const d = k.asymmetricKeyDetails ?? {}
  if (k.asymmetricKeyType === 'rsa' || k.asymmetricKeyType === 'rsa-pss') return `${k.asymmetricKeyType} ${d.modulusLength ?? '?'}`
  if (k.asymmetricKeyType === 'ec') return `ec ${CURVE_NAMES[d.namedCurve ?? ''] ?? d.namedCurve ?? '?'}`
  return k.asymmetricKeyType ?? 'unknown'
}

const spki = (k: KeyObject): string => k.export({ type: 'spki', format: 'der' }).toString('base64')

interface LoadedCert {
  x: X509Certificate
  ext: CertExtensions
  summary: CertSummary
}

/** Everything the checks need about one side (client listener, peer listener, etcdctl client). */
interface Side {
  role: 'server' | 'peer' | 'client'
  certSetting: string
  keySetting: string
  caSetting: string
  caRole: CertRole
  certFile?: string
  keyFile?: string
  caFile?: string
  /** Advertised URLs whose hosts the SANs must cover. */
  advertised: string[]
  /** Every URL of the side (listen + advertise), for the https check. */
  urls: { setting: string; url: string }[]
  certAuth?: { setting: string; on: boolean }
  autoTls: boolean
}

class Audit {
  readonly findings: CertFinding[] = []
  readonly certificates: CertSummary[] = []
  readonly keys: KeySummary[] = []
  private readonly loaded = new Map<string, LoadedCert[] | null>()
  private readonly timeChecked = new Set<string>()
  private readonly caChecked = new Set<string>()

  constructor(readonly now: Date, readonly warnDays: number) {}

  add(f: CertFinding): void {
    this.findings.push(f)
  }

  /** Reads and parses a PEM certificate file once; null (with a finding) when it cannot be used. */
  certs(file: string, role: CertRole, setting: string): LoadedCert[] | null {
    const key = `${role}\0${file}`
    if (this.loaded.has(key)) return this.loaded.get(key)!
    let out: LoadedCert[] | null = null
    try {
      const blocks = splitPem(readFileSync(file, 'utf8')).filter((b) => b.label === 'CERTIFICATE')
      if (blocks.length === 0) {
        this.add({ severity: 'error', code: 'pem-missing', role, file, detail: `${setting} ${file} holds no PEM certificate`, hint: 'point it at the PEM certificate (-----BEGIN CERTIFICATE-----)' })
      } else {
        out = blocks.map((b, index) => {
          // Our bounds-checked reader first: a damaged certificate is reported with its offset.
          const ext = decodeCertExtensions(b.der, file)
          const x = new X509Certificate(b.der)
          const summary: CertSummary = {
            role, setting, file, index, subject: x.subject.replace(/\n/g, ', '), issuer: x.issuer.replace(/\n/g, ', '), serial: x.serialNumber.toLowerCase(),
            notBefore: iso(x.validFrom), notAfter: iso(x.validTo),
            sans: (x.subjectAltName ?? '').split(', ').filter(Boolean).map((n) => n.replace(/^IP Address:/, 'IP:')), publicKey: keyDesc(x.publicKey),
            isCa: ext.basicConstraints ? ext.basicConstraints.ca : null,
            keyUsage: ext.keyUsage?.usages ?? null, extKeyUsage: ext.extKeyUsage?.usages ?? null,
            fingerprint256: x.fingerprint256,
          }
          this.certificates.push(summary)
          return { x, ext, summary }
        })
      }
    } catch (e) {
      const err = e as NodeJS.ErrnoException
      if (e instanceof DecodeError) {
        this.add({ severity: 'error', code: 'cert-undecodable', role, file, offset: e.offset, detail: `${setting} ${e.message}`, hint: 'the PEM holds no valid DER certificate: copy the certificate again from its source' })
        this.loaded.set(key, null)
        return null
      }
      this.add({ severity: 'error', code: err.code === 'ENOENT' ? 'file-missing' : 'file-unreadable', role, file, detail: `${setting} ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`, hint: err.code === 'EACCES' ? 'run as root or as the etcd user' : `fix ${setting}` })
    }
    this.loaded.set(key, out)
    return out
  }

  /** Point 5 for one certificate (each certificate once, whatever file lists it). */
  time(c: LoadedCert): void {
    if (this.timeChecked.has(c.summary.fingerprint256)) return
    this.timeChecked.add(c.summary.fingerprint256)
    const from = new Date(c.x.validFrom)
    const to = new Date(c.x.validTo)
    const what = `${c.summary.role} certificate ${c.summary.file}${c.summary.index ? ` #${c.summary.index}` : ''} (${c.summary.subject})`
    if (this.now < from) this.add({ severity: 'error', code: 'cert-not-yet-valid', role: c.summary.role, file: c.summary.file, detail: `${what} is not valid before ${from.toISOString()}`, hint: 'check the clock of this host and of the CA that issued it' })
    else if (this.now > to) this.add({ severity: 'error', code: 'cert-expired', role: c.summary.role, file: c.summary.file, detail: `${what} expired on ${to.toISOString()}`, hint: c.summary.role.endsWith('ca') ? 'renew the CA and re-issue every certificate it signed' : 'renew it from the CA and restart etcd' })
    else if (to.getTime() - this.now.getTime() < this.warnDays * DAY_MS) {
      const days = Math.floor((to.getTime() - this.now.getTime()) / DAY_MS)
      this.add({ severity: 'warning', code: 'cert-expiring', role: c.summary.role, file: c.summary.file, detail: `${what} expires on ${to.toISOString()} (in ${days} day${days === 1 ? '' : 's'}, within --warn-days ${this.warnDays})`, hint: 'renew it before that date' })
    }
  }

  /** Key strength (point 4) of any certificate's public key. */
  strength(c: LoadedCert): void {
    const k = c.x.publicKey
    const d = k.asymmetricKeyDetails ?? {}
    const what = `${c.summary.role} certificate ${c.summary.file}${c.summary.index ? ` #${c.summary.index}` : ''}`
    if ((k.asymmetricKeyType === 'rsa' || k.asymmetricKeyType === 'rsa-pss') && (d.modulusLength ?? 0) < 2048) {
      this.add({ severity: 'error', code: 'key-weak', role: c.summary.role, file: c.summary.file, detail: `${what} has a ${d.modulusLength}-bit RSA key (minimum 2048)`, hint: 're-issue it with RSA 2048 or more, or ECDSA P-256' })
    } else if (k.asymmetricKeyType === 'ec' && !GOOD_CURVES.has(d.namedCurve ?? '')) {
      this.add({ severity: 'error', code: 'key-weak', role: c.summary.role, file: c.summary.file, detail: `${what} has an ECDSA key on ${CURVE_NAMES[d.namedCurve ?? ''] ?? d.namedCurve} (Go's TLS, and so etcd, accepts P-256, P-384 and P-521 only)`, hint: 're-issue it with ECDSA P-256 (the runbook\'s profile)' })
    }
  }

  /** Point 1 for a certificate acting as a CA (a trust anchor or an intermediate). */
  caProperties(c: LoadedCert, as: 'anchor' | 'intermediate'): void {
    const k = `${as}\0${c.summary.fingerprint256}`
    if (this.caChecked.has(k)) return
    this.caChecked.add(k)
    const what = `${as === 'anchor' ? 'CA' : 'intermediate'} certificate ${c.summary.file}${c.summary.index ? ` #${c.summary.index}` : ''} (${c.summary.subject})`
    if (!c.ext.basicConstraints?.ca) {
      this.add({ severity: 'error', code: 'ca-not-ca', role: c.summary.role, file: c.summary.file, detail: `${what} is not a CA: basicConstraints ${c.ext.basicConstraints ? 'CA:FALSE' : 'missing'}`, hint: 'issue the CA with basicConstraints=critical,CA:TRUE (cfssl gencert -initca does); Go rejects such an intermediate and OpenSSL-based clients reject such a CA' })
    }
    if (c.ext.keyUsage && !c.ext.keyUsage.usages.includes('keyCertSign')) {
      this.add({ severity: 'error', code: 'ca-no-keycertsign', role: c.summary.role, file: c.summary.file, detail: `${what} has keyUsage ${c.ext.keyUsage.usages.join(',') || '(none)'} without keyCertSign`, hint: 'issue the CA with keyUsage=critical,keyCertSign,cRLSign' })
    }
  }
}

/** Walks leaf → intermediates (cert file, then CA bundle) → a certificate of the CA bundle. */
function chain(a: Audit, leaf: LoadedCert, extras: LoadedCert[], cas: LoadedCert[], caSetting: string, caFile: string): void {
  const role = leaf.summary.role
  const issuedBy = (c: LoadedCert, by: LoadedCert): boolean => c.x.issuer === by.x.subject && c.x.verify(by.x.publicKey)
  let cur = leaf
  const path: LoadedCert[] = [leaf]
  for (let depth = 0; depth < 10; depth++) {
    if (cur !== leaf && cas.some((c) => c.summary.fingerprint256 === cur.summary.fingerprint256)) return
    const anchor = cas.find((c) => issuedBy(cur, c))
    if (anchor) {
      a.caProperties(anchor, 'anchor')
      for (const i of path.slice(1)) a.caProperties(i, 'intermediate')
      return
    }
    const next = extras.find((c) => !path.includes(c) && issuedBy(cur, c))
    if (!next) break
    path.push(next)
    cur = next
  }
  const what = `${role} certificate ${leaf.summary.file}`
  const all = [...cas, ...extras]
  const sameName = all.find((c) => c.x.subject === cur.x.issuer)
  if (sameName) {
    a.add({ severity: 'error', code: 'chain-untrusted', role, file: leaf.summary.file, detail: `${what} does not verify against ${caSetting} ${caFile}: its issuer "${cur.summary.issuer}" is named there but that key did not sign it (a different CA with the same name)`, hint: `re-issue it from the CA in ${caFile}, or point ${caSetting} at the CA that signed it` })
  } else if (cur.x.issuer === cur.x.subject) {
    a.add({ severity: 'error', code: 'chain-untrusted', role, file: leaf.summary.file, detail: `${what} chains to the self-signed "${cur.summary.subject}", which is not in ${caSetting} ${caFile}`, hint: `put that CA in ${caFile}, or re-issue the certificate from the cluster's CA` })
  } else {
    // Without the issuer's certificate nothing tells an intermediate from a foreign CA: say both.
    a.add({ severity: 'error', code: 'chain-untrusted', role, file: leaf.summary.file,
      detail: `${what} does not verify against ${caSetting} ${caFile}: ${cur === leaf ? 'its' : `the chain's last certificate "${cur.summary.subject}" has`} issuer "${cur.summary.issuer}", which is neither in ${leaf.summary.file} nor in ${caFile} (a missing intermediate, or a certificate from another CA)`,
      hint: `if "${cur.summary.issuer}" is an intermediate CA, append it to ${leaf.summary.file} (after the leaf) or to ${caFile}; otherwise re-issue the certificate from the cluster's CA` })
  }
}

function hasEku(c: LoadedCert, u: 'serverAuth' | 'clientAuth'): boolean {
  // No extendedKeyUsage at all is "any" for Go's x509 (and OpenSSL).
  const e = c.ext.extKeyUsage?.usages
  return e === undefined || e.includes(u) || e.includes('any')
}

function usages(a: Audit, leaf: LoadedCert, side: Side): void {
  const role = side.role
  const file = leaf.summary.file
  const what = `${role} certificate ${file}`
  const have = leaf.ext.extKeyUsage?.usages.join(',') ?? ''
  if ((role === 'server' || role === 'peer') && !hasEku(leaf, 'serverAuth')) {
    a.add({ severity: 'error', code: 'eku-server-auth-missing', role, file, detail: `${what} has extendedKeyUsage ${have} without serverAuth: clients${role === 'peer' ? ' (the other members)' : ''} reject it with "x509: certificate specifies an incompatible key usage"`, hint: `re-issue it from the ${role} profile (server auth, client auth)` })
  }
  if (!hasEku(leaf, 'clientAuth')) {
    if (role === 'server') {
      const on = side.certAuth?.on ?? false
      a.add({ severity: on ? 'error' : 'warning', code: 'eku-client-auth-missing', role, file,
        detail: `${what} has extendedKeyUsage ${have} without clientAuth: etcd's gRPC gateway dials the member with this certificate, and ${on ? 'with' : 'once'} --client-cert-auth ${on ? 'etcd 3.4 logs every few seconds' : 'is on etcd 3.4 will log'}: ${ETCD34_GATEWAY_REJECT_LINE}; the HTTP/JSON gateway (/v3/...) then fails`,
        hint: 'add client auth to the server profile (the runbook\'s: signing, key encipherment, server auth, client auth) and re-issue' })
    } else if (role === 'peer') {
      a.add({ severity: 'error', code: 'eku-client-auth-missing', role, file, detail: `${what} has extendedKeyUsage ${have} without clientAuth: a member dials its peers with this certificate, and they reject it ("tls: failed to verify client certificate: x509: certificate specifies an incompatible key usage"), so it cannot join or replicate`, hint: 're-issue it from the peer profile (server auth, client auth)' })
    } else {
      a.add({ severity: 'error', code: 'eku-client-auth-missing', role, file, detail: `${what} has extendedKeyUsage ${have} without clientAuth: etcd rejects it ("x509: certificate specifies an incompatible key usage")`, hint: 're-issue it from the client profile (client auth)' })
    }
  }
  const ku = leaf.ext.keyUsage?.usages
  if (ku) {
    const t = leaf.x.publicKey.asymmetricKeyType
    if (!ku.includes('digitalSignature')) {
      a.add({ severity: 'error', code: 'ku-digital-signature-missing', role, file, detail: `${what} has keyUsage ${ku.join(',') || '(none)'} without digitalSignature, which ${t === 'ec' ? 'every ECDSA' : 'an ECDHE or TLS 1.3'} handshake needs (OpenSSL-based clients refuse it; Go does not check)`, hint: 'issue it with keyUsage digitalSignature (cfssl: signing), keyEncipherment' })
    }
    if ((t === 'rsa' || t === 'rsa-pss') && !ku.includes('keyEncipherment')) {
      a.add({ severity: 'warning', code: 'ku-key-encipherment-missing', role, file, detail: `${what} has an RSA key and keyUsage ${ku.join(',')} without keyEncipherment: TLS 1.2 clients using RSA key exchange refuse it`, hint: 'issue it with keyUsage digitalSignature, keyEncipherment (cfssl: signing, key encipherment)' })
    }
  }
  if (leaf.ext.basicConstraints?.ca) {
    a.add({ severity: 'warning', code: 'leaf-is-ca', role, file, detail: `${what} is marked CA:TRUE: whoever holds its key can issue certificates the cluster trusts`, hint: 'issue member and client certificates with CA:FALSE' })
  }
}

function names(a: Audit, leaf: LoadedCert, role: 'server' | 'peer', urls: { url: string; source: string }[], severity: 'error' | 'warning'): void {
  const file = leaf.summary.file
  if (!leaf.x.subjectAltName) {
    if (severity === 'error') a.add({ severity: 'error', code: 'san-none', role, file, detail: `${role} certificate ${file} has no subjectAltName: Go 1.15+ ignores the common name, so every client rejects it`, hint: 're-issue it with every member address in hosts (SANs)' })
    return
  }
  const seen = new Set<string>()
  for (const { url, source } of urls) {
    let host: string
    try {
      if (!url.startsWith('https:')) continue
      host = hostOf(url)
    } catch {
      continue
    }
    if (seen.has(host)) continue
    seen.add(host)
    const ok = isIP(host) ? leaf.x.checkIP(host) !== undefined : leaf.x.checkHost(host) !== undefined
    if (!ok) {
      a.add({ severity, code: severity === 'error' ? 'san-missing' : 'san-missing-live', role, file,
        detail: `${role} certificate ${file} does not cover ${isIP(host) ? 'IP' : 'DNS name'} ${host} (${source} ${url}); its SANs: ${leaf.summary.sans.join(', ')}`,
        hint: severity === 'error' ? `re-issue it with ${host} in hosts` : `the runbook's set lists every member's address in hosts: add ${host} (ignore if each member has its own certificate)` })
    }
  }
}

function keyFile(a: Audit, side: Side, leaf: LoadedCert | undefined): KeyObject | undefined {
  const role = side.role
  if (!side.keyFile) {
    if (side.certFile) a.add({ severity: 'error', code: 'key-missing', role, file: side.certFile, detail: `${side.certSetting} is set but ${side.keySetting} is not`, hint: `set ${side.keySetting} to the certificate's private key` })
    return undefined
  }
  const file = side.keyFile
  const summary: KeySummary = { role, setting: side.keySetting, file, mode: null, matches: null }
  a.keys.push(summary)
  try {
    const st = statSync(file)
    const mode = st.mode & 0o777
    summary.mode = '0' + mode.toString(8).padStart(3, '0')
    if (mode & 0o007) a.add({ severity: 'error', code: 'key-permissions', role, file, detail: `${side.keySetting} ${file} has mode ${summary.mode}: every user of this host can read the private key`, hint: `chmod 0600 ${file} (owner: the etcd user)` })
    else if (mode & 0o070) a.add({ severity: 'warning', code: 'key-permissions', role, file, detail: `${side.keySetting} ${file} has mode ${summary.mode}: group members can read the private key`, hint: `chmod 0600 ${file} unless the group holds only the etcd user` })
  } catch (e) {
    const err = e as NodeJS.ErrnoException
    if (err.code === 'EACCES') a.add({ severity: 'warning', code: 'key-unreadable', role, file, detail: `${side.keySetting} ${file} cannot be reached (EACCES), so its mode and its match with the certificate were not checked`, hint: 'run as root or as the etcd user' })
    else a.add({ severity: 'error', code: 'key-missing', role, file, detail: `${side.keySetting} ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`, hint: `fix ${side.keySetting}` })
    return undefined
  }
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    const err = e as NodeJS.ErrnoException
    a.add({ severity: 'warning', code: 'key-unreadable', role, file, detail: `${side.keySetting} ${file} cannot be read (${err.code ?? err.message}), so it was not matched with its certificate`, hint: 'run as root or as the etcd user' })
    return undefined
  }
  const blocks = splitPem(text).filter((b) => b.label.endsWith('PRIVATE KEY'))
  if (blocks.length === 0) {
    a.add({ severity: 'error', code: 'key-invalid', role, file, detail: `${side.keySetting} ${file} holds no PEM private key`, hint: 'point it at the PEM private key (-----BEGIN ... PRIVATE KEY-----)' })
    return undefined
  }
  if (blocks[0]!.label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type: *4,ENCRYPTED/.test(text)) {
    a.add({ severity: 'error', code: 'key-encrypted', role, file, detail: `${side.keySetting} ${file} is passphrase-protected: etcd cannot load it`, hint: 'store it unencrypted with mode 0600 (openssl pkey -in key -out key.plain)' })
    return undefined
  }
  let k: KeyObject
  try {
    k = createPrivateKey(text)
  } catch (e) {
    a.add({ severity: 'error', code: 'key-invalid', role, file, detail: `${side.keySetting} ${file} does not parse: ${(e as Error).message}`, hint: 'point it at the certificate\'s PEM private key' })
    return undefined
  }
  if (leaf) {
    summary.matches = leaf.x.checkPrivateKey(k)
    if (!summary.matches) a.add({ severity: 'error', code: 'key-mismatch', role, file, detail: `${side.keySetting} ${file} (${keyDesc(k)}) is not the private key of ${side.certSetting} ${leaf.summary.file} (${leaf.summary.publicKey}): etcd will not start ("tls: private key does not match public key")`, hint: 'pair each certificate with the key its CSR was made from' })
  }
  return k
}

/** Point 4: the CA's private key must not be on the member (configured key files and the TLS directories). */
function caKeyScan(a: Audit, cas: LoadedCert[], files: string[]): void {
  if (cas.length === 0) return
  const caKeys = new Map(cas.map((c) => [spki(c.x.publicKey), c]))
  const candidates = new Set<string>()
  for (const f of files) candidates.add(resolve(f))
  for (const d of new Set(files.map((f) => dirname(resolve(f))))) {
    let names: string[] = []
    try {
      names = readdirSync(d).slice(0, MAX_SCAN_FILES)
    } catch {
      continue
    }
    for (const n of names) candidates.add(join(d, n))
  }
  const found = new Set<string>()
  for (const f of candidates) {
    try {
      const st = statSync(f)
      if (!st.isFile() || st.size > MAX_SCAN_BYTES) continue
      const text = readFileSync(f, 'utf8')
      if (!text.includes('PRIVATE KEY-----')) continue
      for (const b of splitPem(text)) {
        if (!b.label.endsWith('PRIVATE KEY') || b.label.startsWith('ENCRYPTED')) continue
        const pub = spki(createPublicKey(createPrivateKey({ key: Buffer.from(b.der), format: 'der', type: b.label === 'PRIVATE KEY' ? 'pkcs8' : b.label === 'EC PRIVATE KEY' ? 'sec1' : 'pkcs1' })))
        const ca = caKeys.get(pub)
        if (ca && !found.has(f)) {
          found.add(f)
          a.add({ severity: 'error', code: 'ca-key-present', role: ca.summary.role, file: f, detail: `${f} is the private key of the CA "${ca.summary.subject}" (${ca.summary.file}): whoever takes this member can issue certificates the whole cluster trusts`, hint: 'move the CA key off the member (keep it offline with the CA) and keep only ca.pem here' })
        }
      }
    } catch {
      // Unreadable or not a key: nothing to report, the scan only looks for the CA key.
    }
  }
}

/** ETCD_* settings: the config's, overridden by flags. */
function settingsFrom(opts: CertsOptions): Map<string, string> {
  const s = opts.configPath ? new Map(readConfig(opts.configPath, opts.configFormat).settings) : new Map<string, string>()
  for (const [k, v] of opts.flags ?? []) s.set(k, v)
  return s
}

function sidesFrom(s: Map<string, string>, client: CertsOptions['client']): Side[] {
  // ETCD_INITIAL_CLUSTER lists name=peerURL pairs; the URLs are what this member dials at bootstrap.
  const urls = (...keys: string[]): { setting: string; url: string }[] => keys.flatMap((k) => splitUrls(s.get(k)).map((u) => ({ setting: k, url: k === 'ETCD_INITIAL_CLUSTER' ? u.slice(u.indexOf('=') + 1) : u })))
  const sides: Side[] = [
    {
      role: 'server', certSetting: 'ETCD_CERT_FILE', keySetting: 'ETCD_KEY_FILE', caSetting: 'ETCD_TRUSTED_CA_FILE', caRole: 'trusted-ca',
      certFile: s.get('ETCD_CERT_FILE') || undefined, keyFile: s.get('ETCD_KEY_FILE') || undefined, caFile: s.get('ETCD_TRUSTED_CA_FILE') || undefined,
      advertised: splitUrls(s.get('ETCD_ADVERTISE_CLIENT_URLS')), urls: urls('ETCD_LISTEN_CLIENT_URLS', 'ETCD_ADVERTISE_CLIENT_URLS'),
      certAuth: { setting: 'ETCD_CLIENT_CERT_AUTH', on: goBool(s.get('ETCD_CLIENT_CERT_AUTH')) }, autoTls: goBool(s.get('ETCD_AUTO_TLS')),
    },
    {
      role: 'peer', certSetting: 'ETCD_PEER_CERT_FILE', keySetting: 'ETCD_PEER_KEY_FILE', caSetting: 'ETCD_PEER_TRUSTED_CA_FILE', caRole: 'peer-trusted-ca',
      certFile: s.get('ETCD_PEER_CERT_FILE') || undefined, keyFile: s.get('ETCD_PEER_KEY_FILE') || undefined, caFile: s.get('ETCD_PEER_TRUSTED_CA_FILE') || undefined,
      advertised: splitUrls(s.get('ETCD_INITIAL_ADVERTISE_PEER_URLS')), urls: urls('ETCD_LISTEN_PEER_URLS', 'ETCD_INITIAL_ADVERTISE_PEER_URLS', 'ETCD_INITIAL_CLUSTER'),
      certAuth: { setting: 'ETCD_PEER_CLIENT_CERT_AUTH', on: goBool(s.get('ETCD_PEER_CLIENT_CERT_AUTH')) }, autoTls: goBool(s.get('ETCD_PEER_AUTO_TLS')),
    },
  ]
  if (client?.cert || client?.key) {
    sides.push({
      role: 'client', certSetting: '--cert', keySetting: '--key', caSetting: client.cacert ? '--cacert' : 'ETCD_TRUSTED_CA_FILE', caRole: client.cacert ? 'client-ca' : 'trusted-ca',
      certFile: client.cert, keyFile: client.key, caFile: client.cacert ?? (s.get('ETCD_TRUSTED_CA_FILE') || undefined), advertised: [], urls: [], autoTls: false,
    })
  }
  return sides
}

/** Point 6: client-cert-auth when TLS is on, https wherever a side has certificates, files for https URLs. */
function config(a: Audit, side: Side): void {
  if (side.role === 'client') return
  const label = side.role === 'server' ? 'client' : 'peer'
  if (side.certFile) {
    if (side.certAuth && !side.certAuth.on) {
      a.add(side.role === 'server'
        ? { severity: 'warning', code: 'client-cert-auth-off', role: 'server', detail: `client TLS is on but ${side.certAuth.setting} is not true: any client that can reach the port connects without a certificate`, hint: 'set ETCD_CLIENT_CERT_AUTH=true (--client-cert-auth), unless etcd\'s own users and roles are the only guard you want' }
        : { severity: 'error', code: 'peer-client-cert-auth-off', role: 'peer', detail: `peer TLS is on but ${side.certAuth.setting} is not true: anything that reaches the peer port can talk raft to this member`, hint: 'set ETCD_PEER_CLIENT_CERT_AUTH=true (--peer-client-cert-auth)' })
    }
    if (side.certAuth?.on && !side.caFile) {
      a.add({ severity: 'error', code: 'trusted-ca-missing', role: side.role, detail: `${side.certAuth.setting} is on but ${side.caSetting} is not set: etcd cannot verify ${label} certificates`, hint: `set ${side.caSetting} to the cluster's CA bundle` })
    }
    for (const { setting, url } of side.urls) {
      if (url.startsWith('http:')) a.add({ severity: 'error', code: 'url-not-https', role: side.role, detail: `${setting} ${url} is plain http while ${side.certSetting} is set: etcd ignores the ${label} certificate on it ("The scheme of ${label} url ${url} is HTTP while ${label === 'peer' ? 'peer ' : ''}key/cert files are presented. Ignored ${label === 'peer' ? 'peer ' : ''}key/cert files.")`, hint: `use https://${url.slice('http://'.length)}` })
    }
  } else if (!side.autoTls) {
    for (const { setting, url } of side.urls) {
      if (url.startsWith('https:')) a.add({ severity: 'error', code: 'tls-files-missing', role: side.role, detail: `${setting} ${url} is https but ${side.certSetting} is not set: etcd refuses to start`, hint: `set ${side.certSetting} and ${side.keySetting} (and ${side.caSetting})` })
    }
  }
}

/** Runs the audit. Throws UsageError when there is nothing to audit, ClusterError when --endpoints cannot be reached. */
export async function auditCerts(opts: CertsOptions): Promise<CertsResult> {
  const now = opts.now ?? new Date()
  const warnDays = opts.warnDays ?? 30
  const a = new Audit(now, warnDays)
  const s = settingsFrom(opts)
  const sides = sidesFrom(s, opts.client)
  if (!sides.some((x) => x.certFile || x.keyFile || x.caFile || x.urls.length > 0)) {
    throw new UsageError('nothing to audit: no TLS files and no URLs', 'pass --config <env file or unit>, etcd\'s --cert-file/--key-file/--trusted-ca-file/--peer-*, or --cert/--key')
  }
  const leaves = new Map<Side['role'], LoadedCert>()
  const casBySide = new Map<Side['role'], LoadedCert[]>()
  const allCas: LoadedCert[] = []
  for (const side of sides) {
    config(a, side)
    const cas = side.caFile ? a.certs(side.caFile, side.caRole, side.caSetting) ?? [] : []
    casBySide.set(side.role, cas)
    for (const c of cas) {
      if (!allCas.some((x) => x.summary.fingerprint256 === c.summary.fingerprint256)) allCas.push(c)
      a.time(c)
      a.strength(c)
    }
    if (!side.certFile) {
      if (side.keyFile) a.add({ severity: 'error', code: 'cert-missing', role: side.role, file: side.keyFile, detail: `${side.keySetting} is set but ${side.certSetting} is not`, hint: `set ${side.certSetting}` })
      continue
    }
    const chainCerts = a.certs(side.certFile, side.role, side.certSetting)
    const leaf = chainCerts?.[0]
    if (leaf) {
      leaves.set(side.role, leaf)
      const extras = chainCerts!.slice(1)
      for (const c of chainCerts!) {
        a.time(c)
        a.strength(c)
      }
      if (side.caFile && cas.length > 0) chain(a, leaf, [...extras, ...cas], cas, side.caSetting, side.caFile)
      else if (!side.caFile) a.add({ severity: 'warning', code: 'trusted-ca-missing', role: side.role, file: side.certFile, detail: `${side.certSetting} is set but ${side.caSetting} is not: the chain was not checked`, hint: `set ${side.caSetting}${side.role === 'client' ? ' (or pass --cacert)' : ''}` })
      usages(a, leaf, side)
      if (side.role !== 'client') names(a, leaf, side.role, side.advertised.map((url) => ({ url, source: side.role === 'server' ? 'ETCD_ADVERTISE_CLIENT_URLS' : 'ETCD_INITIAL_ADVERTISE_PEER_URLS' })), 'error')
    }
    keyFile(a, side, leaf)
  }
  const usedFiles = sides.flatMap((x) => [x.certFile, x.keyFile, x.caFile]).filter((f): f is string => !!f)
  caKeyScan(a, allCas, usedFiles)
  if (!sides.some((x) => x.certFile) && !sides.some((x) => x.autoTls) && !a.findings.some((f) => f.code === 'tls-files-missing')) {
    a.add({ severity: 'warning', code: 'tls-off', detail: 'the member uses no TLS: client and peer traffic, including every value, is plain text and unauthenticated', hint: 'build the TLS set (CA, server, peer, client certificates) and switch the URLs to https' })
  }

  let live: LiveCheck[] | null = null
  if (opts.connection) live = await liveChecks(a, opts.connection, s, sides, leaves, casBySide)

  const counts = { errors: 0, warnings: 0, info: 0 }
  for (const f of a.findings) {
    if (f.severity === 'error') counts.errors++
    else if (f.severity === 'warning') counts.warnings++
    else counts.info++
  }
  return {
    config: opts.configPath ?? null, now: now.toISOString(), warnDays,
    certificates: a.certificates, keys: a.keys, live, findings: a.findings, counts,
    verdict: counts.errors > 0 ? 'ERRORS' : counts.warnings > 0 ? 'WARNINGS' : 'OK',
  }
}

/** Points 2 (live URLs) and 7: every live member's URLs and presented certificates. */
async function liveChecks(a: Audit, conn: ConnectionOptions, s: Map<string, string>, sides: Side[], leaves: Map<Side['role'], LoadedCert>, casBySide: Map<Side['role'], LoadedCert[]>): Promise<LiveCheck[]> {
  const { withClients } = await import('../cluster/connection.js')
  const { memberList, sameUrl } = await import('../cluster/members.js')
  const { fetchPresentedCert } = await import('../cluster/presented-cert.js')
  const { ClusterError } = await import('../errors.js')
  const list = await withClients(conn, async (f) => {
    let last: unknown
    for (const c of f.configured()) {
      try {
        return await memberList(c)
      } catch (e) {
        last = e
      }
    }
    throw last instanceof ClusterError ? last : new ClusterError(`no endpoint answered MemberList: ${(last as Error)?.message}`, 'unreachable')
  })
  const server = leaves.get('server')
  const peer = leaves.get('peer')
  const ownPeer = splitUrls(s.get('ETCD_INITIAL_ADVERTISE_PEER_URLS'))
  const ownName = s.get('ETCD_NAME')
  const others = list.members.filter((m) => !(m.peerURLs.some((u) => ownPeer.some((p) => sameUrl(u, p))) || (ownName && m.name === ownName)))
  if (server) names(a, server, 'server', others.flatMap((m) => m.clientURLs.map((url) => ({ url, source: `member ${m.name || m.idHex}` }))), 'warning')
  if (peer) names(a, peer, 'peer', others.flatMap((m) => m.peerURLs.map((url) => ({ url, source: `member ${m.name || m.idHex}` }))), 'warning')

  const read = (f: string | undefined): Buffer | undefined => {
    try {
      return f ? readFileSync(f) : undefined
    } catch {
      return undefined
    }
  }
  const sideOf = (r: Side['role']): Side | undefined => sides.find((x) => x.role === r)
  const clientSide = sideOf('client') ?? sideOf('server')
  const peerSide = sideOf('peer')
  const clientMaterial = { ca: read(clientSide?.caFile), cert: read(clientSide?.certFile), key: read(clientSide?.keyFile) }
  const peerMaterial = { ca: read(peerSide?.caFile), cert: read(peerSide?.certFile), key: read(peerSide?.keyFile) }
  const timeout = conn.dialTimeoutMs + conn.commandTimeoutMs
  const jobs = list.members.flatMap((m) => [
    ...m.clientURLs.filter((u) => u.startsWith('https:')).map((url) => ({ m, url, side: 'client' as const })),
    ...m.peerURLs.filter((u) => u.startsWith('https:')).map((url) => ({ m, url, side: 'peer' as const })),
  ])
  const got = await Promise.all(jobs.map((j) => fetchPresentedCert(j.url, j.side === 'client' ? clientMaterial : peerMaterial, timeout)))
  return jobs.map((j, i) => {
    const p = got[i]!
    const self = !others.includes(j.m)
    const disk = j.side === 'client' ? server : peer
    const setting = j.side === 'client' ? 'ETCD_CERT_FILE' : 'ETCD_PEER_CERT_FILE'
    const row: LiveCheck = { memberIdHex: j.m.idHex, name: j.m.name, url: j.url, side: j.side, self, presentedSerial: null, presentedNotAfter: null, matches: null, error: p.error ?? null }
    const who = `member ${j.m.name || j.m.idHex} at ${j.url}`
    if (!p.cert) {
      a.add({ severity: 'warning', code: 'live-unreachable', role: j.side === 'client' ? 'server' : 'peer', detail: `${who}: no certificate fetched (${p.error})`, hint: 'check that the member runs and the URL is reachable from here' })
      return row
    }
    row.presentedSerial = p.cert.serialNumber.toLowerCase()
    row.presentedNotAfter = iso(p.cert.validTo)
    const role: CertRole = j.side === 'client' ? 'server' : 'peer'
    if (new Date(p.cert.validTo) < a.now) a.add({ severity: 'error', code: 'live-cert-expired', role, detail: `${who} presents a certificate (serial ${row.presentedSerial}) that expired on ${row.presentedNotAfter}`, hint: 'renew it on that member' })
    const anchors = (j.side === 'client' ? casBySide.get(clientSide?.role ?? 'server') : casBySide.get('peer')) ?? []
    if (anchors.length > 0 && !anchors.some((c) => p.cert!.issuer === c.x.subject && p.cert!.verify(c.x.publicKey)) && !anchors.some((c) => c.x.fingerprint256 === p.cert!.fingerprint256)) {
      a.add({ severity: 'error', code: 'live-cert-untrusted', role, detail: `${who} presents a certificate issued by "${p.cert.issuer.replace(/\n/g, ', ')}", which the CA files here do not verify`, hint: 'members and clients of one cluster need certificates from the same CA' })
    }
    if (!disk) return row
    row.matches = p.cert.fingerprint256 === disk.summary.fingerprint256
    if (row.matches) return row
    const pres = `serial ${row.presentedSerial}, valid until ${row.presentedNotAfter}`
    const ondisk = `serial ${disk.summary.serial}, valid until ${disk.summary.notAfter}`
    if (self) {
      a.add({ severity: 'warning', code: 'live-cert-not-loaded', role, file: disk.summary.file, detail: `${who} (this member) presents ${pres}, but ${setting} ${disk.summary.file} holds ${ondisk}: the running etcd serves other files than this config names (etcd 3.4 re-reads its own files on every handshake)`, hint: 'restart etcd with this config to load the new certificate' })
    } else if (new Date(p.cert.validFrom) < new Date(disk.summary.notBefore) && p.cert.subject === disk.x.subject) {
      a.add({ severity: 'warning', code: 'live-cert-stale', role, file: disk.summary.file, detail: `${who} presents an older certificate for the same subject (${pres}) than ${setting} ${disk.summary.file} here (${ondisk}): the rotation has not reached that member`, hint: 'copy the new certificate and key to that member (and restart it if its config names other files)' })
    } else {
      a.add({ severity: 'info', code: 'live-cert-differs', role, detail: `${who} presents its own certificate (${pres}), not ${setting} ${disk.summary.file} (${ondisk})`, hint: 'expected when each member has its own certificate' })
    }
    return row
  })
}
