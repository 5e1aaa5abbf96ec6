/**
 * io/sorted-runs: the external sort the history index is built with must give exactly LMDB's
 * order of (key, value) — bytewise, shorter first — without repeats, whether the pairs fit in one
 * chunk or are spread over many run files; keys holding 0x00 (the escape) and keys that are
 * prefixes of others are the cases a naive encoding gets wrong. The chunk sort (an MSD radix sort
 * over 4-byte windows) is held to Buffer.compare on its own, on the shapes that break such a sort:
 * long shared prefixes (whole groups with one window), zero bytes at window edges (the padding of
 * a shorter pair), repeats, and groups above and below the insertion-sort size.
 */
import { describe, expect, it } from 'vitest'
import { readdirSync } from 'node:fs'
import { PairSorter, sortChunk } from '../../src/io/sorted-runs.js'
import { tempDir } from '../support/etcd.js'

function pairs(seed: number, n: number): [Buffer, Buffer][] {
  let x = seed
  const rnd = (m: number) => { x = (x * 1103515245 + 12345) & 0x7fffffff; return x % m }
  const out: [Buffer, Buffer][] = []
  const alphabet = [0, 1, 2, 0x2f, 0x61, 0x62, 0xfe, 0xff]
  for (let i = 0; i < n; i++) {
    const k = Buffer.from(Array.from({ length: 1 + rnd(6) }, () => alphabet[rnd(alphabet.length)]!))
    const v = Buffer.from(Array.from({ length: rnd(4) }, () => alphabet[rnd(alphabet.length)]!))
    out.push([k, v])
    if (rnd(5) === 0) out.push([Buffer.from(k), Buffer.from(v)]) // a repeat
  }
  return out
}

function expected(ps: [Buffer, Buffer][]): string[] {
  const sorted = [...ps].sort((a, b) => Buffer.compare(a[0], b[0]) || Buffer.compare(a[1], b[1]))
  const out: string[] = []
  for (const [k, v] of sorted) {
    const t = `${k.toString('hex')}:${v.toString('hex')}`
    if (out[out.length - 1] !== t) out.push(t)
  }
  return out
}

// Read each pair before asking for the next: they are views into one scratch buffer.
function drained(s: PairSorter): string[] {
  const out: string[] = []
  for (const { key, value } of s.drain()) out.push(`${key.toString('hex')}:${value.toString('hex')}`)
  return out
}

describe('PairSorter', () => {
  it('sorts in memory: bytewise (key, value), shorter first, 0x00 in keys, no repeats', () => {
    const ps = pairs(7, 3000)
    const s = new PairSorter(tempDir('space-sort-'), 't')
    for (const [k, v] of ps) s.add(k, v)
    expect(s.added).toBe(ps.length)
    expect(drained(s)).toEqual(expected(ps))
  })

  it('sorts across many run files and removes them when drained', () => {
    const dir = tempDir('space-sort-')
    const ps = pairs(11, 20000)
    const s = new PairSorter(dir, 't', 4096)
    for (const [k, v] of ps) s.add(k, v)
    expect(readdirSync(dir).filter((f) => f.endsWith('.run')).length).toBeGreaterThan(10)
    expect(drained(s)).toEqual(expected(ps))
    expect(readdirSync(dir)).toEqual([])
  })

  it('a key that is a prefix of another sorts first, also when the longer one continues with 0x00', () => {
    const s = new PairSorter(tempDir('space-sort-'), 't', 8)
    const ks = [[0x61, 0x00], [0x61], [0x61, 0x00, 0x00], [0x61, 0x01], [0x00], [0x00, 0x00]]
    for (const k of ks) s.add(Buffer.from(k), Buffer.from([0xff]))
    expect(drained(s).map((x) => x.split(':')[0])).toEqual(['00', '0000', '61', '6100', '610000', '6101'])
  })
})

/** An arena of records and their offsets, as PairSorter holds a chunk. */
function chunk(records: Buffer[]): { a: Buffer; off: Uint32Array } {
  const off = new Uint32Array(records.length + 1)
  records.forEach((r, i) => { off[i + 1] = off[i]! + r.length })
  return { a: Buffer.concat(records), off }
}

function sortedByChunkSort(records: Buffer[]): string[] {
  const { a, off } = chunk(records)
  const n = records.length
  const perm = new Uint32Array(n)
  sortChunk(a, off, n, perm, new Float64Array(n), new Uint32Array(n))
  return [...perm].map((r) => records[r]!.toString('hex'))
}

describe('sortChunk', () => {
  it('orders records exactly as Buffer.compare: shared prefixes of every length mod 4, zero bytes at window edges, prefixes of others, repeats', () => {
    let x = 42
    const rnd = (m: number) => { x = (x * 1103515245 + 12345) & 0x7fffffff; return x % m }
    const prefixes = ['', '/registry/pods/ns-', '/registry/pods/ns-0', '/registry/pod', 'abc', '\0\0\0\0', 'abcdabcd\0', '\xff\xff\xff']
    const alphabet = [0, 1, 0x2f, 0x61, 0xfe, 0xff]
    const records: Buffer[] = []
    for (let i = 0; i < 20000; i++) {
      const tail = Array.from({ length: rnd(10) }, () => alphabet[rnd(alphabet.length)]!)
      const r = Buffer.concat([Buffer.from(prefixes[rnd(prefixes.length)]!, 'latin1'), Buffer.from(tail)])
      records.push(r)
      if (rnd(4) === 0) records.push(Buffer.from(r))
      if (rnd(8) === 0) records.push(Buffer.concat([r, Buffer.alloc(rnd(6))])) // r continued by zero bytes
    }
    const want = [...records].sort(Buffer.compare).map((r) => r.toString('hex'))
    expect(sortedByChunkSort(records)).toEqual(want)
    // Small groups (insertion sort) and one group of identical windows (the common-prefix path).
    for (const n of [0, 1, 2, 15, 16, 17, 40]) {
      const rs = records.slice(0, n)
      expect(sortedByChunkSort(rs)).toEqual([...rs].sort(Buffer.compare).map((r) => r.toString('hex')))
    }
    const same = Array.from({ length: 100 }, (_, i) => Buffer.from(`/registry/configmaps/hot/cm-${String(99 - i).padStart(2, '0')}`))
    expect(sortedByChunkSort(same)).toEqual([...same].sort(Buffer.compare).map((r) => r.toString('hex')))
  })

  it('Kubernetes-like keys with revision values over many runs come out in LMDB order without repeats', () => {
    const dir = tempDir('space-sort-')
    const s = new PairSorter(dir, 't', 64 << 10)
    const ps: [Buffer, Buffer][] = []
    for (let i = 0; i < 30000; i++) {
      const k = Buffer.from(`/registry/pods/ns-${String((i * 7919) % 500).padStart(3, '0')}/pod-${String((i * 104729) % 20000).padStart(8, '0')}`)
      const v = Buffer.alloc(25)
      v.writeBigUInt64BE(BigInt(i), 0)
      v.writeBigUInt64BE(BigInt(i % 3), 9)
      ps.push([k, v])
    }
    for (const [k, v] of ps) s.add(k, v)
    expect(readdirSync(dir).filter((f) => f.endsWith('.run')).length).toBeGreaterThan(10)
    expect(drained(s)).toEqual(expected(ps))
  })
})

