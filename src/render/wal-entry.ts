/**
 * The presentation of one decoded WAL entry (app/wal.ts `WalEntry`) in the JSON contract of
 * docs/wal.md: keys as text (else 0x-hex with `keyEncoding`), values redacted (length + sha256)
 * unless --show-values and classified as `db keys` classifies them (format/k8s/value.ts), IDs in
 * etcdctl hex. Every format of `wal` starts from this shape; the JSON line of an entry is
 * render/wal-line.ts.
 */
import { idHex } from '../format/ids.js'
import { formatBytes, isPrintable, type FormattedBytes } from '../format/value.js'
import { classifyValue, type ValueClass } from '../format/k8s/value.js'
import type { EntryTypeName, MemberContext, Request, RequestOp, V2Request } from '../format/raft/entry.js'
import type { WalEntry, WalResult } from '../app/wal.js'

/** A presented value: redacted by default. */
export type ValueOut = FormattedBytes & { type?: string }

/** One entry in the JSON contract (docs/wal.md). */
export interface WalEntryOut {
  index: bigint
  term: bigint
  type: EntryTypeName
  file: string
  offset: number
  dataBytes: number
  /** index <= last HardState.commit */
  committed: boolean
  /** entries (index, term) this one replaced: uncommitted entries overwritten by a new leader */
  replaces?: { index: bigint; term: bigint; file: string; offset: number }[]
  /** true when a later entry with the same index replaced this one */
  replaced?: boolean
  request?: Record<string, unknown> & { kind: string }
  header?: Record<string, unknown>
  confChange?: Record<string, unknown>
  confChangeV2?: Record<string, unknown>
  unknown?: { reason: string; hex: string }
}


// Presentation: bytes → text/hex, values redacted unless --show-values, IDs → etcdctl hex.
function keyOut(o: Record<string, unknown>, name: string, b: Uint8Array | undefined): void {
  if (b === undefined) return
  if (isPrintable(b)) o[name] = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')
  else {
    o[name] = '0x' + Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
    o[name + 'Encoding'] = 'hex'
  }
}
function valueOut(v: Uint8Array, show: boolean, c: ValueClass = classifyValue(v)): ValueOut {
  const f: ValueOut = formatBytes(v, show ? 'auto' : 'redacted')
  if (c.kind !== 'opaque') f.type = c.kind
  return f
}
function presentOp(r: RequestOp | Request, show: boolean): Record<string, unknown> & { kind: string } {
  const o: Record<string, unknown> & { kind: string } = { kind: r.kind }
  switch (r.kind) {
    case 'put':
      keyOut(o, 'key', r.key)
      {
        // Classified as `db keys` classifies a stored value (format/k8s/value.ts), payload not printed.
        const c = classifyValue(r.value)
        o.value = valueOut(r.value, show, c)
        o.valueClass = c
      }
      if (r.lease !== 0n) o.lease = idHex(r.lease)
      if (r.prevKv) o.prevKv = true
      if (r.ignoreValue) o.ignoreValue = true
      if (r.ignoreLease) o.ignoreLease = true
      return o
    case 'deleteRange':
    case 'range':
      for (const [k, v] of Object.entries(r)) {
        if (k === 'kind') continue
        if (v instanceof Uint8Array) keyOut(o, k, v)
        else o[k] = v
      }
      return o
    case 'txn':
      o.compare = r.compare.map((c) => {
        const co: Record<string, unknown> = { result: c.result, target: c.target }
        keyOut(co, 'key', c.key)
        keyOut(co, 'rangeEnd', c.rangeEnd)
        if (c.version !== undefined) co.version = c.version
        if (c.createRevision !== undefined) co.createRevision = c.createRevision
        if (c.modRevision !== undefined) co.modRevision = c.modRevision
        if (c.lease !== undefined) co.lease = idHex(c.lease)
        if (c.value !== undefined) co.value = valueOut(c.value, show)
        // proto3 zero values are not written: fill the compared field so the JSON says what is compared.
        if (c.target === 'VERSION' && c.version === undefined) co.version = 0n
        if (c.target === 'CREATE' && c.createRevision === undefined) co.createRevision = 0n
        if (c.target === 'MOD' && c.modRevision === undefined) co.modRevision = 0n
        return co
      })
      o.success = r.success.map((x) => presentOp(x, show))
      o.failure = r.failure.map((x) => presentOp(x, show))
      return o
    case 'leaseGrant': return { kind: r.kind, id: idHex(r.id), ttl: r.ttl }
    case 'leaseRevoke': return { kind: r.kind, id: idHex(r.id) }
    case 'leaseCheckpoint': return { kind: r.kind, checkpoints: r.checkpoints.map((c) => ({ id: idHex(c.id), remainingTtl: c.remainingTtl })) }
    case 'alarm': return { kind: r.kind, action: r.action, memberId: idHex(r.memberId), alarm: r.alarm }
    case 'v2': return presentV2(r as V2Request, show)
    case 'clusterMemberAttrSet': return { ...(r as Record<string, unknown>), kind: r.kind, memberId: idHex(r.memberId as bigint) }
    case 'authRoleGrantPermission': {
      const perm = { ...(r.perm as Record<string, unknown>) }
      keyOut(perm, 'key', perm.key as Uint8Array)
      keyOut(perm, 'rangeEnd', perm.rangeEnd as Uint8Array | undefined)
      return { kind: r.kind, name: r.name, perm }
    }
    case 'authRoleRevokePermission': {
      const out: Record<string, unknown> & { kind: string } = { kind: r.kind, role: r.role }
      keyOut(out, 'key', r.key as Uint8Array | undefined)
      keyOut(out, 'rangeEnd', r.rangeEnd as Uint8Array | undefined)
      return out
    }
    default: {
      for (const [k, v] of Object.entries(r)) if (k !== 'kind') o[k] = v instanceof Uint8Array ? formatBytes(v, 'auto') : v
      return o
    }
  }
}
/**
 * A v2 Request (2.x, or wrapped in InternalRaftRequest.v2 up to 3.5). `val` and `prevValue` are
 * user values under /1 and redacted like v3 values unless --show-values; etcd's own records under
 * /0 (member attributes, cluster version) stay readable, like a conf change's member context.
 */
function presentV2(r: V2Request, show: boolean): Record<string, unknown> & { kind: string } {
  const o: Record<string, unknown> & { kind: string } = { kind: 'v2' }
  for (const [k, v] of Object.entries(r)) if (k !== 'kind') o[k] = v
  o.id = idHex(r.id)
  const internal = r.path === '/0/version' || r.path.startsWith('/0/members/')
  if (!show && !internal) {
    for (const k of ['val', 'prevValue'] as const) {
      const v = r[k]
      if (typeof v === 'string' && v !== '') o[k] = formatBytes(Buffer.from(v, 'utf8'), 'redacted')
    }
  }
  return o
}
function memberOut(m: MemberContext): Record<string, unknown> {
  return { ...m, id: idHex(m.id) }
}

/** Options of the presentation. */
export interface PresentOptions {
  /** Print put values (printable text as text, else hex) instead of length + sha256. */
  showValues?: boolean
}

/** Turns one decoded entry into its JSON-contract shape (copies every byte it keeps). */
export function presentEntry(d: WalEntry, opts: PresentOptions = {}): WalEntryOut {
  const show = opts.showValues ?? false
  const out: WalEntryOut = { index: d.index, term: d.term, type: d.type, file: d.file, offset: d.offset, dataBytes: d.dataBytes, committed: d.committed }
  if (d.replaces?.length) out.replaces = d.replaces
  const p = d.payload
  switch (p.kind) {
    case 'noop':
      out.request = { kind: 'noop' }
      break
    case 'irr':
      out.request = presentOp(p.request, show)
      if (p.header) {
        const h: Record<string, unknown> = {}
        if (p.header.id !== undefined) h.id = idHex(p.header.id)
        if (p.header.username) h.username = p.header.username
        if (p.header.authRevision !== undefined) h.authRevision = p.header.authRevision
        out.header = h
      }
      break
    case 'v2Request':
      out.request = presentV2(p.request, show)
      break
    case 'confChange': {
      const c = p.confChange
      const o: Record<string, unknown> = { type: c.type, nodeId: idHex(c.nodeId), id: idHex(c.id) }
      if (c.member) o.member = memberOut(c.member)
      if (c.context) o.context = formatBytes(c.context, 'auto')
      if (c.idMismatch) o.idMismatch = true
      out.confChange = o
      break
    }
    case 'confChangeV2': {
      const c = p.confChangeV2
      const o: Record<string, unknown> = { transition: c.transition, changes: c.changes.map((x) => ({ type: x.type, nodeId: idHex(x.nodeId) })) }
      if (c.member) o.member = memberOut(c.member)
      if (c.context) o.context = formatBytes(c.context, 'auto')
      out.confChangeV2 = o
      break
    }
    case 'unknown':
      out.request = { kind: 'unknown' }
      out.unknown = { reason: p.reason, hex: Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength).toString('hex') }
      break
  }
  // a later entry with the same index replaced this one: last in the key order
  if (d.replaced) out.replaced = true
  return out
}

/** A `wal` result with its entries presented: what `-w json` prints (toJson of it). */
export type WalResultOut = Omit<WalResult, 'entries'> & { entries: WalEntryOut[] }

/** The JSON contract of a whole `runWal` result. */
export function presentWalResult(r: WalResult, opts: PresentOptions = {}): WalResultOut {
  return { ...r, entries: r.entries.map((e) => presentEntry(e, opts)) }
}
