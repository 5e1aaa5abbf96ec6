/**
 * io/sorted-runs: the external sort the history index is built with must give exactly LMDB's
 * order of (key, value) — bytewise, shorter first — without repeats, whether the pairs fit in one
 * chunk or are spread over many run files; keys holding 0x00 (the escape) and keys that are
 * prefixes of others are the cases a naive encoding gets wrong.
 */
import { describe, expect, it } from 'vitest'
import { readdirSync } from 'node:fs'
import { PairSorter } from '../../src/io/sorted-runs.js'
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
