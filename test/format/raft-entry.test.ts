import { describe, expect, it } from 'vitest'
import { decodeEntry, decodeHardState, decodeNormal, decodePayload, parseMemberContext, plainHardState } from '../../src/format/raft/entry.js'
import { presentEntry } from '../../src/render/wal-entry.js'
import { toJson } from '../../src/render/json.js'
import { pb, msg, entry, confChange, irrPut } from '../support/wal-writer.js'

const u8 = (a: number[]) => Uint8Array.from(a)
const irr = (field: number, body: number[]) => u8(msg(pb.bytes(field, body), pb.bytes(100, pb.varint(1, 7))))

describe('EntryNormal classification (FORMATS §3.3)', () => {
  it('empty data is the leader no-op', () => {
    expect(decodeNormal(new Uint8Array(0))).toEqual({ kind: 'noop' })
  })
  it('put IRR with header, lease', () => {
    const p = decodeNormal(u8(irrPut('foo', 'bar', 0x694d7c0d3d8a6c0an, 9n)))
    expect(p).toMatchObject({ kind: 'irr', header: { id: 9n }, request: { kind: 'put', lease: 0x694d7c0d3d8a6c0an } })
    if (p.kind !== 'irr' || p.request.kind !== 'put') throw new Error('not a put')
    expect(Buffer.from(p.request.key).toString()).toBe('foo')
    expect(Buffer.from(p.request.value).toString()).toBe('bar')
  })
  it('txn with compares and nested ops, including a nested txn', () => {
    const cmp = msg(pb.varint(1, 1), pb.varint(2, 2), pb.bytes(3, 'k1'), pb.varint(6, 5))
    const put = pb.bytes(2, msg(pb.bytes(1, 'k1'), pb.bytes(2, 'v')))
    const del = pb.bytes(3, msg(pb.bytes(1, 'a'), pb.bytes(2, 'b')))
    const inner = pb.bytes(4, msg(pb.bytes(2, msg(put))))
    const txn = msg(pb.bytes(1, cmp), pb.bytes(2, msg(put)), pb.bytes(2, msg(del)), pb.bytes(3, msg(inner)))
    const p = decodeNormal(irr(6, txn))
    expect(p).toMatchObject({ kind: 'irr', request: { kind: 'txn', compare: [{ result: 'GREATER', target: 'MOD', modRevision: 5n }],
      success: [{ kind: 'put' }, { kind: 'deleteRange' }], failure: [{ kind: 'txn', success: [{ kind: 'put' }] }] } })
  })
  it('leases, compaction, alarm', () => {
    expect(decodeNormal(irr(8, msg(pb.varint(1, 60), pb.varint(2, 0x694d7c0d3d8a6c0an))))).toMatchObject({ request: { kind: 'leaseGrant', ttl: 60n, id: 0x694d7c0d3d8a6c0an } })
    expect(decodeNormal(irr(9, pb.varint(1, 5)))).toMatchObject({ request: { kind: 'leaseRevoke', id: 5n } })
    expect(decodeNormal(irr(11, pb.bytes(1, msg(pb.varint(1, 5), pb.varint(2, 30)))))).toMatchObject({ request: { kind: 'leaseCheckpoint', checkpoints: [{ id: 5n, remainingTtl: 30n }] } })
    expect(decodeNormal(irr(7, msg(pb.varint(1, 50), pb.varint(2, 1))))).toMatchObject({ request: { kind: 'compaction', revision: 50n, physical: true } })
    expect(decodeNormal(irr(10, msg(pb.varint(1, 1), pb.varint(2, 0xffffffffffffffffn), pb.varint(3, 1))))).toMatchObject({ request: { kind: 'alarm', action: 'ACTIVATE', memberId: 0xffffffffffffffffn, alarm: 'NOSPACE' } })
  })
  it('membership requests of 3.5+ (1300, 1301, 1302)', () => {
    expect(decodeNormal(irr(1300, pb.bytes(1, '3.5.0')))).toMatchObject({ request: { kind: 'clusterVersionSet', ver: '3.5.0' } })
    expect(decodeNormal(irr(1301, msg(pb.varint(1, 0x2f7fbfd36802ff7an), pb.bytes(2, msg(pb.bytes(1, 'm1'), pb.bytes(2, 'http://a:2379'))))))).toMatchObject({
      request: { kind: 'clusterMemberAttrSet', memberId: 0x2f7fbfd36802ff7an, name: 'm1', clientUrls: ['http://a:2379'] } })
    expect(decodeNormal(irr(1302, msg(pb.varint(1, 1), pb.bytes(2, '3.4.0'))))).toMatchObject({ request: { kind: 'downgradeInfoSet', enabled: true, ver: '3.4.0' } })
  })
  it('auth requests: every password and token is redacted before anything can print it', () => {
    const cases: [number, number[], string][] = [
      [1100, msg(pb.bytes(1, 'root'), pb.bytes(2, 'hunter2-secret'), pb.bytes(4, '$2a$10$hashhashhash')), 'authUserAdd'],
      [1103, msg(pb.bytes(1, 'root'), pb.bytes(2, 'hunter2-secret'), pb.bytes(3, '$2a$10$hashhashhash')), 'authUserChangePassword'],
      [1012, msg(pb.bytes(1, 'root'), pb.bytes(2, 'hunter2-secret'), pb.bytes(3, 'tok.hashhashhash')), 'authenticate'],
    ]
    for (const [field, body, kind] of cases) {
      const d = decodeEntry(entry(2, 10, irr(field, body)))
      expect(d.payload).toMatchObject({ kind: 'irr', request: { kind, password: { redacted: true, len: 14 } } })
      const json = toJson(presentEntry({ ...d, file: 'f', offset: 0, committed: true }, { showValues: true }))
      expect(json).not.toContain('hunter2')
      expect(json).not.toContain('hashhashhash')
    }
    expect(decodeNormal(irr(1203, msg(pb.bytes(1, 'r'), pb.bytes(2, msg(pb.varint(1, 2), pb.bytes(2, '/a'), pb.bytes(3, '/b'))))))).toMatchObject({
      request: { kind: 'authRoleGrantPermission', name: 'r', perm: { permType: 'READWRITE' } } })
    expect(decodeNormal(irr(1000, []))).toMatchObject({ request: { kind: 'authEnable' } })
  })
  it('legacy v2 Requests are told apart from IRR by a strict walk', () => {
    for (const method of ['PUT', 'POST', 'DELETE', 'QGET', 'SYNC']) {
      const v2 = u8(msg(pb.varint(1, 0x1234), pb.bytes(2, method), pb.bytes(3, '/0/version'), pb.bytes(4, '3.4.0')))
      const p = decodeNormal(v2)
      expect(p.kind, method).toBe('v2Request')
      expect(p).toMatchObject({ request: { kind: 'v2', method, path: '/0/version', id: 0x1234n } })
    }
  })
  it('garbage falls back to unknown with the reason', () => {
    const p = decodeNormal(u8([0xff, 0xff, 0xff]))
    expect(p.kind).toBe('unknown')
    expect(decodePayload(7, u8([1]))).toMatchObject({ kind: 'unknown', reason: 'unknown entry type 7' })
  })
})

describe('conf changes', () => {
  it('member JSON ids above 2^53 stay exact', () => {
    const ctx = '{"id":3422665156528897914,"peerURLs":["https://kubernetes-master:2380"],"name":"default","clientURLs":["http://localhost:2379"]}'
    expect(JSON.parse(ctx).id).not.toBe(3422665156528897914n) // the trap
    const d = decodeEntry(entry(1, 1, confChange(0, 3422665156528897914n, ctx), 1))
    expect(d.type).toBe('confChange')
    expect(d.payload).toMatchObject({ kind: 'confChange', confChange: { type: 'ConfChangeAddNode', nodeId: 3422665156528897914n,
      member: { id: 3422665156528897914n, name: 'default', peerURLs: ['https://kubernetes-master:2380'] } } })
    expect((d.payload as { confChange: { idMismatch?: boolean } }).confChange.idMismatch).toBeUndefined()
    const out = presentEntry({ ...d, file: 'f', offset: 0, committed: true })
    expect(out.confChange).toMatchObject({ type: 'ConfChangeAddNode', nodeId: '2f7fbfd36802ff7a', member: { id: '2f7fbfd36802ff7a' } })
  })
  it('learner add, promote, remove (no context), update', () => {
    expect(decodePayload(1, confChange(3, 5n, '{"id":5,"peerURLs":["http://a:2380"],"isLearner":true}'))).toMatchObject({ confChange: { type: 'ConfChangeAddLearnerNode', member: { isLearner: true } } })
    expect(decodePayload(1, confChange(0, 5n, '{"id":5,"peerURLs":["http://a:2380"],"isPromote":true}'))).toMatchObject({ confChange: { type: 'ConfChangeAddNode', member: { isPromote: true } } })
    const rm = decodePayload(1, confChange(1, 5n))
    expect(rm).toEqual({ kind: 'confChange', confChange: { type: 'ConfChangeRemoveNode', nodeId: 5n, id: 0n } })
    expect(decodePayload(1, confChange(2, 6n, '{"id":5,"peerURLs":[]}'))).toMatchObject({ confChange: { type: 'ConfChangeUpdateNode', idMismatch: true } })
    expect(parseMemberContext(new TextEncoder().encode('{"id":"x"}'))).toBeUndefined()
    expect(parseMemberContext(new TextEncoder().encode('{"name":"a \\"id\\":1","id":18446744073709551615}'))?.id).toBe(18446744073709551615n)
  })
  it('ConfChangeV2 with changes', () => {
    const body = u8(msg(pb.varint(1, 2), pb.bytes(2, msg(pb.varint(1, 3), pb.varint(2, 9))), pb.bytes(2, msg(pb.varint(1, 1), pb.varint(2, 8)))))
    expect(decodePayload(2, body)).toEqual({ kind: 'confChangeV2', confChangeV2: { transition: 'ConfChangeTransitionJointExplicit',
      changes: [{ type: 'ConfChangeAddLearnerNode', nodeId: 9n }, { type: 'ConfChangeRemoveNode', nodeId: 8n }] } })
  })
  it('entry header: wrong wire type is rejected like Go', () => {
    expect(() => decodeEntry(u8([0x12, 0x01, 0x00]))).toThrowError(/raftpb.Entry field 2 has wire type 2, want 0/)
  })
})

describe('entry header edge cases', () => {
  it('accepts non-minimal tags and unknown fields like Go, and keeps 64-bit term/index exact', () => {
    // field 2 (term) with a two-byte tag 0x90 0x00, an unknown field 9, index = 2^63 + 1
    const idx = [...Array(9).fill(0x80).map((x, i) => (i === 0 ? 0x81 : x)), 0x01]
    const bytes = Uint8Array.from([0x08, 0x00, 0x90, 0x00, 0x05, 0x48, 0x07, 0x18, ...idx, 0x22, 0x00])
    const d = decodeEntry(bytes)
    expect(d.term).toBe(5n)
    expect(d.index).toBe((1n << 63n) + 1n)
    expect(d.payload).toEqual({ kind: 'noop' })
  })
})

describe('plainHardState: the allocation-free check before a HardState is skipped', () => {
  const hs = (...fields: number[][]) => Uint8Array.from(fields.flat())
  it('accepts what gogo writes (any field absent), which decodeHardState reads', () => {
    for (const b of [hs(), hs([0x08, 2]), hs([0x08, 2], [0x10, 0xfe, 0xdc, 0xba, 0x98, 0xf6, 0xd9, 0xb3, 0xa1, 0xe1, 0x01], [0x18, 0x80, 0x01]), hs([0x10, 1]), hs([0x18, 5]), hs([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])]) {
      expect(plainHardState(b, 0, b.length)).toBe(true)
      expect(() => decodeHardState(b)).not.toThrow()
    }
  })
  it('leaves anything else to decodeHardState: other orders, unknown fields, bad varints, trailing bytes', () => {
    for (const b of [hs([0x10, 1], [0x08, 2]), hs([0x18, 1], [0x10, 2]), hs([0x20, 1]), hs([0x08, 0x80]), hs([0x08, 1], [0x08, 2]), hs([0x08, 1], [0]),
      hs([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]), hs([0x0a, 1, 2])]) {
      expect(plainHardState(b, 0, b.length)).toBe(false)
    }
    // within a larger buffer: only [s, e) counts
    const b = hs([0x99], [0x08, 3], [0x10, 1], [0x99])
    expect(plainHardState(b, 1, 5)).toBe(true)
    expect(plainHardState(b, 1, 6)).toBe(false)
  })
})
