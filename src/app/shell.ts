/**
 * Commands printed for the operator to paste (check's and replace's next steps): POSIX shell
 * quoting and etcdctl's connection flags. One home, so every printed command quotes alike.
 */

/** Quotes `s` for a POSIX shell when it holds anything beyond a safe set. */
export const shellQuote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)

/** The connection settings a printed command needs (a subset of ConnectionOptions and ConnectionSpec). */
export interface FlagSource {
  endpoints: string[]
  cacert?: string
  cert?: string
  key?: string
  user?: string
  insecureSkipTlsVerify?: boolean
  /** Printed only when they differ from etcdctl's defaults (2s, 5s). */
  dialTimeoutMs?: number
  commandTimeoutMs?: number
}

/** etcdctl's own defaults: a printed command leaves them out. */
const ETCDCTL_DIAL_TIMEOUT_MS = 2000
const ETCDCTL_COMMAND_TIMEOUT_MS = 5000

/** A Go duration for a flag (`1s`, `1500ms`). */
const goDuration = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`)

/** The connection flags as etcdctl arguments (no password: it would end up in shell history). */
export function connectionFlagsText(c: FlagSource, endpoints = c.endpoints): string {
  const parts = [`--endpoints=${endpoints.join(',')}`]
  if (c.cacert) parts.push(`--cacert=${shellQuote(c.cacert)}`)
  if (c.cert) parts.push(`--cert=${shellQuote(c.cert)}`)
  if (c.key) parts.push(`--key=${shellQuote(c.key)}`)
  if (c.user) parts.push(`--user=${shellQuote(c.user)}`)
  if (c.insecureSkipTlsVerify) parts.push('--insecure-skip-tls-verify')
  // The operator's timeouts go on too: the printed command then fails as fast as the check did
  // against a member that is down, instead of etcdctl's 5 s per endpoint.
  if (c.dialTimeoutMs !== undefined && c.dialTimeoutMs !== ETCDCTL_DIAL_TIMEOUT_MS) parts.push(`--dial-timeout=${goDuration(c.dialTimeoutMs)}`)
  if (c.commandTimeoutMs !== undefined && c.commandTimeoutMs !== ETCDCTL_COMMAND_TIMEOUT_MS) parts.push(`--command-timeout=${goDuration(c.commandTimeoutMs)}`)
  return parts.join(' ')
}
