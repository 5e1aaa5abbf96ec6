/**
 * TLS preflight for the replacement member (RECOVERY.md §6.3 step 1): the server and peer
 * certificates chain to the given CAs, are valid now (and not expiring within the warning
 * window), carry the extended key usages etcd needs (server cert: serverAuth; peer cert:
 * serverAuth + clientAuth, since a peer both serves and dials), and their SANs cover every
 * advertised URL's host. Uses node:crypto X509Certificate and the PEM reader of src/format/x509.ts.
 * `etcd-inspect certs` (src/app/certs.ts) is the full audit of a member's TLS set; this is the
 * narrower subset replace needs before it starts a member, with replace's own codes (docs/replace.md).
 */
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { splitPem } from '../../format/x509.js'

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1'
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'

export interface TlsFinding { severity: 'error' | 'warning'; code: string; message: string }

export interface CertCheck {
  role: 'server' | 'peer'
  certFile: string
  caFile: string
  urls: string[]
  needUsages: ('serverAuth' | 'clientAuth')[]
}

function loadChain(file: string): X509Certificate[] {
  return splitPem(readFileSync(file, 'utf8')).filter((b) => b.label === 'CERTIFICATE').map((b) => new X509Certificate(b.der))
}

function hostOf(url: string): string {
  const h = new URL(url).hostname
  return h.startsWith('[') ? h.slice(1, -1) : h
}

export function checkCert(c: CertCheck, now = new Date(), warnDays = 30): TlsFinding[] {
  const f: TlsFinding[] = []
  const tag = `${c.role} cert ${c.certFile}`
  let chain: X509Certificate[]
  let cas: X509Certificate[]
  try {
    chain = loadChain(c.certFile)
    cas = loadChain(c.caFile)
  } catch (e) {
    return [{ severity: 'error', code: 'tls-unreadable', message: `${tag}: cannot read: ${(e as Error).message}` }]
  }
  const leaf = chain[0]
  if (!leaf || cas.length === 0) return [{ severity: 'error', code: 'tls-unreadable', message: `${tag}: no PEM certificate found` }]
  // Chain: leaf -> (intermediates in the cert file) -> a CA in the CA file.
  let cur = leaf
  const pool = [...chain.slice(1), ...cas]
  let anchored = false
  for (let depth = 0; depth < 8; depth++) {
    const ca = cas.find((a) => cur.checkIssued(a) && cur.verify(a.publicKey))
    if (ca) { anchored = true; break }
    const next = pool.find((a) => a !== cur && cur.checkIssued(a) && cur.verify(a.publicKey))
    if (!next) break
    cur = next
  }
  if (!anchored) f.push({ severity: 'error', code: 'tls-untrusted', message: `${tag}: does not chain to the CA in ${c.caFile}` })
  const from = new Date(leaf.validFrom)
  const to = new Date(leaf.validTo)
  if (now < from) f.push({ severity: 'error', code: 'tls-not-yet-valid', message: `${tag}: not valid before ${from.toISOString()}` })
  if (now > to) f.push({ severity: 'error', code: 'tls-expired', message: `${tag}: expired at ${to.toISOString()}` })
  else if (to.getTime() - now.getTime() < warnDays * 86400000) f.push({ severity: 'warning', code: 'tls-expiring', message: `${tag}: expires ${to.toISOString()}` })
  const eku = leaf.keyUsage
  if (eku && eku.length > 0) {
    for (const u of c.needUsages) {
      const oid = u === 'serverAuth' ? SERVER_AUTH : CLIENT_AUTH
      if (!eku.includes(oid)) f.push({ severity: 'error', code: 'tls-key-usage', message: `${tag}: extended key usage lacks ${u}` })
    }
  }
  for (const url of c.urls) {
    const host = hostOf(url)
    const ok = isIP(host) ? leaf.checkIP(host) !== undefined : leaf.checkHost(host) !== undefined
    if (!ok) f.push({ severity: 'error', code: 'tls-san-missing', message: `${tag}: SANs do not cover ${host} (from ${url})` })
  }
  return f
}

/** Checks the server and peer certs named by the member's ETCD_* settings. */
export function tlsPreflight(settings: Map<string, string>, peerURLs: string[], clientURLs: string[], now = new Date()): { checked: boolean; findings: TlsFinding[] } {
  const findings: TlsFinding[] = []
  let checked = false
  const cert = settings.get('ETCD_CERT_FILE')
  const ca = settings.get('ETCD_TRUSTED_CA_FILE')
  if (cert && ca && clientURLs.some((u) => u.startsWith('https:'))) {
    checked = true
    findings.push(...checkCert({ role: 'server', certFile: cert, caFile: ca, urls: clientURLs, needUsages: ['serverAuth'] }, now))
  }
  const pcert = settings.get('ETCD_PEER_CERT_FILE')
  const pca = settings.get('ETCD_PEER_TRUSTED_CA_FILE')
  if (pcert && pca && peerURLs.some((u) => u.startsWith('https:'))) {
    checked = true
    findings.push(...checkCert({ role: 'peer', certFile: pcert, caFile: pca, urls: peerURLs, needUsages: ['serverAuth', 'clientAuth'] }, now))
  }
  if (peerURLs.some((u) => u.startsWith('https:')) && !(pcert && pca)) findings.push({ severity: 'error', code: 'tls-missing', message: 'peer URLs are https but ETCD_PEER_CERT_FILE / ETCD_PEER_TRUSTED_CA_FILE are not set' })
  return { checked, findings }
}
