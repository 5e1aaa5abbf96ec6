/**
 * Test certificates from a private CA, made with openssl: CA, server (client URLs), peer and client
 * certificates whose IP SANs cover 127.0.0.1-127.0.0.9, plus an unrelated CA (wrong-CA tests).
 * Used until the shared fixtures' test/support/tls.ts lands.
 */
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { TlsFiles } from '../support/etcd.js'
import { tempDir } from '../support/etcd.js'

export interface TestPki extends TlsFiles {
  dir: string
  /** A CA that signed nothing the cluster uses. */
  otherCa: string
}

function ossl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] })
}

function leaf(dir: string, ca: string, name: string, usage: string): void {
  const sans = ['DNS:localhost', ...Array.from({ length: 9 }, (_, i) => `IP:127.0.0.${i + 1}`)].join(',')
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${sans}\nextendedKeyUsage=${usage}\nkeyUsage=digitalSignature,keyEncipherment\n`)
  ossl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir)
  ossl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-out', `${name}.crt`, '-extfile', `${name}.ext`], dir)
}

export function makePki(): TestPki {
  const dir = tempDir('etcd-inspect-pki-')
  for (const ca of ['ca', 'other-ca']) {
    ossl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-days', '2', '-subj', `/CN=etcd-inspect test ${ca}`], dir)
  }
  leaf(dir, 'ca', 'server', 'serverAuth,clientAuth')
  leaf(dir, 'ca', 'peer', 'serverAuth,clientAuth')
  leaf(dir, 'ca', 'client', 'clientAuth')
  const p = (f: string): string => join(dir, f)
  return {
    dir, ca: p('ca.crt'), otherCa: p('other-ca.crt'),
    serverCert: p('server.crt'), serverKey: p('server.key'),
    peerCert: p('peer.crt'), peerKey: p('peer.key'),
    clientCert: p('client.crt'), clientKey: p('client.key'),
  }
}
