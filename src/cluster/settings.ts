/**
 * etcdctl's connection flags and environment resolved into ConnectionOptions
 * (etcdctl/ctlv3/command/global.go; pkg/flags SetPflagsFromEnv: a flag wins over `ETCDCTL_*`).
 * Pure and free of the gRPC client, so the CLI can parse flags without loading etcd3.
 */
import { UsageError } from '../errors.js'

/** etcdctl's defaults. */
export const DEFAULT_ENDPOINTS = ['127.0.0.1:2379']
export const DEFAULT_DIAL_TIMEOUT_MS = 2000
export const DEFAULT_COMMAND_TIMEOUT_MS = 5000

/** The connection flags as commander hands them over (all optional: env and defaults fill in). */
export interface ConnectionFlags {
  endpoints?: string | string[]
  cacert?: string
  cert?: string
  key?: string
  user?: string
  password?: string
  insecureSkipTlsVerify?: boolean
  insecureTransport?: boolean
  dialTimeout?: string
  commandTimeout?: string
}

/** Resolved, validated connection settings. */
export interface ConnectionOptions {
  /** Endpoint URLs with scheme (`https://127.0.0.1:2379`), in the order given, deduplicated. */
  endpoints: string[]
  cacert?: string
  cert?: string
  key?: string
  user?: string
  password?: string
  insecureSkipTlsVerify: boolean
  dialTimeoutMs: number
  commandTimeoutMs: number
}

/** File contents for TLS, read once. */
export interface TlsMaterial {
  ca?: Buffer
  cert?: Buffer
  key?: Buffer
  insecureSkipTlsVerify: boolean
}

const GO_DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** Parses a Go duration (`2s`, `500ms`, `1m30s`) into milliseconds. A bare number means seconds. */
export function parseGoDuration(s: string, flag: string): number {
  const t = s.trim()
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000)
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy
  let total = 0
  let m: RegExpExecArray | null
  let consumed = 0
  while ((m = re.exec(t)) !== null) {
    total += Number(m[1]) * GO_DURATION_UNITS[m[2]!]!
    consumed = re.lastIndex
  }
  if (t.length === 0 || consumed !== t.length) {
    throw new UsageError(`invalid duration "${s}" for --${flag}`, 'use a Go duration such as 2s, 500ms or 1m')
  }
  return Math.round(total)
}

function envBool(v: string | undefined): boolean | undefined {
  if (v === undefined || v === '') return undefined
  if (/^(1|t|true)$/i.test(v)) return true
  if (/^(0|f|false)$/i.test(v)) return false
  return undefined
}

function splitList(v: string | string[] | undefined): string[] | undefined {
  if (v === undefined) return undefined
  const parts = (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean)
  return parts.length ? parts : undefined
}

/**
 * Flags first, then `ETCDCTL_*`, then etcdctl's defaults. An endpoint without a scheme uses https
 * when any TLS flag is set (etcdctl's `--insecure-transport=false` case), else http.
 */
export function resolveConnectionOptions(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): ConnectionOptions {
  const pick = (flag: string | undefined, name: string): string | undefined => (flag !== undefined && flag !== '' ? flag : env[`ETCDCTL_${name}`] || undefined)
  const cacert = pick(flags.cacert, 'CACERT')
  const cert = pick(flags.cert, 'CERT')
  const key = pick(flags.key, 'KEY')
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError(cert ? '--cert given without --key' : '--key given without --cert', 'pass both the client certificate and its key')
  }
  const insecureSkipTlsVerify = flags.insecureSkipTlsVerify ?? envBool(env.ETCDCTL_INSECURE_SKIP_TLS_VERIFY) ?? false
  const insecureTransport = flags.insecureTransport ?? envBool(env.ETCDCTL_INSECURE_TRANSPORT) ?? true
  const tls = cacert !== undefined || cert !== undefined || insecureSkipTlsVerify || !insecureTransport
  const raw = splitList(flags.endpoints) ?? splitList(env.ETCDCTL_ENDPOINTS) ?? DEFAULT_ENDPOINTS
  const endpoints = [...new Set(raw.map((e) => normaliseEndpoint(e, tls)))]

  let user = pick(flags.user, 'USER')
  let password = pick(flags.password, 'PASSWORD')
  if (user !== undefined && password === undefined) {
    const i = user.indexOf(':')
    if (i < 0) throw new UsageError(`--user ${user} has no password`, 'use --user name:password, --password or ETCDCTL_PASSWORD (no interactive prompt)')
    password = user.slice(i + 1)
    user = user.slice(0, i)
  }
  if (user === '') throw new UsageError('--user has an empty user name', 'use --user name:password')

  const dialTimeoutMs = parseGoDuration(pick(flags.dialTimeout, 'DIAL_TIMEOUT') ?? '2s', 'dial-timeout')
  const commandTimeoutMs = parseGoDuration(pick(flags.commandTimeout, 'COMMAND_TIMEOUT') ?? '5s', 'command-timeout')
  if (dialTimeoutMs <= 0) throw new UsageError('--dial-timeout must be positive')
  if (commandTimeoutMs <= 0) throw new UsageError('--command-timeout must be positive')
  return { endpoints, cacert, cert, key, user, password, insecureSkipTlsVerify, dialTimeoutMs, commandTimeoutMs }
}

/** `host:port` → `scheme://host:port`; keeps a given scheme; rejects anything that is not http(s). */
export function normaliseEndpoint(e: string, tls: boolean): string {
  let s = e.trim()
  if (s.startsWith('unix://') || s.startsWith('unixs://')) throw new UsageError(`unsupported endpoint ${e}`, 'use http(s)://host:port')
  if (!/^[a-z]+:\/\//i.test(s)) s = `${tls ? 'https' : 'http'}://${s}`
  let u: URL
  try {
    u = new URL(s)
  } catch {
    throw new UsageError(`invalid endpoint "${e}"`, 'use host:port or https://host:port')
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`unsupported endpoint scheme in ${e}`, 'use http:// or https://')
  if (!u.port) throw new UsageError(`endpoint ${e} has no port`, 'etcd client URLs carry a port, e.g. https://10.0.0.1:2379')
  return `${u.protocol}//${u.host}`
}
