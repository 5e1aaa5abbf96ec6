/**
 * A private CA for tests, made with openssl the way the cfssl workflow of a production etcd
 * cluster does it: a CA, a server certificate (serverAuth + clientAuth), a peer certificate
 * (serverAuth + clientAuth) and a client certificate (clientAuth). EC P-256 keys, so a full set
 * takes a few openssl runs. The default CA is made once per test process and cached.
 *
 *   const tls = await makeTls()                          // TlsFiles for startEtcd/startCluster/etcdctl
 *   const bad = await makeTls({ ca: await newCa('other') })   // same shape, unrelated CA
 *   const old = await issueCert(await defaultCa(), 'client', { expired: true })
 *   const noIp = await makeTls({ omitIps: ['127.0.0.3'] })     // server/peer certs without that IP SAN
 */
import { execFile } from 'node:child_process'
import { writeFileSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { TlsFiles } from './etcd.js'
import { execText } from './exec.js'
import { processTemp } from './temp.js'

const execFileP = promisify(execFile)
export const OPENSSL_BIN = process.env.OPENSSL_BIN ?? 'openssl'

/** IP SANs by default: 127.0.0.1 … 127.0.0.9 (the harness' member addresses). */
export const DEFAULT_IPS = Array.from({ length: 9 }, (_, i) => `127.0.0.${i + 1}`)
export const DEFAULT_DNS = ['localhost']

export type Profile = 'server' | 'peer' | 'client'

export interface Ca {
  name: string
  dir: string
  cert: string
  key: string
}

export interface CertFiles {
  cert: string
  key: string
}

export interface CertOptions {
  /** Common name; default: the profile name (the etcd user name for a client cert under auth). */
  cn?: string
  /** IP SANs (server and peer profiles); default DEFAULT_IPS. */
  ips?: string[]
  /** IPs to leave out of `ips` (e.g. a server cert missing its own address). */
  omitIps?: string[]
  /** DNS SANs; default DEFAULT_DNS. */
  dns?: string[]
  /** Make a certificate whose validity ended in the past (2020-01-01 … 2020-01-02). */
  expired?: boolean
  /** Validity in days for a normal certificate; default 2. */
  days?: number
  /** Output directory; default a fresh temp dir. */
  dir?: string
  /** Base name of the files; default the profile name. */
  basename?: string
  /** extendedKeyUsage value; default the profile's (server/peer: serverAuth,clientAuth; client: clientAuth). */
  eku?: string
  /** keyUsage value, or null for none; default critical,digitalSignature,keyEncipherment. */
  keyUsage?: string | null
  /** Key algorithm; default ec-p256. */
  keyAlg?: KeyAlg
  /** Validity as openssl `ca` dates (YYYYMMDDHHMMSSZ), e.g. a certificate not valid yet. */
  startDate?: string
  endDate?: string
  /** Extra extension lines, e.g. `basicConstraints = critical,CA:TRUE`. */
  extraExt?: string[]
}

/** Key algorithms the helpers can make (openssl -newkey arguments below). */
export type KeyAlg = 'ec-p256' | 'ec-p384' | 'ec-p224' | 'rsa-2048' | 'rsa-1024'

export interface CaOptions {
  /** Default ec-p256. */
  keyAlg?: KeyAlg
  /** Sign with this CA instead of self-signing (an intermediate). */
  parent?: Ca
  /** Default critical,CA:TRUE. */
  basicConstraints?: string
  /** Default critical,keyCertSign,cRLSign,digitalSignature. */
  keyUsage?: string
  /** Validity in days; default 30. */
  days?: number
}

export interface TlsOptions {
  /** Signing CA; default the per-process default CA. */
  ca?: Ca
  ips?: string[]
  omitIps?: string[]
  dns?: string[]
  /** Which certificates to make expired; default none. */
  expired?: Profile[]
  dir?: string
}

export interface TlsSet extends TlsFiles {
  dir: string
  caKey: string
  caName: string
}

let defaultCaP: Promise<Ca> | undefined
/**
 * CAs and certificates under `<tmp>/etcd-inspect-tls-p<pid>-XXXXXX/`; KEEP_TLS_TMP keeps them. The
 * default CA is made anew after a removal.
 */
const temps = processTemp('etcd-inspect-tls-p', { keepEnv: 'KEEP_TLS_TMP', onRemove: () => { defaultCaP = undefined } })

function openssl(args: string[], cwd?: string): Promise<string> {
  return execText(OPENSSL_BIN, args, { cwd, maxBuffer: 16 << 20 }, `openssl ${args.join(' ')}`)
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
const NEWKEY: Record<KeyAlg, string[]> = {
  'ec-p256': EC,
  'ec-p384': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-nodes'],
  'ec-p224': ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-224', '-nodes'],
  'rsa-2048': ['-newkey', 'rsa:2048', '-nodes'],
  'rsa-1024': ['-newkey', 'rsa:1024', '-nodes'],
}

/** A new, self-signed CA (unrelated to any other), or with `o.parent` an intermediate CA. */
export async function newCa(name = 'etcd-inspect-test-ca', dir = temps.dir('ca-'), o: CaOptions = {}): Promise<Ca> {
  mkdirSync(dir, { recursive: true })
  const cert = join(dir, 'ca.pem')
  const key = join(dir, 'ca-key.pem')
  const exts = [
    `basicConstraints=${o.basicConstraints ?? 'critical,CA:TRUE'}`,
    `keyUsage=${o.keyUsage ?? 'critical,keyCertSign,cRLSign,digitalSignature'}`,
    'subjectKeyIdentifier=hash',
  ]
  const subj = ['-subj', `/O=etcd-inspect tests/CN=${name}`]
  if (!o.parent) {
    await openssl(['req', '-x509', ...NEWKEY[o.keyAlg ?? 'ec-p256'], '-keyout', key, '-out', cert, '-days', String(o.days ?? 30), '-sha256', ...subj, ...exts.flatMap((e) => ['-addext', e])])
  } else {
    const csr = join(dir, 'ca.csr')
    const ext = join(dir, 'ca.ext.cnf')
    writeFileSync(ext, ['[ext]', ...exts, 'authorityKeyIdentifier=keyid', ''].join('\n'))
    await openssl(['req', '-new', ...NEWKEY[o.keyAlg ?? 'ec-p256'], '-keyout', key, '-out', csr, ...subj])
    serial += 1n
    await openssl(['x509', '-req', '-in', csr, '-CA', o.parent.cert, '-CAkey', o.parent.key, '-set_serial', `0x${serial.toString(16)}`, '-days', String(o.days ?? 30), '-sha256', '-extfile', ext, '-extensions', 'ext', '-out', cert])
    rmSync(csr, { force: true })
  }
  return { name, dir, cert, key }
}

/** The CA shared by every makeTls() call of this test process. */
export function defaultCa(): Promise<Ca> {
  defaultCaP ??= newCa()
  return defaultCaP
}

function extensions(profile: Profile, o: CertOptions): string {
  const eku = o.eku ?? (profile === 'client' ? 'clientAuth' : 'serverAuth,clientAuth')
  const lines = [
    '[ext]',
    ...(o.extraExt?.some((l) => l.startsWith('basicConstraints')) ? [] : ['basicConstraints = critical,CA:FALSE']),
    ...(o.keyUsage === null ? [] : [`keyUsage = ${o.keyUsage ?? 'critical,digitalSignature,keyEncipherment'}`]),
    ...(eku ? [`extendedKeyUsage = ${eku}`] : []),
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid',
    ...(o.extraExt ?? []),
  ]
  if (profile !== 'client') {
    const omit = new Set(o.omitIps ?? [])
    const ips = (o.ips ?? DEFAULT_IPS).filter((ip) => !omit.has(ip))
    const dns = o.dns ?? DEFAULT_DNS
    const sans = [...ips.map((ip) => `IP:${ip}`), ...dns.map((d) => `DNS:${d}`)]
    if (sans.length) lines.push(`subjectAltName = ${sans.join(',')}`)
  }
  return lines.join('\n') + '\n'
}

let serial = BigInt(Date.now()) * 1000n + BigInt(process.pid % 1000)

/** Issues one certificate (cfssl-like profile) signed by `ca`; returns the PEM paths. */
export async function issueCert(ca: Ca, profile: Profile, o: CertOptions = {}): Promise<CertFiles> {
  const dir = o.dir ?? temps.dir('cert-')
  mkdirSync(dir, { recursive: true })
  const base = o.basename ?? profile
  const cert = join(dir, `${base}.pem`)
  const key = join(dir, `${base}-key.pem`)
  const csr = join(dir, `${base}.csr`)
  const ext = join(dir, `${base}.ext.cnf`)
  writeFileSync(ext, extensions(profile, o))
  const cn = o.cn ?? profile
  await openssl(['req', '-new', ...NEWKEY[o.keyAlg ?? 'ec-p256'], '-keyout', key, '-out', csr, '-subj', `/O=etcd-inspect tests/CN=${cn}`])
  serial += 1n
  if (!o.expired && !o.startDate && !o.endDate) {
    await openssl([
      'x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${serial.toString(16)}`,
      '-days', String(o.days ?? 2), '-sha256', '-extfile', ext, '-extensions', 'ext', '-out', cert,
    ])
  } else {
    // `openssl x509` cannot set dates in the past; `openssl ca` can (-startdate/-enddate).
    const db = join(dir, `${base}.ca-db`)
    mkdirSync(join(db, 'new'), { recursive: true })
    writeFileSync(join(db, 'index.txt'), '')
    writeFileSync(join(db, 'serial'), serial.toString(16).padStart(16, '0') + '\n')
    const cfg = join(db, 'ca.cnf')
    writeFileSync(cfg, [
      '[ca]', 'default_ca = d',
      '[d]', `database = ${join(db, 'index.txt')}`, `new_certs_dir = ${join(db, 'new')}`, `serial = ${join(db, 'serial')}`,
      'default_md = sha256', 'policy = p', 'unique_subject = no', 'email_in_dn = no',
      '[p]', 'organizationName = optional', 'commonName = supplied', '',
    ].join('\n'))
    await openssl([
      'ca', '-batch', '-notext', '-config', cfg, '-cert', ca.cert, '-keyfile', ca.key, '-in', csr, '-out', cert,
      '-startdate', o.startDate ?? '20200101000000Z', '-enddate', o.endDate ?? '20200102000000Z', '-extfile', ext, '-extensions', 'ext',
    ])
  }
  rmSync(csr, { force: true })
  return { cert, key }
}

/**
 * A full set for startEtcd/startCluster({ tls }) and etcdctl: CA, server, peer and client
 * certificates (and keys) in one temp dir, all signed by `o.ca` (default: the cached default CA).
 */
export async function makeTls(o: TlsOptions = {}): Promise<TlsSet> {
  const ca = o.ca ?? (await defaultCa())
  const dir = o.dir ?? temps.dir('tls-')
  const expired = new Set(o.expired ?? [])
  const common = { dir, ips: o.ips, omitIps: o.omitIps, dns: o.dns }
  const [server, peer, client] = await Promise.all((['server', 'peer', 'client'] as const).map((p) =>
    issueCert(ca, p, { ...common, expired: expired.has(p) })))
  return {
    dir, ca: ca.cert, caKey: ca.key, caName: ca.name,
    serverCert: server!.cert, serverKey: server!.key,
    peerCert: peer!.cert, peerKey: peer!.key,
    clientCert: client!.cert, clientKey: client!.key,
  }
}

/** `openssl x509 -checkend <seconds>`: true when the certificate is still valid `seconds` from now. */
export async function validFor(certPath: string, seconds = 0): Promise<boolean> {
  try {
    await execFileP(OPENSSL_BIN, ['x509', '-in', certPath, '-noout', '-checkend', String(seconds)])
    return true
  } catch (err) {
    if ((err as { code?: number }).code === 1) return false
    throw err
  }
}

/** The IP and DNS SANs of a certificate, as openssl prints them (e.g. `IP Address:127.0.0.1`). */
export async function subjectAltNames(certPath: string): Promise<string[]> {
  const out = await openssl(['x509', '-in', certPath, '-noout', '-ext', 'subjectAltName'])
  return out.split('\n').slice(1).join(',').split(',').map((s) => s.trim()).filter(Boolean)
}
