/**
 * Connection to a live etcd, with etcdctl's flags and environment (etcdctl/ctlv3/command/global.go):
 * `--endpoints --cacert --cert --key --user --password --insecure-skip-tls-verify
 * --insecure-transport --dial-timeout --command-timeout`, each also read from `ETCDCTL_<FLAG>` when the
 * flag is not given (pkg/flags SetPflagsFromEnv: the flag wins).
 *
 * One client per endpoint: a pooled client answers from whichever member it picks, and every
 * decision here needs to know which member said what. Every call is bounded: the dial by
 * `dialTimeoutMs`, each request by `commandTimeoutMs`, and both again by a hard timer, so a frozen
 * peer cannot hang the caller. Retries and circuit breakers are off (RECOVERY.md §9).
 */
import { readFile } from 'node:fs/promises'
import grpc from '@grpc/grpc-js'
import { noop } from 'cockatiel'
import { Etcd3, type IOptions } from 'etcd3'
import { InputError, UsageError, ClusterError } from '../errors.js'
import { clusterErrorFrom, probeTls } from './tls-errors.js'

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

/** Reads the CA, cert and key files; a missing or unreadable file is an InputError naming the flag. */
export async function loadTlsMaterial(opts: ConnectionOptions): Promise<TlsMaterial> {
  const read = async (path: string | undefined, flag: string): Promise<Buffer | undefined> => {
    if (path === undefined) return undefined
    try {
      return await readFile(path)
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      throw new InputError(`cannot read --${flag} ${path}: ${e.code ?? e.message}`, path, 'input', `check the path given to --${flag} (or ETCDCTL_${flag.toUpperCase()})`)
    }
  }
  return {
    ca: await read(opts.cacert, 'cacert'),
    cert: await read(opts.cert, 'cert'),
    key: await read(opts.key, 'key'),
    insecureSkipTlsVerify: opts.insecureSkipTlsVerify,
  }
}

/** Rejects with a ClusterError('timeout') after `ms` unless `p` settles first. */
export function bounded<T>(p: Promise<T>, ms: number, what: string, endpoint?: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ClusterError(`${endpoint ? endpoint + ': ' : ''}${what} timed out after ${ms} ms`, 'timeout', 'the member did not answer in time: check it is running and reachable, or raise --command-timeout')), ms)
  })
  return Promise.race([p, limit]).finally(() => clearTimeout(timer))
}

/** gRPC call options: a deadline of `commandTimeoutMs` from now. */
export function callOptions(opts: Pick<ConnectionOptions, 'commandTimeoutMs'>): grpc.CallOptions {
  return { deadline: Date.now() + opts.commandTimeoutMs }
}

/** A client bound to one endpoint. */
export interface EndpointClient {
  endpoint: string
  /** The etcd3 client (one host, no retries, no breaker, deadlines on every unary call). */
  etcd: Etcd3
  opts: ConnectionOptions
  /** Runs one request: dials first (once), bounds it by --command-timeout, maps errors to ClusterError. */
  call<T>(what: string, fn: (callOpts: grpc.CallOptions) => Promise<T>): Promise<T>
  close(): void
}

interface PoolInternals {
  pool?: {
    hosts?: Array<{ channelCredentials: grpc.ChannelCredentials; getServiceClient(name: string): grpc.Client }>
    authenticator?: { credentials: grpc.ChannelCredentials }
  }
}

function etcdOptions(endpoint: string, opts: ConnectionOptions, tls: TlsMaterial): IOptions {
  const deadline = (): grpc.CallOptions => ({ deadline: Date.now() + opts.commandTimeoutMs })
  const o: IOptions = {
    hosts: [endpoint],
    faultHandling: { host: () => noop, global: noop },
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : deadline()),
    grpcOptions: {
      // Reconnect quickly after a refused dial instead of the 1 s default backoff.
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
      'grpc.max_receive_message_length': 64 << 20,
    },
  }
  if (endpoint.startsWith('https://') && (tls.ca || tls.cert)) {
    // etcd3 types rootCertificate as required; grpc-js uses the system roots when it is absent.
    o.credentials = { rootCertificate: tls.ca as Buffer, privateKey: tls.key, certChain: tls.cert }
  }
  if (opts.user !== undefined) o.auth = { username: opts.user, password: opts.password ?? '', callOptions: deadline }
  return o
}

/** Builds (but does not dial) a client for one endpoint. */
export function createEndpointClient(endpoint: string, opts: ConnectionOptions, tls: TlsMaterial): EndpointClient {
  const etcd = new Etcd3(etcdOptions(endpoint, opts, tls))
  const internals = etcd as unknown as PoolInternals
  if (endpoint.startsWith('https://') && tls.insecureSkipTlsVerify) {
    // etcd3 has no option for this; grpc-js does (verifyOptions), so swap the channel credentials
    // before the first call creates a channel.
    const creds = grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null, {
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
    })
    for (const h of internals.pool?.hosts ?? []) h.channelCredentials = creds
    if (internals.pool?.authenticator) internals.pool.authenticator.credentials = creds
  }
  let dialed: Promise<void> | undefined
  const client: EndpointClient = {
    endpoint,
    etcd,
    opts,
    async call<T>(what: string, fn: (callOpts: grpc.CallOptions) => Promise<T>): Promise<T> {
      try {
        dialed ??= dial(internals, endpoint, opts.dialTimeoutMs)
        await dialed
        // Auth adds one token round trip before the request; give it its own command timeout.
        const hard = opts.commandTimeoutMs * (opts.user !== undefined ? 2 : 1) + 250
        return await bounded(fn(callOptions(opts)), hard, what, endpoint)
      } catch (err) {
        const e = clusterErrorFrom(err, endpoint, what, opts)
        if ((e.code === 'unreachable' || e.code === 'unavailable') && /No connection established|Last error: null/i.test(e.message)) {
          const why = await probeTls(endpoint, tls, Math.min(1000, opts.dialTimeoutMs))
          if (why) throw clusterErrorFrom(new Error(why), endpoint, what, opts)
        }
        throw e
      }
    },
    close() {
      try {
        etcd.close()
      } catch {
        // closing twice or closing a never-dialed client is harmless
      }
    },
  }
  return client
}

/**
 * Waits until the endpoint's channel is READY, bounded by the dial timeout. A TRANSIENT_FAILURE
 * (refused, TLS handshake failure) returns at once: the request that follows fails fast and carries
 * the reason (the channel state alone does not say why).
 */
async function dial(internals: PoolInternals, endpoint: string, dialTimeoutMs: number): Promise<void> {
  const host = internals.pool?.hosts?.[0]
  if (!host) return
  const channel = host.getServiceClient('Maintenance').getChannel()
  const deadline = Date.now() + dialTimeoutMs
  for (;;) {
    const state = channel.getConnectivityState(true)
    if (state === grpc.connectivityState.READY || state === grpc.connectivityState.TRANSIENT_FAILURE) return
    if (state === grpc.connectivityState.SHUTDOWN) throw new ClusterError(`${endpoint}: client closed`, 'closed')
    if (Date.now() >= deadline) {
      throw new ClusterError(`${endpoint}: dial timed out after ${dialTimeoutMs} ms`, 'dial-timeout', 'the member did not accept a connection in time: check that it runs and that the address is right, or raise --dial-timeout')
    }
    await new Promise<void>((resolve) => channel.watchConnectivityState(state, deadline, () => resolve()))
  }
}

/**
 * Creates one client per endpoint on demand and closes them all at the end. Use `withClients`
 * to make sure they are closed.
 */
export class ClientFactory {
  private readonly clients = new Map<string, EndpointClient>()
  private constructor(readonly opts: ConnectionOptions, readonly tls: TlsMaterial) {}

  static async create(opts: ConnectionOptions): Promise<ClientFactory> {
    return new ClientFactory(opts, await loadTlsMaterial(opts))
  }

  /** The client for `endpoint` (a URL; created on first use). */
  forEndpoint(endpoint: string): EndpointClient {
    const ep = normaliseEndpoint(endpoint, endpoint.startsWith('https://'))
    let c = this.clients.get(ep)
    if (!c) {
      c = createEndpointClient(ep, this.opts, this.tls)
      this.clients.set(ep, c)
    }
    return c
  }

  /** Clients for the configured endpoints. */
  configured(): EndpointClient[] {
    return this.opts.endpoints.map((e) => this.forEndpoint(e))
  }

  close(): void {
    for (const c of this.clients.values()) c.close()
    this.clients.clear()
  }
}

/** Runs `fn` with a client factory and always closes every client afterwards. */
export async function withClients<T>(opts: ConnectionOptions, fn: (f: ClientFactory) => Promise<T>): Promise<T> {
  const f = await ClientFactory.create(opts)
  try {
    return await fn(f)
  } finally {
    f.close()
  }
}
