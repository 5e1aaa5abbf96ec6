/**
 * Peer stream probe (RECOVERY.md §3.2): `GET <peer URL>/raft/stream/message/<id hex>` with the
 * cluster's `X-Etcd-Cluster-ID`. A peer answers 410 "removed member" for an ID it removed, 404
 * "error sender not found" for an ID it never knew, 412 on a cluster ID or version mismatch
 * (etcd rafthttp/http.go, streamHandler). Use it only for IDs the member list already shows
 * absent: for a current member the peer would attach the stream as that member's connection.
 */
import { request as httpsRequest } from 'node:https'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { idHex } from '../format/ids.js'
import type { ConnectionOptions, TlsMaterial } from './connection.js'

export interface PeerProbe {
  peerURL: string
  /** HTTP status, or null when the request failed (see `error`). */
  status: number | null
  /** 410: the peer confirms the removal. */
  removed: boolean
  body: string
  error: string | null
}

/** Asks the peer at `peerURL` (member `peerId` of `clusterId`) what it knows about `id`. Bounded. */
export function probePeer(peerURL: string, peerId: bigint, clusterId: bigint, id: bigint, opts: ConnectionOptions, tls: TlsMaterial): Promise<PeerProbe> {
  const url = new URL(`/raft/stream/message/${idHex(id)}`, peerURL)
  const timeout = opts.dialTimeoutMs + opts.commandTimeoutMs
  const headers = { 'X-Etcd-Cluster-ID': idHex(clusterId), 'X-Server-Version': '3.4.23', 'X-Min-Cluster-Version': '3.0.0', 'X-Raft-To': idHex(peerId), 'X-Server-From': idHex(id) }
  return new Promise((resolve) => {
    let settled = false
    const done = (p: Omit<PeerProbe, 'peerURL'>): void => {
      if (settled) return
      settled = true
      clearTimeout(t)
      req.destroy()
      resolve({ peerURL, ...p })
    }
    const onRes = (res: IncomingMessage): void => {
      let body = ''
      res.setEncoding('utf8')
      // A 200 would be a stream; read the first bytes only.
      res.on('data', (c: string) => { body += c; if (body.length > 512 || res.statusCode === 200) done({ status: res.statusCode ?? null, removed: res.statusCode === 410, body: body.slice(0, 512).trim(), error: null }) })
      res.on('end', () => done({ status: res.statusCode ?? null, removed: res.statusCode === 410, body: body.trim(), error: null }))
      res.on('error', (e) => done({ status: res.statusCode ?? null, removed: res.statusCode === 410, body: body.trim(), error: e.message }))
    }
    const req = url.protocol === 'https:'
      ? httpsRequest(url, { method: 'GET', headers, ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: !tls.insecureSkipTlsVerify, agent: false }, onRes)
      : httpRequest(url, { method: 'GET', headers, agent: false }, onRes)
    req.on('error', (e) => done({ status: null, removed: false, body: '', error: e.message }))
    const t = setTimeout(() => done({ status: null, removed: false, body: '', error: `timed out after ${timeout} ms` }), timeout)
    req.end()
  })
}
