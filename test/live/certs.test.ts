/**
 * `certs` against a real etcd 3.4 TLS member on 127.0.0.2 (one process for the file):
 * - its server certificate lacks clientAuth under --client-cert-auth: the finding's quoted log line
 *   is the one etcd really prints on stderr (default capnslog logger);
 * - point 7, rotations: a certificate overwritten in place is served at once (etcd 3.4 re-reads its
 *   files per handshake), a config that names new files is reported as not loaded, and another
 *   member serving an older certificate for the same subject is reported as stale.
 * The audited files are hashed before and after: certs changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import { ETCD34_GATEWAY_REJECT_LINE } from '../../src/app/certs.js'
import { allocate, startEtcd, tempDir, type EtcdMember } from '../support/etcd.js'
import { runCli } from '../support/cli.js'
import { hashTree } from '../support/tree-hash.js'
import { issueCert, newCa } from '../support/tls.js'
import { member, runbookCa, runbookCert, writeEnv, type Member } from '../certs/pki.js'
import type { Ca } from '../support/tls.js'

const HOST = '127.0.0.2'
let ca: Ca
let m: Member
let etcd: EtcdMember | undefined
let conn: string[]

interface Json { verdict: string; findings: { severity: string; code: string; detail: string; file?: string }[]; live: { url: string; side: string; self: boolean; matches: boolean | null; presentedSerial: string | null }[] }

function certs(env: string, ...more: string[]): { code: number; json: Json } {
  const before = hashTree(m.dir)
  const r = runCli(['certs', '--config', env, ...conn, ...more, '-w', 'json'], { env: { ETCDCTL_ENDPOINTS: '' } })
  expect(hashTree(m.dir)).toEqual(before)
  if (r.stderr) throw new Error(r.stderr)
  return { code: r.code, json: JSON.parse(r.stdout) as Json }
}

beforeAll(async () => {
  ca = await runbookCa()
  const slot = await allocate('c1', HOST, true)
  m = await member({ ca, host: HOST, server: { eku: 'serverAuth' } })
  Object.assign(m.settings, {
    ETCD_NAME: 'c1',
    ETCD_LISTEN_CLIENT_URLS: slot.clientURL, ETCD_ADVERTISE_CLIENT_URLS: slot.clientURL,
    ETCD_LISTEN_PEER_URLS: slot.peerURL, ETCD_INITIAL_ADVERTISE_PEER_URLS: slot.peerURL,
  })
  writeEnv(m)
  conn = ['--endpoints', slot.clientURL, '--cacert', m.ca, '--cert', m.client.cert, '--key', m.client.key, '--dial-timeout', '3s']
  etcd = await startEtcd({
    name: 'c1', host: HOST, clientPort: slot.clientPort, peerPort: slot.peerPort,
    tls: { ca: m.ca, serverCert: m.server.cert, serverKey: m.server.key, peerCert: m.peer.cert, peerKey: m.peer.key, clientCert: m.client.cert, clientKey: m.client.key },
    // etcd 3.4's default logger, whose line the finding quotes (startEtcd asks for zap; the last flag wins).
    extraArgs: ['--logger', 'capnslog'],
  })
})

afterAll(async () => {
  await etcd?.stop()
})

describe('live etcd 3.4 member', () => {
  it('a server certificate without clientAuth: the quoted line is what etcd prints', async () => {
    // The gateway redials every second or so; wait for the first rejection in etcd's stderr.
    const re = new RegExp(ETCD34_GATEWAY_REJECT_LINE.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace('…', '127\\.0\\.0\\.\\d+:\\d+'))
    const deadline = Date.now() + 20_000
    while (!re.test(etcd!.log()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250))
    const printed = etcd!.log().split('\n').find((l) => re.test(l))
    expect(printed, etcd!.log().slice(-2000)).toBeDefined()
    const { code, json } = certs(m.env)
    expect(code).toBe(46)
    const f = json.findings.filter((x) => x.code === 'eku-client-auth-missing')
    expect(f).toHaveLength(1)
    expect(f[0]!.severity).toBe('error')
    // The finding quotes exactly what etcd printed, with the address left out.
    const quoted = f[0]!.detail.slice(f[0]!.detail.indexOf('embed: rejected connection'), f[0]!.detail.indexOf('ServerName "")') + 'ServerName "")'.length)
    expect(quoted).toBe(ETCD34_GATEWAY_REJECT_LINE)
    expect(printed!.replace(/from "[^"]+"/, 'from "…"')).toContain(quoted)
    // Live: the member serves what the config names, on both URLs.
    expect(json.live.map((l) => [l.side, l.self, l.matches])).toEqual([['client', true, true], ['peer', true, true]])
    expect(json.findings.map((x) => x.code).sort()).toEqual(['eku-client-auth-missing'])
    // The table shows the same comparison.
    const t = runCli(['certs', '--config', m.env, ...conn], { env: { ETCDCTL_ENDPOINTS: '' } })
    const rows = t.stdout.split('\n').filter((l) => l.includes('(this)')).map((l) => l.split('│').map((c) => c.trim()))
    expect(rows.map((r) => [r[3], r[6]])).toEqual([['client', 'yes'], ['peer', 'yes']])
    // member IDs print as etcdctl prints them (%x): one with a leading zero nibble has 15 digits
    expect(rows[0]![1]).toMatch(/^c1 [0-9a-f]{1,16} \(this\)$/)
  })

  it('rotation in place is served at once; a config naming new files is "not loaded"', async () => {
    // Overwrite the server pair in place with a runbook certificate (now with clientAuth).
    const fresh = await runbookCert(ca, 'server', join(m.dir, '..', 'issued'), { basename: 'server-rotated', ips: ['127.0.0.1', HOST] })
    copyFileSync(fresh.key, m.server.key)
    copyFileSync(fresh.cert, m.server.cert)
    const inPlace = certs(m.env)
    expect(inPlace.json.findings).toEqual([])
    expect(inPlace.code).toBe(0)
    expect(inPlace.json.live.find((l) => l.side === 'client')!.matches).toBe(true)

    // A rotation written to new paths and into the config, without a restart.
    const next = await runbookCert(ca, 'server', join(m.dir, '..', 'issued'), { basename: 'server-next', ips: ['127.0.0.1', HOST] })
    const env2 = { ...m, env: join(m.dir, '..', 'etcd-next.env'), settings: { ...m.settings, ETCD_CERT_FILE: next.cert, ETCD_KEY_FILE: next.key } }
    writeEnv(env2)
    const { code, json } = certs(env2.env)
    expect(json.findings.map((x) => `${x.severity}:${x.code}`)).toEqual(['warning:live-cert-not-loaded'])
    expect(json.findings[0]!.detail).toContain(`(this member) presents serial ${json.live.find((l) => l.side === 'client')!.presentedSerial}`)
    expect(json.live.map((l) => [l.side, l.matches])).toEqual([['client', false], ['peer', true]])
    expect(code).toBe(45)
  })

  it('another member serving an older certificate for the same subject is stale', async () => {
    // The config of a member not in the cluster (another name and peer URL), with a newer server
    // certificate than the running member serves: the running member is "another member" here.
    // notBefore has one-second resolution: make "newer" unambiguous.
    await new Promise((r) => setTimeout(r, 1100))
    const next = await runbookCert(ca, 'server', join(m.dir, '..', 'issued'), { basename: 'server-newer', ips: ['127.0.0.1', HOST, '127.0.0.3'] })
    const other = { ...m, env: join(m.dir, '..', 'etcd-other.env'), settings: { ...m.settings, ETCD_NAME: 'c9', ETCD_CERT_FILE: next.cert, ETCD_KEY_FILE: next.key, ETCD_ADVERTISE_CLIENT_URLS: 'https://127.0.0.3:2379', ETCD_LISTEN_CLIENT_URLS: 'https://127.0.0.3:2379', ETCD_INITIAL_ADVERTISE_PEER_URLS: 'https://127.0.0.3:2380', ETCD_LISTEN_PEER_URLS: 'https://127.0.0.3:2380' } }
    writeEnv(other)
    const { code, json } = certs(other.env)
    expect(json.findings.map((x) => `${x.severity}:${x.code}`)).toEqual(['warning:live-cert-stale'])
    expect(json.live.map((l) => [l.side, l.self, l.matches])).toEqual([['client', false, false], ['peer', false, true]])
    expect(code).toBe(45)
    // A member with its own certificate (different subject) is only information.
    const own = await issueCert(ca, 'server', { dir: join(m.dir, '..', 'issued'), basename: 'server-own', cn: 'c9', ips: ['127.0.0.3'], days: 365 })
    other.settings.ETCD_CERT_FILE = own.cert
    other.settings.ETCD_KEY_FILE = own.key
    writeEnv(other)
    const r = certs(other.env)
    expect(r.json.findings.map((x) => `${x.severity}:${x.code}`).sort()).toEqual(['info:live-cert-differs', 'warning:san-missing-live'])
    expect(r.code).toBe(45)
  })

  it('a live certificate the configured CA does not verify', async () => {
    const other = await newCa('unrelated-ca', tempDir('certs-ca-'), { days: 1825 })
    // Beside the member's files, without its key (in its own dir ca-key.pem would be reported).
    const otherCa = join(m.dir, '..', 'unrelated-ca.pem')
    copyFileSync(other.cert, otherCa)
    // Point the member's trusted CA files at another CA: its own files and what it serves on the
    // peer URL no longer verify; the client URL is judged with --cacert, which still fits.
    const { code, json } = certs(m.env, '--trusted-ca-file', otherCa, '--peer-trusted-ca-file', otherCa)
    // (Run alone, the server certificate still lacks clientAuth: the earlier test rotates it.)
    const found = json.findings.filter((x) => x.code !== 'eku-client-auth-missing')
    expect(found.map((x) => `${x.severity}:${x.code}`)).toEqual(['error:chain-untrusted', 'error:chain-untrusted', 'error:live-cert-untrusted'])
    expect(found[2]!.detail).toMatch(/^member c1 at https:\/\/127\.0\.0\.2:\d+ presents a certificate issued by "O=etcd-inspect tests, CN=etcd-runbook-ca", which the CA files here do not verify$/)
    expect(code).toBe(46)
  })
})
