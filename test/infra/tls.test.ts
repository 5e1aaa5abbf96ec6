import { afterAll, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { readFileSync } from 'node:fs'
import { request } from 'node:https'
import { get as httpGet } from 'node:http'
import { startCluster, etcdctl, stopAll, type EtcdMember } from '../support/etcd.js'
import { makeTls, newCa, defaultCa, issueCert, validFor, subjectAltNames, DEFAULT_IPS } from '../support/tls.js'

const execFileP = promisify(execFile)

async function verify(caPem: string, certPem: string, purpose: string): Promise<string> {
  try {
    const { stdout } = await execFileP('openssl', ['verify', '-CAfile', caPem, '-purpose', purpose, certPem])
    return stdout.trim()
  } catch (err) {
    return `FAILED: ${(err as { stdout?: string; stderr?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`
  }
}

describe('tls.ts: a private CA made with openssl', () => {
  it('issues server, peer and client certs that chain to the CA with the right purposes and SANs', async () => {
    const t = await makeTls()
    expect(await verify(t.ca, t.serverCert, 'sslserver')).toMatch(/: OK$/)
    expect(await verify(t.ca, t.peerCert, 'sslserver')).toMatch(/: OK$/)
    expect(await verify(t.ca, t.peerCert, 'sslclient')).toMatch(/: OK$/)
    expect(await verify(t.ca, t.serverCert, 'sslclient')).toMatch(/: OK$/)
    expect(await verify(t.ca, t.clientCert, 'sslclient')).toMatch(/: OK$/)
    expect(await verify(t.ca, t.clientCert, 'sslserver')).toMatch(/^FAILED/)
    const sans = await subjectAltNames(t.serverCert)
    for (const ip of DEFAULT_IPS) expect(sans).toContain(`IP Address:${ip}`)
    expect(sans).toContain('DNS:localhost')
    expect(readFileSync(t.serverKey, 'utf8')).toMatch(/BEGIN (EC )?PRIVATE KEY/)
  })

  it('caches the default CA per process and makes unrelated CAs on request', async () => {
    const a = await makeTls()
    const b = await makeTls()
    expect(a.ca).toBe(b.ca)
    const other = await makeTls({ ca: await newCa('other') })
    expect(other.ca).not.toBe(a.ca)
    expect(await verify(a.ca, other.clientCert, 'sslclient')).toMatch(/^FAILED/)
    expect(await verify(other.ca, other.clientCert, 'sslclient')).toMatch(/: OK$/)
  })

  it('makes an expired certificate that openssl -checkend reports as expired', async () => {
    const c = await issueCert(await defaultCa(), 'client', { expired: true })
    expect(await validFor(c.cert, 0)).toBe(false)
    const ok = await issueCert(await defaultCa(), 'client')
    expect(await validFor(ok.cert, 3600)).toBe(true)
    expect(await verify((await defaultCa()).cert, c.cert, 'sslclient')).toMatch(/expired/)
  })

  it('leaves out a given IP SAN', async () => {
    const t = await makeTls({ omitIps: ['127.0.0.3'] })
    const sans = await subjectAltNames(t.serverCert)
    expect(sans).not.toContain('IP Address:127.0.0.3')
    expect(sans).toContain('IP Address:127.0.0.2')
    expect(await subjectAltNames(t.peerCert)).not.toContain('IP Address:127.0.0.3')
  })
})

/** GET /health over HTTPS with the given trust anchor and client certificate. */
function health(url: string, ca: string, cert: string, key: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/health`, { ca: readFileSync(ca), cert: readFileSync(cert), key: readFileSync(key), timeout: 5000 }, (res) => {
      let body = ''
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve(`${res.statusCode} ${body}`))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.end()
  })
}

describe('a 3-member etcd cluster with mTLS from tls.ts', () => {
  let members: EtcdMember[] = []
  afterAll(async () => { await stopAll(members) })

  it('starts with startCluster({ tls }) and serves etcdctl with client certs; rejects foreign, expired and plain clients', async () => {
    const tls = await makeTls()
    members = await startCluster(3, { tls, namePrefix: 'tls' })
    const eps = members.map((m) => m.clientURL)
    for (const e of eps) expect(e).toMatch(/^https:\/\/127\.0\.0\.[123]:\d+$/)
    await etcdctl(eps[0]!, ['put', '/tls/key', 'over-mtls'], tls)
    expect(await etcdctl(eps[2]!, ['get', '/tls/key', '--print-value-only'], tls)).toBe('over-mtls\n')
    const list = await etcdctl(eps[1]!, ['member', 'list', '-w', 'simple'], tls)
    expect(list.trim().split('\n')).toHaveLength(3)
    for (const h of ['127.0.0.1', '127.0.0.2', '127.0.0.3']) expect(list).toContain(`https://${h}:`)
    const status = await etcdctl(eps, ['endpoint', 'status', '-w', 'json'], tls)
    const clusterIds = [...status.matchAll(/"cluster_id":(\d+)/g)].map((m) => m[1])
    expect(clusterIds).toHaveLength(3)
    expect(new Set(clusterIds).size).toBe(1)

    // The same check over plain HTTPS: the right client certificate is accepted ...
    for (const e of eps) expect(await health(e, tls.ca, tls.clientCert, tls.clientKey)).toBe('200 {"health":"true"}')
    // ... a client certificate from an unrelated CA is refused by the server (TLS alert 42) ...
    const other = await makeTls({ ca: await newCa('unrelated') })
    await expect(health(eps[0]!, tls.ca, other.clientCert, other.clientKey)).rejects.toThrow(/bad certificate|alert number 42/)
    // ... an expired client certificate from the right CA too ...
    const old = await issueCert(await defaultCa(), 'client', { expired: true })
    await expect(health(eps[0]!, tls.ca, old.cert, old.key)).rejects.toThrow(/bad certificate|alert number 42/)
    // ... and a client that trusts only the unrelated CA does not accept the server.
    await expect(health(eps[0]!, other.ca, other.clientCert, other.clientKey)).rejects.toThrow(/unable to verify|self.signed|certificate/)

    // etcdctl with the foreign client certificate fails as well (short timeouts).
    const foreign = ['--endpoints', eps[0]!, '--dial-timeout', '1s', '--command-timeout', '2s', '--cacert', tls.ca, '--cert', other.clientCert, '--key', other.clientKey, 'get', '/tls/key']
    await expect(execFileP('etcdctl', foreign, { env: { ...process.env, ETCDCTL_API: '3' } })).rejects.toThrow()
    // Plain HTTP is not served on the TLS client port.
    const plain = await new Promise<string>((resolve) => {
      const req = httpGet(`${eps[0]!.replace('https:', 'http:')}/health`, { timeout: 5000 }, (res) => {
        let body = ''
        res.on('data', (d) => (body += d))
        res.on('end', () => resolve(`${res.statusCode} ${body}`))
      })
      req.on('error', (e) => resolve(`error ${e.message}`))
    })
    expect(plain).not.toContain('"health":"true"')
    expect(plain).toMatch(/^(400 |error )/)
  })
})
