/**
 * Minimal strict decoders for the small etcd messages stored in the backend (mvccpb.KeyValue,
 * leasepb.Lease, authpb.User/Role, etcdserverpb.AlarmMember), on top of the strict wire walker:
 * 64-bit fields stay bigint, wrong wire types and overlong lengths are DecodeErrors with offsets.
 */
import { DecodeError } from '../../errors.js'
import { ProtoReader, WireType } from '../protowire.js'

type Handler = (r: ProtoReader, wire: WireType, field: number, at: number) => boolean

/** Walks a message, calling `h` for each field; unhandled fields are skipped as Go does. */
export function walkMessage(buf: Uint8Array, file: string, base: number, h: Handler): void {
  const r = new ProtoReader(buf, file, base)
  while (!r.done) {
    const at = r.pos
    const { field, wire } = r.tag()
    if (!h(r, wire, field, at)) r.skip(wire, field)
  }
}

function want(r: ProtoReader, msg: string, field: number, wire: WireType, expected: WireType, at: number): void {
  if (wire !== expected) r.fail('bad-protobuf', `protobuf: ${msg} field ${field} has wire type ${wire}, want ${expected}`, at)
}

/** mvccpb.KeyValue. */
export interface KeyValue {
  key: Uint8Array
  createRevision: bigint
  modRevision: bigint
  version: bigint
  value: Uint8Array
  /** Lease ID (0 = none). */
  lease: bigint
}

const EMPTY: Uint8Array = new Uint8Array(0)

/** Decodes an mvccpb.KeyValue. */
export function decodeKeyValue(buf: Uint8Array, file = '<value>', base = 0): KeyValue {
  const kv: KeyValue = { key: EMPTY, createRevision: 0n, modRevision: 0n, version: 0n, value: EMPTY, lease: 0n }
  walkMessage(buf, file, base, (r, wire, field, at) => {
    switch (field) {
      case 1: want(r, 'KeyValue', field, wire, WireType.Bytes, at); kv.key = r.bytes(); return true
      case 2: want(r, 'KeyValue', field, wire, WireType.Varint, at); kv.createRevision = BigInt.asIntN(64, r.varint64()); return true
      case 3: want(r, 'KeyValue', field, wire, WireType.Varint, at); kv.modRevision = BigInt.asIntN(64, r.varint64()); return true
      case 4: want(r, 'KeyValue', field, wire, WireType.Varint, at); kv.version = BigInt.asIntN(64, r.varint64()); return true
      case 5: want(r, 'KeyValue', field, wire, WireType.Bytes, at); kv.value = r.bytes(); return true
      case 6: want(r, 'KeyValue', field, wire, WireType.Varint, at); kv.lease = BigInt.asIntN(64, r.varint64()); return true
      default: return false
    }
  })
  return kv
}

/** Reads only field 1 (key) of a KeyValue: the fast path for counting live keys. */
export function keyValueKey(buf: Uint8Array, file = '<value>', base = 0): Uint8Array {
  let key: Uint8Array = EMPTY
  walkMessage(buf, file, base, (r, wire, field, at) => {
    if (field !== 1) return false
    want(r, 'KeyValue', field, wire, WireType.Bytes, at)
    key = r.bytes()
    return true
  })
  return key
}

/** leasepb.Lease. */
export interface Lease {
  id: bigint
  ttl: bigint
  remainingTtl: bigint
}

export function decodeLease(buf: Uint8Array, file = '<lease>', base = 0): Lease {
  const l: Lease = { id: 0n, ttl: 0n, remainingTtl: 0n }
  walkMessage(buf, file, base, (r, wire, field, at) => {
    if (field < 1 || field > 3) return false
    want(r, 'Lease', field, wire, WireType.Varint, at)
    const v = BigInt.asIntN(64, r.varint64())
    if (field === 1) l.id = v
    else if (field === 2) l.ttl = v
    else l.remainingTtl = v
    return true
  })
  return l
}

/** authpb.User, without the password bytes (only whether one is set and its length). */
export interface User {
  name: string
  roles: string[]
  hasPassword: boolean
  passwordLength: number
  noPassword: boolean
}

const utf8 = new TextDecoder()

export function decodeUser(buf: Uint8Array, file = '<user>', base = 0): User {
  const u: User = { name: '', roles: [], hasPassword: false, passwordLength: 0, noPassword: false }
  walkMessage(buf, file, base, (r, wire, field, at) => {
    switch (field) {
      case 1: want(r, 'User', field, wire, WireType.Bytes, at); u.name = utf8.decode(r.bytes()); return true
      case 2: {
        want(r, 'User', field, wire, WireType.Bytes, at)
        const p = r.bytes()
        u.hasPassword = p.length > 0
        u.passwordLength = p.length
        return true
      }
      case 3: want(r, 'User', field, wire, WireType.Bytes, at); u.roles.push(utf8.decode(r.bytes())); return true
      case 4: {
        want(r, 'User', field, wire, WireType.Bytes, at)
        const [s, e] = r.lengthDelimited()
        walkMessage(r.buf.subarray(s, e), file, base + s, (r2, w2, f2, at2) => {
          if (f2 !== 1) return false
          want(r2, 'UserAddOptions', f2, w2, WireType.Varint, at2)
          u.noPassword = r2.varint64() !== 0n
          return true
        })
        return true
      }
      default: return false
    }
  })
  return u
}

/** authpb.Permission. */
export interface Permission {
  permType: 'READ' | 'WRITE' | 'READWRITE' | `UNKNOWN(${number})`
  key: Uint8Array
  rangeEnd: Uint8Array
}

/** authpb.Role. */
export interface Role {
  name: string
  permissions: Permission[]
}

const PERM_TYPES = ['READ', 'WRITE', 'READWRITE'] as const

export function decodeRole(buf: Uint8Array, file = '<role>', base = 0): Role {
  const role: Role = { name: '', permissions: [] }
  walkMessage(buf, file, base, (r, wire, field, at) => {
    if (field === 1) { want(r, 'Role', field, wire, WireType.Bytes, at); role.name = utf8.decode(r.bytes()); return true }
    if (field !== 2) return false
    want(r, 'Role', field, wire, WireType.Bytes, at)
    const [s, e] = r.lengthDelimited()
    const p: Permission = { permType: 'READ', key: EMPTY, rangeEnd: EMPTY }
    walkMessage(r.buf.subarray(s, e), file, base + s, (r2, w2, f2, at2) => {
      switch (f2) {
        case 1: { want(r2, 'Permission', f2, w2, WireType.Varint, at2); const t = r2.varint32(); p.permType = PERM_TYPES[t] ?? `UNKNOWN(${t})`; return true }
        case 2: want(r2, 'Permission', f2, w2, WireType.Bytes, at2); p.key = r2.bytes(); return true
        case 3: want(r2, 'Permission', f2, w2, WireType.Bytes, at2); p.rangeEnd = r2.bytes(); return true
        default: return false
      }
    })
    role.permissions.push(p)
    return true
  })
  return role
}

/** etcdserverpb.AlarmMember (the key of the `alarm` bucket). */
export interface AlarmMember {
  memberId: bigint
  alarm: 'NONE' | 'NOSPACE' | 'CORRUPT' | `UNKNOWN(${number})`
}

const ALARMS = ['NONE', 'NOSPACE', 'CORRUPT'] as const

export function decodeAlarm(buf: Uint8Array, file = '<alarm>', base = 0): AlarmMember {
  const a: AlarmMember = { memberId: 0n, alarm: 'NONE' }
  walkMessage(buf, file, base, (r, wire, field, at) => {
    if (field === 1) { want(r, 'AlarmMember', field, wire, WireType.Varint, at); a.memberId = r.varint64(); return true }
    if (field === 2) { want(r, 'AlarmMember', field, wire, WireType.Varint, at); const t = r.varint32(); a.alarm = ALARMS[t] ?? `UNKNOWN(${t})`; return true }
    return false
  })
  return a
}

/** Wraps a DecodeError from a value decoder with the bucket and key that held it. */
export function inBucket<T>(bucket: string, key: string, f: () => T): T {
  try {
    return f()
  } catch (e) {
    if (e instanceof DecodeError) {
      throw new DecodeError(e.file, e.offset, e.code, `${bucket}/${key}: ${e.detail}`, e.hint, e.extra)
    }
    throw e
  }
}
