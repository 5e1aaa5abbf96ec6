import { describe, expect, it } from 'vitest'
import { readSnapshot, parseSnapName, parseSnapDbName, snapName } from '../../src/format/snap/snapshot.js'
import { summarizeV2Store } from '../../src/format/snap/v2store.js'
import { parseJsonBig } from '../../src/format/snap/json-big.js'
import { DecodeError } from '../../src/errors.js'
import { crc32c } from '../../src/format/crc32c.js'
import { bfield, raftSnapshot, snapFile, v2StoreJson, vfield } from './snap-bytes.js'

const BIG = 0xfedcba9876543210n // above 2^53: must survive exactly

function decodeErr(fn: () => unknown): DecodeError {
  try {
    fn()
  } catch (err) {
    if (err instanceof DecodeError) return err
    throw err
  }
  throw new Error('expected a DecodeError')
}

describe('readSnapshot: hand-built .snap bytes', () => {
  it('decodes term, index, conf state and verifies the CRC', () => {
    const raft = raftSnapshot({ term: 7n, index: 0x3fn, voters: [BIG, 1n], learners: [2n], data: '{}' })
    const d = readSnapshot(snapFile(raft), 'x.snap')
    expect(d.metadata.term).toBe(7n)
    expect(d.metadata.index).toBe(0x3fn)
    expect(d.metadata.confState.voters).toEqual([BIG, 1n])
    expect(d.metadata.confState.learners).toEqual([2n])
    expect(d.storedCrc).toBe(crc32c(raft))
    expect(d.computedCrc).toBe(d.storedCrc)
    expect(new TextDecoder().decode(d.data)).toBe('{}')
  })
  it('accepts packed repeated conf state fields', () => {
    const raft = raftSnapshot({ term: 1n, index: 2n, voters: [BIG, 3n], learners: [4n], packed: true, data: '{}' })
    expect(readSnapshot(snapFile(raft), 'p.snap').metadata.confState).toEqual({ voters: [BIG, 3n], learners: [4n], votersOutgoing: [], learnersNext: [], autoLeave: false })
  })
  it('zero-length file: empty-snapshot at offset 0', () => {
    const e = decodeErr(() => readSnapshot(new Uint8Array(0), 'member/snap/a.snap'))
    expect(e.code).toBe('empty-snapshot')
    expect(e.message).toBe('member/snap/a.snap@0: snap: empty snapshot (0-byte file); expected snappb.snapshot {crc, data}')
    expect(e.hint).toMatch(/falls back to an older snapshot/)
  })
  it('crc 0 or no data: empty-snapshot, as etcd ErrEmptySnapshot', () => {
    const raft = raftSnapshot({ term: 1n, index: 1n, data: '{}' })
    expect(decodeErr(() => readSnapshot(snapFile(raft, 0), 'z.snap')).code).toBe('empty-snapshot')
    expect(decodeErr(() => readSnapshot(Uint8Array.from(vfield(1, 5)), 'z.snap')).detail).toBe(
      'snap: empty snapshot (no data); expected a non-empty raftpb.Snapshot with its CRC-32C')
  })
  it('bad CRC: crc-mismatch with expected and computed values and the data offset', () => {
    const raft = raftSnapshot({ term: 1n, index: 1n, data: '{}' })
    const good = crc32c(raft)
    const file = snapFile(raft, good ^ 1)
    const e = decodeErr(() => readSnapshot(file, 'b.snap'))
    expect(e.code).toBe('crc-mismatch')
    // data starts after the crc varint (1 tag + 5 bytes) and the data tag + length varint.
    const dataOffset = file.length - raft.length
    expect(e.offset).toBe(dataOffset)
    const hx = (v: number): string => (v >>> 0).toString(16).padStart(8, '0')
    expect(e.detail).toBe(`snap: crc mismatch: expected ${hx(good ^ 1)} computed ${hx(good)} over ${raft.length} bytes`)
    expect(e.extra).toEqual({ expected: hx(good ^ 1), computed: hx(good) })
  })
  it('flipped payload byte: crc-mismatch', () => {
    const raft = raftSnapshot({ term: 1n, index: 9n, data: '{"Root":{}}' })
    const file = snapFile(raft)
    file[file.length - 12] ^= 0x20
    expect(decodeErr(() => readSnapshot(file, 'f.snap')).code).toBe('crc-mismatch')
  })
  it('garbage: bad-protobuf with offset and a next step', () => {
    const e = decodeErr(() => readSnapshot(new TextEncoder().encode('hello, this is not a snapshot\n'), 'g.snap'))
    expect(e.code).toBe('bad-protobuf')
    expect(e.detail).toMatch(/^snap: /)
    expect(e.hint).toMatch(/renames the file to \.broken/)
    const ff = decodeErr(() => readSnapshot(new Uint8Array(64).fill(0xff), 'ff.snap'))
    expect(ff.code).toBe('bad-protobuf')
    expect(ff.message).toMatch(/^ff\.snap@0: snap: protobuf: /)
  })
  it('wrong wire type for crc: bad-protobuf naming the field', () => {
    const e = decodeErr(() => readSnapshot(Uint8Array.from(bfield(1, [1, 2])), 'w.snap'))
    expect(e.message).toBe('w.snap@0: snap: snappb.snapshot field 1 (crc) has wire type 2, want 0; not a .snap file')
  })
  it('data length past the end of the file: bad-protobuf at the length', () => {
    const e = decodeErr(() => readSnapshot(Uint8Array.from([...vfield(1, 1), 0x12, 0x7f, 0x00]), 't.snap'))
    expect(e.code).toBe('bad-protobuf')
    expect(e.offset).toBe(3) // the length varint after the crc field (2 bytes) and the data tag
    expect(e.detail).toMatch(/length 127 runs past the end/)
  })
  it('raftpb.Snapshot that does not decode (CRC ok): bad-protobuf after the CRC check', () => {
    const raft = Uint8Array.from([0x0a, 0x05, 0x01]) // data length 5, 1 byte present
    const e = decodeErr(() => readSnapshot(snapFile(raft), 'r.snap'))
    expect(e.code).toBe('bad-protobuf')
    expect(e.detail).toMatch(/runs past/)
  })
  it('names: term-index, snap.db index, round trip', () => {
    expect(parseSnapName('0000000000000002-000000000000003f.snap')).toEqual({ term: 2n, index: 63n })
    expect(parseSnapName('x.snap')).toBeUndefined()
    expect(parseSnapDbName('00000000000004d2.snap.db')).toBe(1234n)
    expect(snapName(2n, 63n)).toBe('0000000000000002-000000000000003f.snap')
  })
})

describe('v2 store summary', () => {
  it('members, removed members, cluster version and v2 key counts', () => {
    const json = v2StoreJson({
      members: [
        { id: 'fedcba9876543210', name: 'b', peer: 'http://127.0.0.2:2380', client: 'http://127.0.0.2:2379' },
        { id: '8e9e05c52164694d', name: '', peer: 'http://127.0.0.1:2380', learner: true },
      ],
      removed: ['1234'], keys: ['a', 'dir/b', 'dir/c', 'dir/sub/d'], version: '3.4.0', currentIndex: '18446744073709551615',
    })
    const s = summarizeV2Store(new TextEncoder().encode(json), 's.snap', 100)
    expect(s.clusterVersion).toBe('3.4.0')
    expect(s.currentIndex).toBe(18446744073709551615n)
    expect(s.storeVersion).toBe(2n)
    expect(s.members.map((m) => m.idHex)).toEqual(['8e9e05c52164694d', 'fedcba9876543210'])
    expect(s.members[1]).toEqual({ id: BIG, idHex: 'fedcba9876543210', name: 'b', peerURLs: ['http://127.0.0.2:2380'], clientURLs: ['http://127.0.0.2:2379'], isLearner: false })
    expect(s.members[0]!.isLearner).toBe(true)
    expect(s.removedMembers).toEqual([{ id: 0x1234n, idHex: '1234' }])
    expect(s.v2Keys).toBe(4)
    expect(s.v2Dirs).toBe(2)
  })
  it('a membership-only store (3.6 style, no /1) reports v2Keys null', () => {
    const json = JSON.stringify({ Root: { Path: '/', Children: { 0: { Path: '/0', Children: {} } } }, CurrentVersion: 2 })
    expect(summarizeV2Store(new TextEncoder().encode(json)).v2Keys).toBeNull()
  })
  it('not JSON: bad-v2store with the absolute byte offset', () => {
    const e = decodeErr(() => summarizeV2Store(new TextEncoder().encode('{"Root": nope}'), 'v.snap', 50))
    expect(e.code).toBe('bad-v2store')
    expect(e.offset).toBe(59)
    expect(e.message).toBe('v.snap@59: snap: v2 store is not valid JSON: json: unexpected character "n"')
  })
  it('JSON but no Root: bad-v2store', () => {
    expect(decodeErr(() => summarizeV2Store(new TextEncoder().encode('[1,2]'))).detail).toBe('snap: v2 store: expected a JSON object')
    expect(decodeErr(() => summarizeV2Store(new TextEncoder().encode('{}'))).detail).toBe('snap: v2 store: no "Root" node')
  })
})

describe('parseJsonBig', () => {
  it('keeps integers exact and fractions as numbers', () => {
    expect(parseJsonBig('{"a":18446744073709551615,"b":1.5,"c":[-3,true,null,"x\\u0041\\n"]}')).toEqual({ a: 18446744073709551615n, b: 1.5, c: [-3n, true, null, 'xA\n'] })
  })
  it('rejects trailing data, bad escapes and deep nesting', () => {
    expect(() => parseJsonBig('1 2')).toThrowError(/trailing data/)
    expect(() => parseJsonBig('"\\x"')).toThrowError(/bad escape/)
    expect(() => parseJsonBig('['.repeat(600) + ']'.repeat(600))).toThrowError(/nesting deeper/)
    expect(() => parseJsonBig('{"a":1')).toThrowError(/expected ',' or '}'/)
  })
  it('a __proto__ key stays data', () => {
    const v = parseJsonBig('{"__proto__":{"x":1}}') as Record<string, unknown>
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype)
    expect(Object.keys(v)).toEqual(['__proto__'])
  })
})
