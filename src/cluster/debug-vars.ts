/**
 * `GET <client URL>/debug/vars` → `raft.status` (etcd 3.4+). On the leader it holds each
 * follower's progress (`match` = the last index the leader knows the follower has), the only API
 * view of what the `tocommit(X) is out of range` panic depends on (RECOVERY.md §3.2). Followers
 * publish an empty `progress`.
 */
import { request as httpsRequest } from 'node:https'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { ClusterError } from '../errors.js'
import { parseId } from '../format/ids.js'
import type { ConnectionOptions, TlsMaterial } from './connection.js'
import { clusterErrorFrom } from './tls-errors.js'

export interface Progress {
  id: bigint
  idHex: string
  match: bigint
  next: bigint
  state: string
}

export interface RaftStatus {
  endpoint: string
  id: bigint
  idHex: string
  term: bigint
  commit: bigint
  applied: bigint
  lead: bigint
  raftState: string
  /** Empty unless this member is the leader. */
  progress: Progress[]
}

const MAX_BODY = 8 << 20

function get(url: URL, opts: ConnectionOptions, tls: TlsMaterial): Promise<string> {
  const timeout = opts.dialTimeoutMs + opts.commandTimeoutMs
  return new Promise((resolve, reject) => {
    const onRes = (res: IncomingMessage): void => {
      if (res.statusCode !== 200) {
        res.resume()
        reject(new ClusterError(`${url.origin}: GET /debug/vars: HTTP ${res.statusCode}`, 'rpc'))
        return
      }
      const chunks: Buffer[] = []
      let n = 0
      res.on('data', (c: Buffer) => {
        n += c.length
        if (n > MAX_BODY) {
          req.destroy(new Error('/debug/vars larger than 8 MiB'))
          return
        }
        chunks.push(c)
      })
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
      res.on('error', reject)
    }
    const req = url.protocol === 'https:'
      ? httpsRequest(url, {
        method: 'GET', timeout, ca: tls.ca, cert: tls.cert, key: tls.key,
        rejectUnauthorized: !tls.insecureSkipTlsVerify, agent: false,
        ...(tls.insecureSkipTlsVerify ? { checkServerIdentity: () => undefined } : {}),
      }, onRes)
      : httpRequest(url, { method: 'GET', timeout, agent: false }, onRes)
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeout} ms`)))
    req.on('error', reject)
    // Hard bound as well: 'timeout' is an idle timer, not a total one.
    const t = setTimeout(() => req.destroy(new Error(`timed out after ${timeout} ms`)), timeout)
    req.on('close', () => clearTimeout(t))
    req.end()
  })
}

/** Numbers in expvar JSON may exceed 2^53: read them as bigint from the raw text. */
function bigintJson(text: string): unknown {
  return JSON.parse(text.replace(/([:\[,]\s*)(-?\d{16,})(?=\s*[,}\]])/g, '$1"$2"'))
}

const big = (v: unknown): bigint => (typeof v === 'number' ? BigInt(v) : typeof v === 'string' && /^-?\d+$/.test(v) ? BigInt(v) : 0n)
const hexId = (v: unknown): bigint => (typeof v === 'string' ? parseId(v) ?? 0n : 0n)

/** Parses the `raft.status` object of a /debug/vars body. */
export function parseRaftStatus(endpoint: string, body: string): RaftStatus | undefined {
  const vars = bigintJson(body) as Record<string, unknown>
  const s = vars['raft.status'] as Record<string, unknown> | undefined
  if (!s || typeof s !== 'object') return undefined
  const prog = (s.progress ?? {}) as Record<string, Record<string, unknown>>
  const progress: Progress[] = Object.entries(prog).map(([k, p]) => {
    const id = parseId(k) ?? 0n
    return { id, idHex: id.toString(16), match: big(p.match), next: big(p.next), state: String(p.state ?? '') }
  })
  const id = hexId(s.id)
  const lead = hexId(s.lead)
  return { endpoint, id, idHex: id.toString(16), term: big(s.term), commit: big(s.commit), applied: big(s.applied), lead, raftState: String(s.raftState ?? ''), progress }
}

/** Fetches and parses `raft.status` from `endpoint` (a client URL). */
export async function raftStatus(endpoint: string, opts: ConnectionOptions, tls: TlsMaterial): Promise<RaftStatus | undefined> {
  const url = new URL('/debug/vars', endpoint)
  try {
    return parseRaftStatus(endpoint, await get(url, opts, tls))
  } catch (err) {
    throw clusterErrorFrom(err, endpoint, 'GET /debug/vars', opts)
  }
}
