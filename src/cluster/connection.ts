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
import { InputError, ClusterError } from '../errors.js'
import { clusterErrorFrom, probeTls } from './tls-errors.js'

export {
  DEFAULT_ENDPOINTS, DEFAULT_DIAL_TIMEOUT_MS, DEFAULT_COMMAND_TIMEOUT_MS, parseGoDuration, resolveConnectionOptions, normaliseEndpoint,
  type ConnectionFlags, type ConnectionOptions, type TlsMaterial,
} from './settings.js'
import { normaliseEndpoint, type ConnectionOptions, type TlsMaterial } from './settings.js'

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
      // Subchannels owned by this channel: close() then also ends a connection still being dialled
      // (the global pool keeps it, and its socket keeps the process alive after the answer).
      'grpc.use_local_subchannel_pool': 1,
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
