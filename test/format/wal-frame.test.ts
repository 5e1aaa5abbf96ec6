import { describe, expect, it } from 'vitest'
import { decodeFrameSize, encodeFrameSize, isTornEntry } from '../../src/format/wal/frame.js'
import { decodeRecord } from '../../src/format/wal/record.js'
import { parseWalName, walName, orderSegments, classifyWalDirEntry } from '../../src/format/wal/segment-name.js'
import { decodeWal, type WalEvent, type WalRecordEvent } from '../../src/format/wal/decoder.js'
import { decodeWalSnapshot } from '../../src/format/raft/entry.js'
import { memSource } from '../support/wal-writer.js'

// etcd-io/etcd@main:server/storage/wal/testdata/TestNew.wal, byte for byte (FORMATS §2.3).
const TEST_NEW_WAL = Uint8Array.from([
  0x04, 0, 0, 0, 0, 0, 0, 0x84, 0x08, 0x04, 0x10, 0x00, 0, 0, 0, 0,
  0x12, 0, 0, 0, 0, 0, 0, 0x86, 0x08, 0x01, 0x10, 0x85, 0xd4, 0xfd, 0xa0, 0x07, 0x1a, 0x08,
  ...new TextEncoder().encode('somedata'), 0, 0, 0, 0, 0, 0,
  0x0e, 0, 0, 0, 0, 0, 0, 0x82, 0x08, 0x05, 0x10, 0x80, 0xdb, 0x81, 0xc1, 0x01, 0x1a, 0x04, 0x08, 0x00, 0x10, 0x00, 0, 0,
])

describe('frame', () => {
  it('decodes length words with and without the pad flag', () => {
    expect(decodeFrameSize(4, 0x84000000)).toEqual({ recBytes: 4, padBytes: 4, reservedBits: 0 })
    expect(decodeFrameSize(16, 0)).toEqual({ recBytes: 16, padBytes: 0, reservedBits: 0 })
    // pad bits without the flag are ignored, like Go's `if int64(lenField) < 0`
    expect(decodeFrameSize(5, 0x03000000).padBytes).toBe(0)
    expect(decodeFrameSize(5, 0xff000000)).toEqual({ recBytes: 5, padBytes: 7, reservedBits: 0x0f })
    // bits 32..55 belong to the length
    expect(decodeFrameSize(0, 0x00000001).recBytes).toBe(2 ** 32)
  })
  it('encodes like etcd: 0x80|pad in the top byte', () => {
    expect(encodeFrameSize(18)).toEqual({ word: (0x86n << 56n) | 18n, padBytes: 6 })
    expect(encodeFrameSize(16)).toEqual({ word: 16n, padBytes: 0 })
  })
  it('torn test splits on 512-byte file sectors', () => {
    const p = new Uint8Array(1024).fill(1)
    expect(isTornEntry(p, 8)).toBe(false)
    p.fill(0, 504, 1016) // exactly file bytes 512..1023 (payload starts at file offset 8)
    expect(isTornEntry(p, 8)).toBe(true)
    const q = new Uint8Array(1024).fill(1)
    q.fill(0, 100, 600) // 500 zero bytes that do not cover a whole sector piece
    expect(isTornEntry(q, 8)).toBe(false)
    // a last piece holding only zero padding counts (etcd behaviour)
    const r = new Uint8Array(10).fill(1)
    r.fill(0, 8)
    expect(isTornEntry(r, 512 - 8)).toBe(true)
  })
})

describe('segment names', () => {
  it('parses and formats %016x-%016x.wal', () => {
    expect(parseWalName('0000000000000001-0000000000000021.wal')).toEqual({ name: '0000000000000001-0000000000000021.wal', seq: 1n, index: 0x21n })
    expect(walName(1n, 0x21n)).toBe('0000000000000001-0000000000000021.wal')
    expect(parseWalName('0000000000000001-0000000000000021.wal.broken')).toBeUndefined()
    expect(parseWalName('1-21.wal')).toBeUndefined()
    expect(classifyWalDirEntry('0.tmp')).toBe('tmp')
    expect(classifyWalDirEntry('0000000000000001-0000000000000021.wal.broken')).toBe('broken')
    expect(classifyWalDirEntry('notes.txt')).toBe('unknown')
  })
  it('orders by seq and reports gaps', () => {
    const names = ['0000000000000003-0000000000000300.wal', '0000000000000000-0000000000000000.wal', '0000000000000001-0000000000000100.wal'].map((n) => parseWalName(n)!)
    const { segments, gaps } = orderSegments(names)
    expect(segments.map((s) => s.seq)).toEqual([0n, 1n, 3n])
    expect(gaps).toHaveLength(1)
    expect(gaps[0]!.after.seq).toBe(1n)
    expect(gaps[0]!.next.seq).toBe(3n)
  })
})

describe('TestNew.wal (72 bytes, FORMATS §2.3)', () => {
  it('decodes the upstream worked example exactly', () => {
    expect(TEST_NEW_WAL.length).toBe(72)
    const evs: WalEvent[] = [...decodeWal([{ file: 'TestNew.wal', source: memSource(TEST_NEW_WAL) }])]
    const recs = evs.filter((e): e is WalRecordEvent => e.kind === 'record')
    expect(recs.map((r) => [r.offset, r.recBytes, r.padBytes, r.type, r.storedCrc, r.status])).toEqual([
      [0, 4, 4, 4, 0, 'adopted'],
      [16, 18, 6, 1, 0x741f6a05, 'ok'],
      [48, 14, 2, 5, 0x18206d80, 'ok'],
    ])
    expect(new TextDecoder().decode(recs[1]!.data)).toBe('somedata')
    expect(evs.filter((e) => e.kind === 'finding')).toEqual([])
    expect(evs.at(-1)).toMatchObject({ kind: 'end', status: 'clean', crc: 0x18206d80, lastValid: { file: 'TestNew.wal', offset: 72 } })
    // the snapshot record holds walpb.Snapshot{index 0, term 0}
    const snapRec = decodeRecord(TEST_NEW_WAL, 56, 70)
    expect(decodeWalSnapshot(snapRec.data)).toEqual({ index: 0n, term: 0n })
  })
  it('rejects a Record with a known field of the wrong wire type', () => {
    // field 1 (type) sent as bytes
    expect(() => decodeRecord(Uint8Array.from([0x0a, 0x01, 0x04]), 0, 3, 'x.wal', 100)).toThrowError(/x\.wal@100: wal: protobuf: walpb.Record field 1 has wire type 2, want 0/)
  })
})
