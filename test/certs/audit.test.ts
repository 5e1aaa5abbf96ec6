/**
 * `auditCerts` on member TLS sets made with openssl: the runbook's cfssl profiles as the clean
 * case, then one set per defect of issue 16, each with the finding it must give.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { appendFileSync, chmodSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { auditCerts, ETCD34_GATEWAY_REJECT_LINE, type CertsResult } from '../../src/app/certs.js'
import { newCa, issueCert, type Ca } from '../support/tls.js'
import { tempDir } from '../support/etcd.js'
import { member, runbookCa, writeEnv, HOSTS, type Member } from './pki.js'

let ca: Ca
let clean: Member

const codes = (r: CertsResult): string[] => r.findings.map((f) => `${f.severity}:${f.code}`).sort()
const audit = (m: Member, extra: Partial<Parameters<typeof auditCerts>[0]> = {}): Promise<CertsResult> =>
  auditCerts({ configPath: m.env, client: { cert: m.client.cert, key: m.client.key, cacert: m.ca }, ...extra })
const only = (r: CertsResult, code: string) => r.findings.filter((f) => f.code === code)

beforeAll(async () => {
  ca = await runbookCa()
  clean = await member({ ca })
})

describe('the runbook set (cfssl profiles reproduced with openssl)', () => {
  it('is clean: verdict OK, no findings, RSA 2048 CA and P-256 leaves with the profiles\' usages', async () => {
    const r = await audit(clean)
    expect(r.findings).toEqual([])
    expect(r.verdict).toBe('OK')
    const byRole = Object.fromEntries(r.certificates.map((c) => [c.role, c]))
    expect(byRole['trusted-ca']).toMatchObject({ publicKey: 'rsa 2048', isCa: true, keyUsage: ['keyCertSign', 'cRLSign'] })
    expect(byRole.server).toMatchObject({ publicKey: 'ec P-256', isCa: false, keyUsage: ['digitalSignature', 'keyEncipherment'], extKeyUsage: ['serverAuth', 'clientAuth'] })
    expect(byRole.peer).toMatchObject({ publicKey: 'ec P-256', extKeyUsage: ['serverAuth', 'clientAuth'] })
    expect(byRole.client).toMatchObject({ publicKey: 'ec P-256', keyUsage: ['digitalSignature', 'keyEncipherment'], extKeyUsage: ['clientAuth'] })
    expect(byRole.server!.sans).toEqual([...HOSTS.map((h) => `IP:${h}`), 'DNS:localhost'])
    expect(r.keys.map((k) => [k.role, k.mode, k.matches])).toEqual([['server', '0600', true], ['peer', '0600', true], ['client', '0600', true]])
  })

  it('reads the same settings from a systemd unit', async () => {
    const unit = join(tempDir('certs-unit-'), 'etcd.service')
    const flags = Object.entries(clean.settings).map(([k, v]) => `  --${k.slice(5).toLowerCase().replace(/_/g, '-')}=${v}`)
    writeFileSync(unit, ['[Unit]', 'Description=etcd', '', '[Service]', 'ExecStart=/usr/bin/etcd \\', flags.join(' \\\n'), ''].join('\n'))
    const r = await auditCerts({ configPath: unit })
    expect(r.findings).toEqual([])
    expect(r.certificates.map((c) => c.role)).toEqual(['trusted-ca', 'server', 'peer-trusted-ca', 'peer'])
  })

  it('etcd flag names override the config', async () => {
    const other = await member({ ca, server: { eku: 'serverAuth' } })
    const r = await auditCerts({ configPath: clean.env, flags: new Map([['ETCD_CERT_FILE', other.server.cert], ['ETCD_KEY_FILE', other.server.key]]) })
    expect(codes(r)).toEqual(['error:eku-client-auth-missing'])
    expect(r.certificates.find((c) => c.role === 'server')!.file).toBe(other.server.cert)
  })
})

describe('1. chain', () => {
  it('a server certificate from another CA does not verify against the CA bundle', async () => {
    const foreign = await member({ ca: await newCa('another-ca', tempDir('certs-ca-'), { days: 1825 }) })
    const m = await member({ ca })
    copyFileSync(foreign.server.cert, m.server.cert)
    copyFileSync(foreign.server.key, m.server.key)
    const r = await audit(m)
    expect(codes(r)).toEqual(['error:chain-untrusted'])
    expect(only(r, 'chain-untrusted')[0]!.detail).toContain(`its issuer "O=etcd-inspect tests, CN=another-ca", which is neither in ${m.server.cert} nor in ${m.ca}`)
  })

  it('a CA without CA:TRUE, and one without keyCertSign, is not a CA', async () => {
    const notCa = await newCa('not-a-ca', tempDir('certs-ca-'), { keyAlg: 'rsa-2048', basicConstraints: 'critical,CA:FALSE', keyUsage: 'critical,keyCertSign,cRLSign', days: 1825 })
    const r = await audit(await member({ ca: notCa }))
    // ETCD_TRUSTED_CA_FILE and ETCD_PEER_TRUSTED_CA_FILE name the same file: one finding.
    expect(codes(r)).toEqual(['error:ca-not-ca'])
    expect(only(r, 'ca-not-ca')[0]!.detail).toContain('basicConstraints CA:FALSE')
    const noSign = await newCa('no-keycertsign', tempDir('certs-ca-'), { keyAlg: 'rsa-2048', keyUsage: 'critical,digitalSignature,cRLSign', days: 1825 })
    const r2 = await audit(await member({ ca: noSign }))
    expect(codes(r2)).toEqual(['error:ca-no-keycertsign'])
    expect(only(r2, 'ca-no-keycertsign')[0]!.detail).toContain('keyUsage digitalSignature,cRLSign without keyCertSign')
  })

  it('an intermediate must be in the cert file (or the bundle); appended, the chain verifies', async () => {
    const inter = await newCa('etcd-intermediate', tempDir('certs-ca-'), { parent: ca, days: 1825 })
    const m = await member({ ca: inter })
    copyFileSync(join(ca.cert), m.ca) // the bundle holds the root only
    const r = await audit(m)
    expect(r.findings.map((f) => `${f.role}:${f.code}`)).toEqual(['server:chain-untrusted', 'peer:chain-untrusted', 'client:chain-untrusted'])
    expect(only(r, 'chain-untrusted')[0]!.detail).toContain('issuer "O=etcd-inspect tests, CN=etcd-intermediate", which is neither in')
    expect(only(r, 'chain-untrusted')[0]!.hint).toContain('is an intermediate CA, append it to')
    for (const f of [m.server.cert, m.peer.cert, m.client.cert]) appendFileSync(f, readFileSync(inter.cert))
    const ok = await audit(m)
    expect(ok.findings).toEqual([])
    expect(ok.certificates.filter((c) => c.index === 1).map((c) => c.subject)).toEqual(Array(3).fill('O=etcd-inspect tests, CN=etcd-intermediate'))
  })

  it('an intermediate that is not a CA is reported', async () => {
    const fake = await newCa('fake-intermediate', tempDir('certs-ca-'), { parent: ca, basicConstraints: 'critical,CA:FALSE', days: 1825 })
    const m = await member({ ca: fake })
    copyFileSync(ca.cert, m.ca)
    for (const f of [m.server.cert, m.peer.cert, m.client.cert]) appendFileSync(f, readFileSync(fake.cert))
    const r = await audit(m)
    expect(codes(r)).toEqual(['error:ca-not-ca'])
    expect(only(r, 'ca-not-ca')[0]!.detail).toMatch(/^intermediate certificate .*server\.pem #1 \(O=etcd-inspect tests, CN=fake-intermediate\) is not a CA/)
  })
})

describe('2. names', () => {
  it('the server certificate must cover every advertised client URL host, the peer certificate every peer URL host', async () => {
    const m = await member({ ca, settings: { ETCD_ADVERTISE_CLIENT_URLS: 'https://127.0.0.1:2379,https://etcd-1.example:2379', ETCD_INITIAL_ADVERTISE_PEER_URLS: 'https://127.0.0.7:2380' } })
    const r = await audit(m)
    expect(codes(r)).toEqual(['error:san-missing', 'error:san-missing'])
    const [dns, ip] = only(r, 'san-missing')
    expect(dns).toMatchObject({ role: 'server', file: m.server.cert })
    expect(dns!.detail).toContain('does not cover DNS name etcd-1.example (ETCD_ADVERTISE_CLIENT_URLS https://etcd-1.example:2379)')
    expect(ip).toMatchObject({ role: 'peer', file: m.peer.cert })
    expect(ip!.detail).toContain('does not cover IP 127.0.0.7')
    const withDns = await member({ ca, server: { dns: ['etcd-1.example'] }, settings: { ETCD_ADVERTISE_CLIENT_URLS: 'https://127.0.0.1:2379,https://etcd-1.example:2379' } })
    expect((await audit(withDns)).findings).toEqual([])
  })

  it('a certificate without SANs is refused by Go clients (common name ignored)', async () => {
    const m = await member({ ca, peer: { ips: [], dns: [] } })
    expect(codes(await audit(m))).toEqual(['error:san-none'])
  })
})

describe('3. usages per role', () => {
  it('a server certificate without clientAuth: error with --client-cert-auth, quoting etcd 3.4\'s log line', async () => {
    const m = await member({ ca, server: { eku: 'serverAuth' } })
    const r = await audit(m)
    expect(codes(r)).toEqual(['error:eku-client-auth-missing'])
    expect(only(r, 'eku-client-auth-missing')[0]!.detail).toContain(ETCD34_GATEWAY_REJECT_LINE)
    m.settings.ETCD_CLIENT_CERT_AUTH = 'false'
    writeEnv(m)
    expect(codes(await audit(m))).toEqual(['warning:client-cert-auth-off', 'warning:eku-client-auth-missing'])
  })

  it('a server certificate without serverAuth, a peer certificate without clientAuth, a client certificate without clientAuth', async () => {
    const m = await member({ ca, server: { eku: 'clientAuth' }, peer: { eku: 'serverAuth' }, client: { eku: 'serverAuth' } })
    const r = await audit(m)
    expect(r.findings.map((f) => `${f.role}:${f.code}`)).toEqual(['server:eku-server-auth-missing', 'peer:eku-client-auth-missing', 'client:eku-client-auth-missing'])
  })

  it('key usage: ECDSA without digitalSignature is an error; RSA without keyEncipherment a warning', async () => {
    const m = await member({ ca, peer: { keyUsage: 'critical,keyEncipherment' }, server: { keyAlg: 'rsa-2048', keyUsage: 'critical,digitalSignature' } })
    const r = await audit(m)
    expect(r.findings.map((f) => `${f.severity}:${f.role}:${f.code}`)).toEqual(['warning:server:ku-key-encipherment-missing', 'error:peer:ku-digital-signature-missing'])
  })
})

describe('4. keys', () => {
  it('a key that is not the certificate\'s', async () => {
    const m = await member({ ca })
    copyFileSync(m.peer.key, m.server.key)
    const r = await audit(m)
    expect(codes(r)).toEqual(['error:key-mismatch'])
    expect(r.keys.find((k) => k.role === 'server')!.matches).toBe(false)
  })

  it('weak keys: RSA 1024 and ECDSA P-224', async () => {
    const m = await member({ ca, server: { keyAlg: 'rsa-1024' }, peer: { keyAlg: 'ec-p224' } })
    const r = await audit(m)
    expect(r.findings.map((f) => `${f.role}:${f.code}`)).toEqual(['server:key-weak', 'peer:key-weak'])
    expect(only(r, 'key-weak')[0]!.detail).toContain('1024-bit RSA key (minimum 2048)')
    expect(only(r, 'key-weak')[1]!.detail).toContain('ECDSA key on P-224')
  })

  it('key modes: world-readable is an error, group-readable a warning, 0400 is fine', async () => {
    const m = await member({ ca })
    chmodSync(m.server.key, 0o644)
    chmodSync(m.peer.key, 0o640)
    chmodSync(m.client.key, 0o400)
    const r = await audit(m)
    expect(r.findings.map((f) => `${f.severity}:${f.role}:${f.code}`)).toEqual(['error:server:key-permissions', 'warning:peer:key-permissions'])
    expect(r.keys.map((k) => k.mode)).toEqual(['0644', '0640', '0400'])
  })

  it('the CA\'s private key among the member\'s files', async () => {
    const m = await member({ ca })
    copyFileSync(ca.key, join(m.dir, 'ca-key.pem'))
    const r = await audit(m)
    expect(codes(r)).toEqual(['error:ca-key-present'])
    expect(only(r, 'ca-key-present')[0]!.file).toBe(join(m.dir, 'ca-key.pem'))
  })

  it('a passphrase-protected key', async () => {
    const m = await member({ ca })
    execFileSync('openssl', ['pkey', '-in', m.peer.key, '-out', m.peer.key + '.enc', '-aes256', '-passout', 'pass:secret'])
    copyFileSync(m.peer.key + '.enc', m.peer.key)
    expect(codes(await audit(m))).toEqual(['error:key-encrypted'])
  })
})

describe('5. time', () => {
  it('expired, not yet valid and expiring certificates, with their dates', async () => {
    const m = await member({ ca, server: { expired: true }, peer: { startDate: '20990101000000Z', endDate: '20990201000000Z' }, client: { days: 5 } })
    const r = await audit(m)
    expect(r.findings.map((f) => `${f.severity}:${f.role}:${f.code}`)).toEqual(['error:server:cert-expired', 'error:peer:cert-not-yet-valid', 'warning:client:cert-expiring'])
    expect(only(r, 'cert-expired')[0]!.detail).toContain('expired on 2020-01-02T00:00:00.000Z')
    expect(only(r, 'cert-not-yet-valid')[0]!.detail).toContain('not valid before 2099-01-01T00:00:00.000Z')
    expect(only(r, 'cert-expiring')[0]!.detail).toMatch(/expires on \d{4}-\d\d-\d\dT.*\(in [45] days, within --warn-days 30\)/)
    expect(codes(await audit(m, { warnDays: 3 })).filter((c) => c.includes('expiring'))).toEqual([])
  })

  it('the CA too: expiring within --warn-days, and expired on a later date', async () => {
    const r = await audit(clean, { warnDays: 400 })
    // The leaves are valid 365 days, the CA 1825: only the leaves are within 400 days.
    expect(r.findings.filter((f) => f.code === 'cert-expiring').map((f) => f.role)).toEqual(['server', 'peer', 'client'])
    expect((await audit(clean, { warnDays: 1900 })).findings.filter((f) => f.code === 'cert-expiring').map((f) => f.role)).toEqual(['trusted-ca', 'server', 'peer', 'client'])
    const later = await audit(clean, { now: new Date(Date.now() + 1830 * 86_400_000) })
    expect(later.findings.filter((f) => f.code === 'cert-expired').map((f) => f.role)).toEqual(['trusted-ca', 'server', 'peer', 'client'])
    expect(only(later, 'cert-expired')[0]!.detail).toContain(`expired on ${later.certificates[0]!.notAfter}`)
  })
})

describe('6. config', () => {
  it('client-cert-auth off is a warning, peer-client-cert-auth off an error', async () => {
    const m = await member({ ca, settings: { ETCD_CLIENT_CERT_AUTH: '', ETCD_PEER_CLIENT_CERT_AUTH: 'false' } })
    const r = await audit(m)
    expect(codes(r)).toEqual(['error:peer-client-cert-auth-off', 'warning:client-cert-auth-off'])
  })

  it('http URLs on a side with certificates; https URLs without certificates', async () => {
    const m = await member({ ca, settings: { ETCD_LISTEN_CLIENT_URLS: 'https://127.0.0.1:2379,http://127.0.0.1:4001' } })
    const r = await audit(m)
    expect(codes(r)).toEqual(['error:url-not-https'])
    expect(only(r, 'url-not-https')[0]!.detail).toContain('ETCD_LISTEN_CLIENT_URLS http://127.0.0.1:4001 is plain http while ETCD_CERT_FILE is set')
    const ic = await member({ ca, settings: { ETCD_INITIAL_CLUSTER: 'm1=https://127.0.0.1:2380,m2=http://127.0.0.2:2380' } })
    expect(only(await audit(ic), 'url-not-https').map((f) => f.detail)).toEqual([expect.stringMatching(/^ETCD_INITIAL_CLUSTER http:\/\/127\.0\.0\.2:2380 is plain http while ETCD_PEER_CERT_FILE is set/)])
    const n = await member({ ca, settings: { ETCD_PEER_CERT_FILE: '', ETCD_PEER_KEY_FILE: '', ETCD_PEER_TRUSTED_CA_FILE: '', ETCD_PEER_CLIENT_CERT_AUTH: '' } })
    expect(codes(await audit(n))).toEqual(['error:tls-files-missing', 'error:tls-files-missing'])
  })
})

describe('bad input', () => {
  it('a file that is not PEM, a missing file, and nothing to audit', async () => {
    const m = await member({ ca })
    writeFileSync(m.server.cert, 'not a certificate\n')
    m.settings.ETCD_PEER_TRUSTED_CA_FILE = join(m.dir, 'missing.pem')
    writeEnv(m)
    const r = await audit(m)
    expect(codes(r)).toEqual(['error:file-missing', 'error:pem-missing'])
    await expect(auditCerts({ flags: new Map() })).rejects.toThrow(/nothing to audit/)
  })

  it('a certificate whose DER is cut short is one error naming the file and offset', async () => {
    const m = await member({ ca })
    const der = execFileSync('openssl', ['x509', '-in', m.server.cert, '-outform', 'DER'])
    writeFileSync(m.server.cert, `-----BEGIN CERTIFICATE-----\n${der.subarray(0, 200).toString('base64')}\n-----END CERTIFICATE-----\n`)
    const r = await audit(m)
    expect(codes(r)).toEqual(['error:cert-undecodable'])
    expect(only(r, 'cert-undecodable')[0]).toMatchObject({ file: m.server.cert, offset: 0 })
    expect(only(r, 'cert-undecodable')[0]!.detail).toMatch(/^ETCD_CERT_FILE \S+server\.pem@0: DER Certificate declares \d+ bytes, 196 left in its parent$/)
  })
})

// Keeps the shared helper honest: issueCert without options still makes the default profile.
it('issueCert defaults are unchanged (server: serverAuth,clientAuth, P-256)', async () => {
  const c = await issueCert(ca, 'server', { dir: tempDir('certs-def-') })
  const r = await auditCerts({ flags: new Map([['ETCD_CERT_FILE', c.cert], ['ETCD_KEY_FILE', c.key], ['ETCD_TRUSTED_CA_FILE', ca.cert], ['ETCD_CLIENT_CERT_AUTH', 'true']]) })
  expect(r.certificates[1]).toMatchObject({ role: 'server', publicKey: 'ec P-256', extKeyUsage: ['serverAuth', 'clientAuth'], keyUsage: ['digitalSignature', 'keyEncipherment'] })
})
