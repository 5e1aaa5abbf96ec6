/**
 * The certificate a live etcd listener presents in its TLS handshake (client or peer URL), fetched
 * with node:tls. Verification is off on purpose: the point is to see what the member serves, also
 * when it is expired or signed by another CA; `certs` judges it afterwards. A client certificate
 * is offered so listeners with `--client-cert-auth` / `--peer-client-cert-auth` complete the
 * handshake. Bounded by `timeoutMs`.
 */
import { connect } from 'node:tls'
import type { X509Certificate } from 'node:crypto'

export interface PresentedCert {
  url: string
  /** The leaf the listener presented, or undefined with `error`. */
  cert?: X509Certificate
  error?: string
}

export function fetchPresentedCert(url: string, material: { ca?: Buffer; cert?: Buffer; key?: Buffer }, timeoutMs: number): Promise<PresentedCert> {
  const u = new URL(url)
  const host = u.hostname.replace(/^\[|\]$/g, '')
  return new Promise((resolve) => {
    let done = false
    const finish = (r: Omit<PresentedCert, 'url'>): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      sock.destroy()
      resolve({ url, ...r })
    }
    const timer = setTimeout(() => finish({ error: `no TLS handshake within ${timeoutMs} ms` }), timeoutMs)
    const sock = connect({
      host, port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)), ca: material.ca, cert: material.cert, key: material.key,
      servername: /^[\d.]+$|:/.test(host) ? undefined : host, rejectUnauthorized: false, checkServerIdentity: () => undefined,
    }, () => {
      const cert = sock.getPeerX509Certificate()
      finish(cert ? { cert } : { error: 'the listener presented no certificate' })
    })
    sock.on('error', (e: Error) => finish({ error: e.message }))
  })
}
