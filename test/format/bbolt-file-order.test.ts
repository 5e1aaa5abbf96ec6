/**
 * format/bbolt/walk leavesInFileOrder (the history index's pass over `key`): the same leaf
 * elements as `iterate`, leaf pages in ascending page order, and the corruption checks kept (a
 * leaf referenced twice is a page cycle, not a repeat).
 */
import { describe, expect, it } from 'vitest'
import { memorySource } from '../../src/io/byte-source.js'
import { BoltFile } from '../../src/format/bbolt/file.js'
import { bucket, iterate, leavesInFileOrder } from '../../src/format/bbolt/walk.js'
import { buildDb, type Leaf } from '../support/bbolt-writer.js'

const open = (b: Uint8Array): BoltFile => BoltFile.open(memorySource(b, 'db'), { file: 'db' })
const keys = (n: number): Leaf[] => Array.from({ length: n }, (_, i) => ({ key: `k${String(i).padStart(4, '0')}`, value: `v${i}`.repeat(1 + (i % 7)) }))
const id = (e: { pgid: bigint; key: Uint8Array; value: Uint8Array }) => `${e.pgid}:${Buffer.from(e.key).toString('latin1')}=${Buffer.from(e.value).toString('latin1')}`

describe('leavesInFileOrder', () => {
  it('yields what iterate yields, leaf pages in ascending order, for page, branch and inline buckets', () => {
    const d = buildDb([
      { name: 'big', entries: keys(500), perLeaf: 37 },
      { name: 'one', entries: keys(5) },
      { name: 'small', entries: [{ key: 'a', value: '1' }], inline: true },
    ])
    const f = open(d.bytes)
    for (const name of ['big', 'one', 'small']) {
      const b = bucket(f, name)!.bucket
      // An element is valid until the next one is asked for: read it at once.
      const ids: string[] = []
      const pg: bigint[] = []
      for (const e of leavesInFileOrder(f, b, { name })) { ids.push(id(e)); pg.push(e.pgid) }
      expect(ids.sort()).toEqual([...iterate(f, b, { name })].map(id).sort())
      expect(pg).toEqual([...pg].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)))
    }
    let n = 0
    for (const _ of leavesInFileOrder(f, bucket(f, 'big')!.bucket)) n++
    expect(n).toBe(500)
  })

  it('a leaf that two branch elements point to is a page cycle', () => {
    const d = buildDb([{ name: 'big', entries: keys(200), perLeaf: 50 }])
    const f = open(d.bytes)
    const b = bucket(f, 'big')!.bucket
    if (b.kind !== 'page') throw new Error('expected a page bucket')
    // Branch element i: 16-byte page header, then {pos u32, ksize u32, pgid u64} each.
    const at = Number(b.root) * f.pageSize + 16
    const v = new DataView(d.bytes.buffer, d.bytes.byteOffset)
    v.setBigUint64(at + 16 + 8, v.getBigUint64(at + 8, true), true)
    expect(() => [...leavesInFileOrder(open(d.bytes), b, { name: 'big' })]).toThrow(/reached twice/)
  })
})
