import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ClusterError } from '../../src/errors.js'
import { resolveConnectionOptions, withClients, loadTlsMaterial, parseGoDuration, type ConnectionOptions } from '../../src/cluster/connection.js'
import { memberList } from '../../src/cluster/members.js'
import { endpointStatus } from '../../src/cluster/status.js'
import { raftStatus } from '../../src/cluster/debug-vars.js'
import { startEtcd, freePort, etcdctl, type EtcdMember } from '../support/etcd.js'
import { makePki, type TestPki } from './certs.js'
import { makeTls, type TlsOptions } from '../support/tls.js'
import { createServer } from 'node:tls'
import { readFileSync } from 'node:fs'

describe('resolveConnectionOptions (etcdctl flags and env)', () => {
  it('uses etcdctl defaults', () => {
    const o = resolveConnectionOptions({}, {})
    expect(o).toMatchObject({ endpoints: ['http://127.0.0.1:2379'], dialTimeoutMs: 2000, commandTimeoutMs: 5000, insecureSkipTlsVerify: false })
  })
  it('reads ETCDCTL_* when the flag is absent; the flag wins', () => {
    const env = { ETCDCTL_ENDPOINTS: 'a:1,b:2', ETCDCTL_CACERT: '/ca', ETCDCTL_CERT: '/c', ETCDCTL_KEY: '/k', ETCDCTL_USER: 'root:pw', ETCDCTL_DIAL_TIMEOUT: '500ms', ETCDCTL_COMMAND_TIMEOUT: '1m' }
    const o = resolveConnectionOptions({}, env)
    expect(o).toMatchObject({ endpoints: ['https://a:1', 'https://b:2'], cacert: '/ca', cert: '/c', key: '/k', user: 'root', password: 'pw', dialTimeoutMs: 500, commandTimeoutMs: 60000 })
    const f = resolveConnectionOptions({ endpoints: 'http://c:3', user: 'u', password: 'p:x', dialTimeout: '1.5s' }, env)
    expect(f).toMatchObject({ endpoints: ['http://c:3'], user: 'u', password: 'p:x', dialTimeoutMs: 1500 })
  })
  it('rejects bad input with usage errors', () => {
    expect(() => resolveConnectionOptions({ dialTimeout: '2 seconds' }, {})).toThrow('invalid duration "2 seconds" for --dial-timeout')
    expect(() => resolveConnectionOptions({ cert: '/c' }, {})).toThrow('--cert given without --key')
    expect(() => resolveConnectionOptions({ user: 'root' }, {})).toThrow('--user root has no password')
    expect(() => resolveConnectionOptions({ endpoints: 'ftp://x:1' }, {})).toThrow('unsupported endpoint scheme')
    expect(() => resolveConnectionOptions({ endpoints: 'http://x' }, {})).toThrow('has no port')
  })
  it('parses Go durations', () => {
    expect(parseGoDuration('1m30s', 'x')).toBe(90000)
    expect(parseGoDuration('250ms', 'x')).toBe(250)
    expect(parseGoDuration('3', 'x')).toBe(3000)
  })
  it('names the flag of an unreadable TLS file', async () => {
    const o = resolveConnectionOptions({ cacert: '/nonexistent/ca.crt' }, {})
    await expect(loadTlsMaterial(o)).rejects.toThrow('cannot read --cacert /nonexistent/ca.crt: ENOENT')
  })
})

describe('connection layer against a real TLS etcd', () => {
  let pki: TestPki
  let m: EtcdMember
  beforeAll(async () => {
    pki = await makePki()
    m = await startEtcd({ name: 'conn1', host: '127.0.0.1', tls: pki })
  })
  afterAll(async () => { await m?.stop() })

  const opts = (extra: Partial<Parameters<typeof resolveConnectionOptions>[0]> = {}): ConnectionOptions =>
    resolveConnectionOptions({ endpoints: m.clientURL, cacert: pki.ca, cert: pki.clientCert, key: pki.clientKey, ...extra }, {})

  it('lists members, reads status and the leader progress with bigint IDs', async () => {
    const o = opts()
    await withClients(o, async (f) => {
      const c = f.forEndpoint(m.clientURL)
      const ml = await memberList(c)
      expect(ml.members).toHaveLength(1)
      expect(typeof ml.members[0]!.id).toBe('bigint')
      expect(ml.members[0]!.idHex).toBe(ml.members[0]!.id.toString(16))
      expect(ml.members[0]!.name).toBe('conn1')
      expect(ml.header.clusterId).not.toBe(0n)
      const st = await endpointStatus(c)
      expect(st.header.memberId).toBe(ml.members[0]!.id)
      expect(st.leader).toBe(ml.members[0]!.id)
      expect(st.raftIndex).toBeGreaterThan(0n)
      const rs = await raftStatus(m.clientURL, o, f.tls)
      expect(rs?.raftState).toBe('StateLeader')
      expect(rs?.id).toBe(ml.members[0]!.id)
      expect(rs?.progress.find((p) => p.id === rs.id)?.match).toBeGreaterThan(0n)
    })
  })

  it('explains a wrong CA', async () => {
    const err = await withClients(opts({ cacert: pki.otherCa }), (f) => memberList(f.forEndpoint(m.clientURL))).catch((e) => e)
    expect(err).toBeInstanceOf(ClusterError)
    expect(err.code).toBe('tls-unknown-authority')
    expect(err.message).toContain('x509: certificate signed by unknown authority')
    expect(err.hint).toContain("pass --cacert with the cluster's CA")
  })

  it('explains a missing client certificate', async () => {
    const err = await withClients(resolveConnectionOptions({ endpoints: m.clientURL, cacert: pki.ca }, {}), (f) => memberList(f.forEndpoint(m.clientURL))).catch((e) => e)
    expect(err).toBeInstanceOf(ClusterError)
    expect(err.code).toBe('tls-client-cert')
    expect(err.hint).toContain('pass --cert and --key')
  })

  it('explains plain http against a TLS member', async () => {
    const plain = m.clientURL.replace('https://', 'http://')
    const err = await withClients(resolveConnectionOptions({ endpoints: plain }, {}), (f) => memberList(f.forEndpoint(plain))).catch((e) => e)
    expect(err).toBeInstanceOf(ClusterError)
    expect(['tls-plain-mismatch', 'unreachable', 'unavailable']).toContain(err.code)
  })

  it('--insecure-skip-tls-verify skips server verification', async () => {
    const ml = await withClients(opts({ cacert: pki.otherCa, insecureSkipTlsVerify: true }), (f) => memberList(f.forEndpoint(m.clientURL)))
    expect(ml.members).toHaveLength(1)
  })

  it('fails fast on a refused endpoint, bounded by the dial timeout', async () => {
    const port = await freePort('127.0.0.1')
    const ep = `https://127.0.0.1:${port}`
    const t0 = Date.now()
    const err = await withClients(opts({ endpoints: ep, dialTimeout: '1s' }), (f) => memberList(f.forEndpoint(ep))).catch((e) => e)
    expect(Date.now() - t0).toBeLessThan(2000)
    expect(err).toBeInstanceOf(ClusterError)
    expect(err.code).toBe('unreachable')
  })
})

describe('TLS failures of a bad server certificate', () => {
  // A bare TLS listener with the certificate under test: the handshake is all that matters here.
  async function tlsServer(cert: string, key: string): Promise<{ url: string; close(): void }> {
    const srv = createServer({ cert: readFileSync(cert), key: readFileSync(key), ALPNProtocols: ['h2'] }, (s) => s.on('error', () => undefined))
    const port = await freePort('127.0.0.1')
    await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r))
    return { url: `https://127.0.0.1:${port}`, close: () => srv.close() }
  }

  const cases: { name: string; tls: TlsOptions; code: string; field: 'message' | 'hint'; says: string }[] = [
    { name: 'expired server certificate', tls: { expired: ['server'] }, code: 'tls-expired', field: 'message', says: 'certificate has expired' },
    {
      name: 'server certificate without the endpoint\'s IP SAN', tls: { omitIps: ['127.0.0.1'], dns: ['etcd.example'] },
      code: 'tls-hostname', field: 'hint', says: 'SANs do not cover 127.0.0.1',
    },
  ]
  for (const c of cases) {
    it(c.name, async () => {
      const t = await makeTls(c.tls)
      const s = await tlsServer(t.serverCert, t.serverKey)
      try {
        const err = await withClients(resolveConnectionOptions({ endpoints: s.url, cacert: t.ca }, {}), (f) => memberList(f.forEndpoint(s.url))).catch((e) => e)
        expect(err.code).toBe(c.code)
        expect(err[c.field]).toContain(c.says)
      } finally { s.close() }
    })
  }
})

describe('user/password auth against a real etcd', () => {
  let m: EtcdMember
  beforeAll(async () => {
    m = await startEtcd({ name: 'auth1', host: '127.0.0.2' })
    await etcdctl(m.clientURL, ['user', 'add', 'root:s3cret'])
    await etcdctl(m.clientURL, ['auth', 'enable'])
  })
  afterAll(async () => { await m?.stop() })

  it('--user name:password works; a wrong password is an auth error with advice', async () => {
    const ok = await withClients(resolveConnectionOptions({ endpoints: m.clientURL, user: 'root:s3cret' }, {}), (f) => memberList(f.forEndpoint(m.clientURL)))
    expect(ok.members).toHaveLength(1)
    const env = await withClients(resolveConnectionOptions({ endpoints: m.clientURL }, { ETCDCTL_USER: 'root', ETCDCTL_PASSWORD: 's3cret' }), (f) => endpointStatus(f.forEndpoint(m.clientURL)))
    expect(env.raftIndex).toBeGreaterThan(0n)
    const err = await withClients(resolveConnectionOptions({ endpoints: m.clientURL, user: 'root', password: 'wrong' }, {}), (f) => memberList(f.forEndpoint(m.clientURL))).catch((e) => e)
    expect(err).toBeInstanceOf(ClusterError)
    expect(err.code).toBe('auth')
    expect(err.hint).toContain('check --user/--password')
  })
})
