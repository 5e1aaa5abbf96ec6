/**
 * The pure parts of `history`: etcd's range semantics for DeleteRange (single key, [key, end),
 * from-key "\0", prefix ranges) and the content join of revisions with WAL requests.
 */
import { describe, expect, it } from 'vitest'
import { joinHistory, prefixEnd, rangeTouches, type FoundRequest } from '../../src/app/history.js'

const b = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'))

describe('history ranges', () => {
  it('prefixEnd is etcd GetPrefixRangeEnd', () => {
    expect(Buffer.from(prefixEnd(b('/a/'))!).toString()).toBe('/a0')
    expect([...prefixEnd(Uint8Array.from([0x61, 0xff]))!]).toEqual([0x62])
    expect(prefixEnd(Uint8Array.from([0xff, 0xff]))).toBeNull()
  })
  it('a DeleteRange touches a key or a prefix as etcd applies it', () => {
    const one = { key: b('/h/a'), prefix: false }
    expect(rangeTouches(one, b('/h/a'), undefined)).toBe(true)
    expect(rangeTouches(one, b('/h/b'), undefined)).toBe(false)
    expect(rangeTouches(one, b('/h/'), b('/h0'))).toBe(true)
    expect(rangeTouches(one, b('/h/b'), b('/h0'))).toBe(false)
    expect(rangeTouches(one, b('/'), Uint8Array.from([0]))).toBe(true)
    const pre = { key: b('/h/'), prefix: true }
    expect(rangeTouches(pre, b('/a'), b('/h/'))).toBe(false)
    expect(rangeTouches(pre, b('/a'), b('/h/x'))).toBe(true)
    expect(rangeTouches(pre, b('/h0'), undefined)).toBe(false)
  })
})

describe('joinHistory', () => {
  const rev = (main: number, value: string, tomb = false) => ({
    key: b('/k'),
    r: { rev: { main: BigInt(main), sub: 0n, tombstone: tomb }, kv: { key: b('/k'), createRevision: 0n, modRevision: BigInt(main), version: 1n, value: b(value), lease: 0n } },
    out: { revision: `${main}_0`, main: BigInt(main), sub: 0n, tombstone: tomb, createRevision: 0n, modRevision: BigInt(main), version: 1n, lease: '0', value: { len: 0 }, valueSha256: `sha-${value}`, valueClass: 'text' },
  })
  const req = (index: number, op: 'put' | 'deleteRange', value = ''): FoundRequest => ({
    key: b('/k'), value: b(value), leaseId: 0n,
    out: { index: BigInt(index), term: 2n, file: 'w', offset: index, op, request: op, applied: true, committed: true, ...(op === 'put' ? { valueSha256: `sha-${value}` } : {}) },
  })
  it('pairs newest first by value and tombstone; a same-value put before the history stays alone', () => {
    // Revisions: x@10, y@11, tombstone@12, x@13. WAL: put x (compacted), put x, put y, del, put x.
    const events = joinHistory([rev(10, 'x'), rev(11, 'y'), rev(12, '', true), rev(13, 'x')],
      [req(100, 'put', 'x'), req(101, 'put', 'x'), req(102, 'put', 'y'), req(103, 'deleteRange'), req(104, 'put', 'x')])
    expect(events.map((e) => [e.revision?.revision ?? '-', e.wal ? Number(e.wal.index) : '-'])).toEqual([
      ['-', 100], ['10_0', 101], ['11_0', 102], ['12_0', 103], ['13_0', 104],
    ])
    expect(events[0]!.note).toMatch(/compacted/)
  })
  it('keeps revisions older than the WAL before the first joined request', () => {
    const events = joinHistory([rev(5, 'old'), rev(20, 'new')], [req(300, 'put', 'new')])
    expect(events.map((e) => e.revision?.revision ?? '-')).toEqual(['5_0', '20_0'])
    expect(events[0]!.wal).toBeUndefined()
  })
})
