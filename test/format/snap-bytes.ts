/** Tiny protobuf writer for hand-built `.snap` bytes in tests (gogo style: zero values written, repeated unpacked). */
import { crc32c } from '../../src/format/crc32c.js'

export function varint(v: bigint | number): number[] {
  let x = BigInt(v)
  const out: number[] = []
  while (x >= 0x80n) {
    out.push(Number((x & 0x7fn) | 0x80n))
    x >>= 7n
  }
  out.push(Number(x))
  return out
}
export const tag = (field: number, wire: number): number[] => varint((field << 3) | wire)
export const vfield = (field: number, v: bigint | number): number[] => [...tag(field, 0), ...varint(v)]
export const bfield = (field: number, b: Uint8Array | number[]): number[] => [...tag(field, 2), ...varint(b.length), ...b]

export interface SnapSpec {
  term: bigint
  index: bigint
  voters?: bigint[]
  learners?: bigint[]
  packed?: boolean
  data?: string | Uint8Array
}

export function confState(voters: bigint[], learners: bigint[], packed = false): number[] {
  if (packed) {
    const out: number[] = []
    if (voters.length) out.push(...bfield(1, voters.flatMap((v) => varint(v))))
    if (learners.length) out.push(...bfield(2, learners.flatMap((v) => varint(v))))
    return out
  }
  return [...voters.flatMap((v) => vfield(1, v)), ...learners.flatMap((v) => vfield(2, v)), ...vfield(5, 0)]
}

/** raftpb.Snapshot bytes. */
export function raftSnapshot(s: SnapSpec): Uint8Array {
  const data = typeof s.data === 'string' ? new TextEncoder().encode(s.data) : (s.data ?? new Uint8Array())
  const md = [...bfield(1, confState(s.voters ?? [], s.learners ?? [], s.packed)), ...vfield(2, s.index), ...vfield(3, s.term)]
  return Uint8Array.from([...bfield(1, data), ...bfield(2, md)])
}

/** A whole `.snap` file: snappb.snapshot { crc, data }. `crc` overrides the computed CRC. */
export function snapFile(raft: Uint8Array, crc?: number): Uint8Array {
  return Uint8Array.from([...vfield(1, crc ?? crc32c(raft)), ...bfield(2, raft)])
}

/** A minimal v2 store JSON like etcd 3.4 writes (members under /0, keys under /1). */
export function v2StoreJson(opts: { members?: { id: string; name: string; peer: string; client?: string; learner?: boolean }[]; removed?: string[]; keys?: string[]; version?: string; currentIndex?: string } = {}): string {
  const node = (path: string, value: string | null, children?: Record<string, unknown>): Record<string, unknown> => ({
    Path: path, CreatedIndex: 1, ModifiedIndex: 1, ExpireTime: '0001-01-01T00:00:00Z', Value: value ?? '', Children: children ?? null,
  })
  const members: Record<string, unknown> = {}
  for (const m of opts.members ?? []) {
    members[m.id] = node(`/0/members/${m.id}`, null, {
      raftAttributes: node(`/0/members/${m.id}/raftAttributes`, JSON.stringify({ peerURLs: [m.peer], ...(m.learner ? { isLearner: true } : {}) })),
      attributes: node(`/0/members/${m.id}/attributes`, JSON.stringify({ name: m.name, clientURLs: m.client ? [m.client] : [] })),
    })
  }
  const removed: Record<string, unknown> = {}
  for (const id of opts.removed ?? []) removed[id] = node(`/0/removed_members/${id}`, 'removed')
  const zero: Record<string, unknown> = { members: node('/0/members', null, members) }
  if (opts.removed) zero.removed_members = node('/0/removed_members', null, removed)
  if (opts.version) zero.version = node('/0/version', opts.version)
  const one: Record<string, unknown> = {}
  for (const k of opts.keys ?? []) {
    const parts = k.split('/').filter(Boolean)
    let cur = one
    let path = '/1'
    for (let i = 0; i < parts.length; i++) {
      path += '/' + parts[i]
      if (i === parts.length - 1) cur[parts[i]!] = node(path, 'v')
      else {
        const existing = cur[parts[i]!] as { Children: Record<string, unknown> } | undefined
        const dir = existing ?? node(path, null, {})
        cur[parts[i]!] = dir
        cur = (dir as { Children: Record<string, unknown> }).Children
      }
    }
  }
  const root = node('/', null, { 0: node('/0', null, zero), 1: node('/1', null, one) })
  const text = JSON.stringify({ Root: root, WatcherHub: { EventHistory: { Queue: { Events: [null], Size: 0, Front: 0, Back: 0, Capacity: 1000 }, StartIndex: 0, LastIndex: 0 } }, CurrentIndex: 0, Stats: {}, CurrentVersion: 2 })
  // Go writes uint64 fields as bare numbers; splice an exact big CurrentIndex in as text.
  return opts.currentIndex ? text.replace('"CurrentIndex":0', `"CurrentIndex":${opts.currentIndex}`) : text
}
