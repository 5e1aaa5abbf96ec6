import { beforeAll, describe, expect, it } from 'vitest'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { checkCert, tlsPreflight } from '../../src/app/replace/tls-preflight.js'
import { tempDir } from '../support/etcd.js'
import { makePki, type TestPki } from './helpers.js'

let pki: TestPki
let other: TestPki
beforeAll(() => {
  const d = tempDir('tls-')
  pki = makePki(d)
  const o = join(d, 'other')
  mkdirSync(o)
  other = makePki(o)
})

describe('TLS preflight', () => {
  it('accepts a cert that chains, is valid, has both EKUs and covers the URLs', () => {
    const c = pki.member('ok', '127.0.0.3')
    expect(checkCert({ role: 'peer', certFile: c.cert, caFile: pki.ca, urls: ['https://127.0.0.3:2380'], needUsages: ['serverAuth', 'clientAuth'] })).toEqual([])
  })

  it('reports a missing SAN, an expired cert, a foreign CA and a missing key usage', () => {
    const nosan = pki.member('nosan', '127.0.0.9', { sans: 'IP:127.0.0.9' })
    expect(checkCert({ role: 'peer', certFile: nosan.cert, caFile: pki.ca, urls: ['https://127.0.0.3:2380'], needUsages: [] }).map((f) => f.code)).toEqual(['tls-san-missing'])
    const exp = pki.member('exp', '127.0.0.3', { days: -1 })
    expect(checkCert({ role: 'server', certFile: exp.cert, caFile: pki.ca, urls: ['https://127.0.0.3:2379'], needUsages: [] }).map((f) => f.code)).toEqual(['tls-expired'])
    const foreign = other.member('foreign', '127.0.0.3')
    expect(checkCert({ role: 'server', certFile: foreign.cert, caFile: pki.ca, urls: [], needUsages: [] }).map((f) => f.code)).toEqual(['tls-untrusted'])
    const serverOnly = pki.member('srv', '127.0.0.3', { eku: 'serverAuth' })
    const f = checkCert({ role: 'peer', certFile: serverOnly.cert, caFile: pki.ca, urls: [], needUsages: ['serverAuth', 'clientAuth'] })
    expect(f.map((x) => x.message)).toEqual([`peer cert ${serverOnly.cert}: extended key usage lacks clientAuth`])
  })

  it('checks server and peer certs named by the env settings; DNS SANs by name', () => {
    const c = pki.member('dns', '127.0.0.3', { sans: 'DNS:etcd-3.example,IP:127.0.0.3' })
    const s = new Map([['ETCD_CERT_FILE', c.cert], ['ETCD_TRUSTED_CA_FILE', pki.ca], ['ETCD_PEER_CERT_FILE', c.cert], ['ETCD_PEER_TRUSTED_CA_FILE', pki.ca]])
    expect(tlsPreflight(s, ['https://etcd-3.example:2380'], ['https://127.0.0.3:2379'])).toEqual({ checked: true, findings: [] })
    const bad = tlsPreflight(s, ['https://etcd-4.example:2380'], ['https://127.0.0.3:2379'])
    expect(bad.findings.map((f) => f.code)).toEqual(['tls-san-missing'])
    expect(tlsPreflight(new Map(), ['https://x:2380'], []).findings.map((f) => f.code)).toEqual(['tls-missing'])
  })

  it('reads a cert file with an intermediate chain', () => {
    const c = pki.member('chain', '127.0.0.3')
    const both = join(pki.dir, 'chain-bundle.crt')
    writeFileSync(both, readFileSync(c.cert, 'utf8') + readFileSync(pki.ca, 'utf8'))
    expect(checkCert({ role: 'server', certFile: both, caFile: pki.ca, urls: [], needUsages: [] })).toEqual([])
  })
})
