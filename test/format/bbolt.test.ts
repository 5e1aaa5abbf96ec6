import { describe, expect, it } from 'vitest'
import { memorySource } from '../../src/io/byte-source.js'
import { BoltFile, Page } from '../../src/format/bbolt/file.js'
import { decodeMeta, fnv1a64 } from '../../src/format/bbolt/meta.js'
import { buckets, bucket, get, iterate, last } from '../../src/format/bbolt/walk.js'
import { checkDb } from '../../src/format/bbolt/check.js'
import { readFreelistIds } from '../../src/format/bbolt/freelist.js'
import { decodePageHeader } from '../../src/format/bbolt/page.js'
import { buildDb, enc, freelistPage, leafPage, metaPage, type Leaf } from '../support/bbolt-writer.js'

const open = (b: Uint8Array, file = 'db'): BoltFile => BoltFile.open(memorySource(b, file), { file })
const txt = (b: Uint8Array): string => Buffer.from(b).toString('latin1')
const keys = (n: number, pad = 4, prefix = 'k'): Leaf[] =>
  Array.from({ length: n }, (_, i) => ({ key: `${prefix}${String(i).padStart(pad, '0')}`, value: `v${i}` }))

describe('bbolt meta', () => {
  it('FNV-1a 64 matches the FORMATS §5.2 example checksum', () => {
    const p = metaPage({ pageSize: 4096, index: 0, root: 4n, freelist: 2n, pgid: 5n, txid: 2n })
    expect(fnv1a64(p.subarray(16, 72))).toBe(0x39fdd0b4dec548can)
    const m = decodeMeta(p, 0, 0)
    expect(m.error).toBeNull()
    expect([m.magic, m.version, m.pageSize, m.root, m.freelist, m.pgid, m.txid]).toEqual([0xed0cdaed, 2, 4096, 4n, 2n, 5n, 2n])
  })
  it('reports bad magic, bad version and bad checksum in that order', () => {
    expect(decodeMeta(metaPage({ pageSize: 4096, index: 0, root: 3n, pgid: 4n, txid: 0n, magic: 1 }), 0, 0).error?.code).toBe('bad-magic')
    expect(decodeMeta(metaPage({ pageSize: 4096, index: 0, root: 3n, pgid: 4n, txid: 0n, version: 1 }), 0, 0).error?.code).toBe('bad-version')
    expect(decodeMeta(metaPage({ pageSize: 4096, index: 0, root: 3n, pgid: 4n, txid: 0n, badChecksum: true }), 0, 0).error?.code).toBe('bad-checksum')
    expect(decodeMeta(new Uint8Array(40), 0, 0).error?.code).toBe('truncated')
  })
  it('picks the valid meta with the higher txid and says why', () => {
    const d = buildDb([{ name: 'b', entries: keys(3) }], { txids: [7n, 6n] })
    const f = open(d.bytes)
    expect(f.meta.index).toBe(0)
    expect(f.meta.txid).toBe(7n)
    expect(f.choice.reason).toBe('meta 0 has the higher txid (7 > 6) and a valid checksum')
  })
  it('discovers a 16 KiB page size from meta 0, and from meta 1 when meta 0 is damaged', () => {
    const d = buildDb([{ name: 'b', entries: keys(3) }], { pageSize: 16384 })
    expect(open(d.bytes).pageSize).toBe(16384)
    d.bytes[16] ^= 0xff // meta 0 magic
    const f = open(d.bytes)
    expect(f.pageSize).toBe(16384)
    expect(f.pageSizeSource).toBe('meta 1 found at offset 16384')
    expect(f.meta.index).toBe(1)
  })
})

describe('bbolt walk', () => {
  it('lists page and inline buckets and iterates keys in order across a branch', () => {
    const d = buildDb([
      { name: 'big', entries: keys(200), perLeaf: 50 },
      { name: 'small', entries: [{ key: 'a', value: '1' }, { key: 'b', value: '2' }], inline: true },
      { name: 'empty', entries: [], inline: true },
    ])
    const f = open(d.bytes)
    const bs = buckets(f)
    expect(bs.map((b) => [b.nameText, b.bucket.kind])).toEqual([['big', 'page'], ['empty', 'inline'], ['small', 'inline']])
    const big = bucket(f, 'big')!
    const all = [...iterate(f, big.bucket)].map((e) => txt(e.key))
    expect(all).toHaveLength(200)
    expect(all[0]).toBe('k0000')
    expect(all[199]).toBe('k0199')
    // start key in the middle of the third leaf
    expect([...iterate(f, big.bucket, { start: enc('k0123') })].map((e) => txt(e.key)).slice(0, 2)).toEqual(['k0123', 'k0124'])
    expect(txt(last(f, big.bucket)!.key)).toBe('k0199')
    expect(txt(get(f, big.bucket, enc('k0077'))!.value)).toBe('v77')
    expect(get(f, big.bucket, enc('k0077x'))).toBeNull()
    expect([...iterate(f, bucket(f, 'small')!.bucket)].map((e) => txt(e.value))).toEqual(['1', '2'])
    expect([...iterate(f, bucket(f, 'empty')!.bucket)]).toHaveLength(0)
    expect(last(f, bucket(f, 'empty')!.bucket)).toBeNull()
  })
  it('reads values on overflow pages', () => {
    const big = 'x'.repeat(10000)
    const d = buildDb([{ name: 'b', entries: [{ key: 'a', value: big }, { key: 'b', value: 'y' }] }])
    const f = open(d.bytes)
    const e = [...iterate(f, bucket(f, 'b')!.bucket)]
    expect(e.map((x) => x.value.length)).toEqual([10000, 1])
    const c = checkDb(f)
    expect(c.ok).toBe(true)
    expect(c.buckets.find((b) => b.name === 'b')!.overflowPages).toBe(2)
  })
})

describe('bbolt freelist', () => {
  it('decodes a plain freelist and the 0xFFFF count escape', () => {
    const small = freelistPage(2n, [5n, 6n, 9n], 4096)
    const page = (img: Uint8Array): Page => new Page(2n, decodePageHeader(img), 8192, img.length, img, null, 'db')
    expect(readFreelistIds(page(small))).toEqual([5n, 6n, 9n])
    const many = Array.from({ length: 70000 }, (_, i) => BigInt(i + 10))
    const img = freelistPage(2n, many, 4096)
    expect(new DataView(img.buffer).getUint16(10, true)).toBe(0xffff)
    const ids = readFreelistIds(page(img))
    expect(ids).toHaveLength(70000)
    expect(ids[69999]).toBe(70009n)
  })
  it('check: persisted freelist consistent with reachability', () => {
    const d = buildDb([{ name: 'b', entries: keys(10) }], { freePages: 3 })
    const c = checkDb(open(d.bytes))
    expect(c.findings).toEqual([])
    expect(c.freelistPersisted).toBe(true)
    expect(c.freePages).toBe(3)
    expect(c.reclaimableBytes).toBe(3 * 4096)
  })
  it('check: not persisted (etcd on Linux) → unreachable pages are the free pages', () => {
    const d = buildDb([{ name: 'b', entries: keys(10) }])
    // Append two stale pages below a raised HWM.
    const bytes = new Uint8Array(d.bytes.length + 2 * 4096)
    bytes.set(d.bytes)
    bytes.set(leafPage(BigInt(d.bytes.length / 4096), [{ key: 'stale', value: 'x' }], 4096), d.bytes.length)
    const pgid = d.pgid + 2n
    bytes.set(metaPage({ pageSize: 4096, index: 0, root: d.rootPage, pgid, txid: 2n }), 0)
    bytes.set(metaPage({ pageSize: 4096, index: 1, root: d.rootPage, pgid, txid: 3n }), 4096)
    const c = checkDb(open(bytes))
    expect(c.ok).toBe(true)
    expect(c.freelistPersisted).toBe(false)
    expect(c.unreachable).toEqual([d.pgid, d.pgid + 1n])
    expect(c.freePages).toBe(2)
  })
})
