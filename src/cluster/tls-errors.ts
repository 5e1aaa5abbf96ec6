/**
 * Turns gRPC/TLS/socket failures into one ClusterError with a stable `code` and plain advice, in
 * the words etcdctl users know ("x509: certificate signed by unknown authority").
 *
 * grpc-js reports a failed connection as `14 UNAVAILABLE: No connection established. Last error:
 * <node error>`; the node error text (OpenSSL's or tls.checkServerIdentity's) is what we match.
 */
import { connect as tlsConnect } from 'node:tls'
import { connect as netConnect } from 'node:net'
import { ClusterError } from '../errors.js'

/** Stable codes of cluster failures (JSON contract; tests rely on them). */
export type ClusterErrorCode =
  | 'tls-unknown-authority'
  | 'tls-hostname'
  | 'tls-expired'
  | 'tls-client-cert'
  | 'tls-plain-mismatch'
  | 'unreachable'
  | 'dial-timeout'
  | 'timeout'
  | 'auth'
  | 'permission'
  | 'unavailable'
  | 'rpc'

interface Rule {
  code: ClusterErrorCode
  re: RegExp
  what: string
  hint: (ctx: { endpoint: string; hasCa: boolean; hasCert: boolean }) => string
}

const RULES: Rule[] = [
  {
    code: 'tls-expired',
    re: /certificate has expired|CERT_HAS_EXPIRED|certificate is not yet valid|CERT_NOT_YET_VALID/i,
    what: 'x509: certificate has expired or is not yet valid',
    hint: () => 'renew the expired certificate (server, or the client certificate given with --cert), and check the clocks',
  },
  {
    code: 'tls-unknown-authority',
    re: /self[- ]signed certificate|unable to get local issuer certificate|unable to verify the first certificate|UNABLE_TO_GET_ISSUER|SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF/i,
    what: 'x509: certificate signed by unknown authority',
    hint: ({ hasCa }) => (hasCa ? "the --cacert given is not the CA that signed this member's server certificate: pass --cacert with the cluster's CA" : "pass --cacert with the cluster's CA"),
  },
  {
    code: 'tls-hostname',
    re: /Hostname\/IP does not match|ERR_TLS_CERT_ALTNAME_INVALID|IP: .* is not in the cert's list|does not match certificate's altnames/i,
    what: 'x509: certificate is not valid for this host name or IP',
    hint: ({ endpoint }) => `the server certificate's SANs do not cover ${hostOf(endpoint)}: use an endpoint name the certificate lists, or reissue it with that IP/DNS SAN`,
  },
  {
    code: 'tls-client-cert',
    re: /certificate required|alert bad certificate|bad certificate|sslv3 alert handshake failure|alert unknown ca|tlsv1 alert|tlsv13 alert/i,
    what: 'the member rejected the client certificate',
    hint: ({ hasCert }) => (hasCert ? 'the client certificate given with --cert is not accepted: use one signed by the CA in the cluster\'s --trusted-ca-file, with clientAuth usage' : 'the member requires client certificates (--client-cert-auth): pass --cert and --key'),
  },
  {
    code: 'tls-plain-mismatch',
    re: /wrong version number|packet length too long|http_request|ERR_SSL_|Protocol error|Received RST_STREAM with code 2|unexpected HTTP status|http2.*status 400|Bad Request/i,
    what: 'TLS and plain HTTP mixed up',
    hint: ({ endpoint }) => (endpoint.startsWith('https://') ? 'the member speaks plain http: use an http:// endpoint (and no TLS flags)' : 'the member speaks TLS: use an https:// endpoint and pass --cacert (and --cert/--key)'),
  },
  {
    code: 'auth',
    re: /authentication failed|invalid auth token|user name not found|invalid user ID|user name is empty|auth: .*not enabled|UNAUTHENTICATED/i,
    what: 'authentication failed',
    hint: () => 'check --user/--password (or ETCDCTL_USER/ETCDCTL_PASSWORD)',
  },
  {
    code: 'permission',
    re: /permission denied|PERMISSION_DENIED/i,
    what: 'permission denied',
    hint: () => 'the user lacks the permission for this request: use a user with the root role for cluster and maintenance calls',
  },
  {
    code: 'unreachable',
    re: /ECONNREFUSED|Connection refused|ENETUNREACH|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|getaddrinfo|No connection established|Failed to connect/i,
    what: 'connection refused or host unreachable',
    hint: ({ endpoint }) => `nothing answers at ${endpoint}: check that the member runs and that the endpoint is right`,
  },
  {
    code: 'timeout',
    re: /DEADLINE_EXCEEDED|Deadline exceeded|timed out/i,
    what: 'request timed out',
    hint: () => 'the member did not answer in time: check its health, or raise --command-timeout',
  },
  {
    code: 'unavailable',
    re: /UNAVAILABLE|unhealthy cluster|no leader|leader changed/i,
    what: 'member unavailable',
    hint: () => 'the member is up but cannot serve (no leader, or it is not connected to the cluster); try the other endpoints',
  },
]

function hostOf(endpoint: string): string {
  try {
    return new URL(endpoint).hostname
  } catch {
    return endpoint
  }
}

/** Classifies an error message; `undefined` if nothing matches. */
export function classify(message: string): Rule | undefined {
  return RULES.find((r) => r.re.test(message))
}

/**
 * Wraps any failure of a request to `endpoint` as a ClusterError whose message starts with the
 * endpoint and whose hint says what to do. ClusterErrors pass through unchanged.
 */
export function clusterErrorFrom(err: unknown, endpoint: string, what: string, ctx: { cacert?: string; cert?: string } = {}): ClusterError {
  if (err instanceof ClusterError) return err
  const raw = err instanceof Error ? err.message : String(err)
  const rule = classify(raw)
  // OpenSSL's "809C…:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/…" → the reason only.
  const ssl = /SSL routines:[^:]*:([^:]+)/.exec(raw)
  // grpc-js: "14 UNAVAILABLE: No connection established. Last error: Error: <reason>. Resolution note: …" → the reason.
  const last = /Last error: (?:Error: )?(.+?)\.?(?: Resolution note:.*)?$/s.exec(raw)
  const useful = last && last[1] !== 'null' ? last[1]! : raw
  const detail = (ssl ? ssl[1]! : useful).replace(/\s+/g, ' ').trim()
  if (!rule) return new ClusterError(`${endpoint}: ${what}: ${detail}`, 'rpc', undefined, { cause: err })
  const hint = rule.hint({ endpoint, hasCa: ctx.cacert !== undefined, hasCert: ctx.cert !== undefined })
  return new ClusterError(`${endpoint}: ${what}: ${rule.what} (${detail})`, rule.code, hint, { cause: err })
}

/** What the TLS probe needs: the same material the gRPC client uses. */
export interface ProbeMaterial {
  ca?: Buffer
  cert?: Buffer
  key?: Buffer
  insecureSkipTlsVerify: boolean
}

/**
 * grpc-js hides why a connection failed ("No connection established. Last error: null"), so after
 * such a failure we repeat the handshake with node:tls to learn the reason. Returns the socket
 * error text, or undefined when the handshake (and a short wait for a post-handshake alert, which
 * is how TLS 1.3 servers reject a client certificate) succeeds. Bounded by `timeoutMs`.
 */
export function probeTls(endpoint: string, tls: ProbeMaterial, timeoutMs: number): Promise<string | undefined> {
  const u = new URL(endpoint)
  const host = u.hostname.replace(/^\[|\]$/g, '')
  const port = Number(u.port)
  return new Promise((resolve) => {
    let done = false
    const finish = (v: string | undefined): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      sock.destroy()
      resolve(v)
    }
    const timer = setTimeout(() => finish(undefined), timeoutMs)
    const sock = u.protocol === 'https:'
      ? tlsConnect({
        host, port, ca: tls.ca, cert: tls.cert, key: tls.key, ALPNProtocols: ['h2'],
        servername: /^[\d.]+$|:/.test(host) ? undefined : host,
        rejectUnauthorized: !tls.insecureSkipTlsVerify,
        ...(tls.insecureSkipTlsVerify ? { checkServerIdentity: () => undefined } : {}),
      }, () => {
        // TLS 1.3: a rejected client certificate arrives as an alert after the handshake.
        sock.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')
        setTimeout(() => finish(undefined), Math.min(300, timeoutMs))
      })
      : netConnect({ host, port }, () => {
        // Plain endpoint: send a TLS-looking byte and see whether the server answers like TLS.
        sock.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00]))
      })
    sock.on('error', (e: Error) => finish(e.message))
    if (u.protocol !== 'https:') {
      sock.once('data', (d: Buffer) => finish(d[0] === 0x15 || d[0] === 0x16 ? 'ERR_SSL_ server answered with a TLS record: Protocol error' : undefined))
    }
  })
}
