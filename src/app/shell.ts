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
}

/** The connection flags as etcdctl arguments (no password: it would end up in shell history). */
export function connectionFlagsText(c: FlagSource, endpoints = c.endpoints): string {
  const parts = [`--endpoints=${endpoints.join(',')}`]
  if (c.cacert) parts.push(`--cacert=${shellQuote(c.cacert)}`)
  if (c.cert) parts.push(`--cert=${shellQuote(c.cert)}`)
  if (c.key) parts.push(`--key=${shellQuote(c.key)}`)
  if (c.user) parts.push(`--user=${shellQuote(c.user)}`)
  if (c.insecureSkipTlsVerify) parts.push('--insecure-skip-tls-verify')
  return parts.join(' ')
}
