/**
 * One bucket entry decoded by etcd's schema, for `db keys` and `db get`: revision keys and mvcc
 * KeyValues in `key`, integers and revisions in `meta`, member JSON, leases, users (password never
 * included), roles, alarms. Raw values are formatted with the shared formatter: redacted by default
 * in the buckets that can hold secrets (`key`, `authUsers`), shown in the others.
 */
import { formatBytes, type BytesMode, type FormattedBytes } from '../value.js'
import { idHex } from '../ids.js'
import { classifyValue, type ValueClass } from '../k8s/value.js'
import { BUCKET_LEAF_FLAG } from '../bbolt/page.js'
import type { Entry } from '../bbolt/walk.js'
import { decodeConfState, decodeU64be } from './meta-keys.js'
import { decodeMember, type Member } from './members.js'
import { decodeAlarm, decodeKeyValue, decodeLease, decodeRole, decodeUser } from './proto.js'
import { decodeRevision, type Revision } from './revision.js'

/** Buckets whose values may hold secrets: redacted unless --show-values. */
export const SECRET_BUCKETS = new Set(['key', 'authUsers'])

/** A decoded mvcc KeyValue. */
export interface DecodedKv {
  key: FormattedBytes
  createRevision: bigint
  modRevision: bigint
  version: bigint
  /** The lease ID, etcdctl hex ("0": none). */
  lease: string
  value: FormattedBytes
  valueClass: ValueClass
}

/** One entry as `db keys`/`db get` return it. */
export interface DecodedEntry {
  /** The bbolt key (auto format). */
  key: FormattedBytes
  /** Value length in bytes. */
  valueSize: number
  /** True when the entry is a nested bucket. */
  bucket?: true
  /** `key` bucket: the revision. */
  revision?: Revision
  /** `key` bucket: the KeyValue. */
  kv?: DecodedKv
  /** Schema-decoded value in the other buckets. */
  decoded?: unknown
  /** The raw value (other buckets; for `key` see kv.value). */
  value?: FormattedBytes
  /** Set when the value did not decode as the schema says. */
  error?: string
}

export interface EntryOptions {
  /** Print values in the secret buckets (default false: redacted). */
  showValues?: boolean
  /** Format of shown values (default auto). */
  valueFormat?: Exclude<BytesMode, 'redacted'>
  file?: string
}

const text = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')

/** Decodes one entry of `bucket`. Never throws on a bad value: the error is in `error`. */
export function decodeEntry(bucket: string, e: Entry, opts: EntryOptions = {}): DecodedEntry {
  const file = opts.file ?? '<db>'
  const shown: BytesMode = opts.valueFormat ?? 'auto'
  const valueMode: BytesMode = SECRET_BUCKETS.has(bucket) && !opts.showValues ? 'redacted' : shown
  const out: DecodedEntry = { key: formatBytes(e.key, 'auto'), valueSize: e.value.length }
  if ((e.flags & BUCKET_LEAF_FLAG) !== 0) {
    out.bucket = true
    return out
  }
  const off = e.pageOffset + e.at
  try {
    switch (bucket) {
      case 'key': {
        out.revision = decodeRevision(e.key, file, off)
        const kv = decodeKeyValue(e.value, file, off)
        out.kv = {
          key: formatBytes(kv.key, 'auto'), createRevision: kv.createRevision, modRevision: kv.modRevision,
          version: kv.version, lease: idHex(kv.lease),
          value: formatBytes(kv.value, valueMode), valueClass: classifyValue(kv.value),
        }
        return out
      }
      case 'meta': {
        const k = text(e.key)
        if (k === 'consistent_index' || k === 'term') out.decoded = decodeU64be(e.value, `meta/${k}`, file, off)
        else if (k === 'finishedCompactRev' || k === 'scheduledCompactRev') out.decoded = decodeRevision(e.value, file, off)
        else if (k === 'confState') out.decoded = decodeConfState(e.value, file, off)
        break
      }
      case 'members': {
        const { id: _id, idHex: id, ...m }: Member = decodeMember(text(e.key), e.value, file, off)
        out.decoded = { id, ...m }
        break
      }
      case 'lease': {
        const l = decodeLease(e.value, file, off)
        out.decoded = { id: idHex(l.id), ttl: l.ttl, remainingTtl: l.remainingTtl }
        break
      }
      case 'authUsers': {
        const u = decodeUser(e.value, file, off)
        out.decoded = { name: u.name, roles: u.roles, password: u.hasPassword ? '<redacted>' : '', noPassword: u.noPassword }
        // The raw value carries the bcrypt hash: never print it, even with --show-values.
        out.value = formatBytes(e.value, 'redacted')
        return out
      }
      case 'authRoles': {
        const r = decodeRole(e.value, file, off)
        out.decoded = { name: r.name, permissions: r.permissions.map((p) => ({ permType: p.permType, key: formatBytes(p.key, 'auto'), rangeEnd: formatBytes(p.rangeEnd, 'auto') })) }
        break
      }
      case 'alarm': {
        const a = decodeAlarm(e.key, file, off)
        out.decoded = { memberId: idHex(a.memberId), alarm: a.alarm }
        break
      }
      case 'auth': {
        const k = text(e.key)
        if (k === 'authEnabled') out.decoded = e.value.length === 1 && e.value[0] === 1
        else if (k === 'authRevision') out.decoded = decodeU64be(e.value, 'auth/authRevision', file, off)
        break
      }
    }
  } catch (err) {
    out.error = (err as Error).message
  }
  out.value = formatBytes(e.value, valueMode)
  return out
}

/**
 * Parses a key given on the command line: `0x…`/--hex as hex; in the `key` bucket `MAIN`,
 * `MAIN_SUB` or `MAIN_SUBt` as a revision; otherwise the UTF-8 bytes of the text.
 */
export function parseKeyArg(bucket: string, arg: string, hex = false): Uint8Array | null {
  if (hex || /^0x[0-9a-fA-F]*$/.test(arg)) {
    const h = arg.replace(/^0x/i, '')
    if (!/^([0-9a-fA-F]{2})*$/.test(h)) return null
    return Uint8Array.from(Buffer.from(h, 'hex'))
  }
  if (bucket === 'key') {
    const m = /^(\d+)(?:_(\d+)(t?))?$/.exec(arg)
    if (m) {
      const b = new Uint8Array(m[3] ? 18 : 17)
      const v = new DataView(b.buffer)
      v.setBigInt64(0, BigInt(m[1]!), false)
      b[8] = 0x5f
      v.setBigInt64(9, BigInt(m[2] ?? '0'), false)
      if (m[3]) b[17] = 0x74
      return b
    }
  }
  return Uint8Array.from(Buffer.from(arg, 'utf8'))
}
