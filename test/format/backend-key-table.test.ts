/**
 * key-table.ts: the bounded-memory set of distinct user keys with a tombstone bit, which `db status`
 * uses for keys.liveKeys / keys.distinctKeys. Checked against an exact Map on the same sequences,
 * with forced slot collisions and forced fingerprint collisions.
 */
import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { KeyTable, countKeys, murmurFingerprint, sha1Fingerprint, type Fingerprint } from '../../src/format/backend/key-table.js'
import { dbStatus } from '../../src/app/db.js'
import { REPO_ROOT } from '../support/cli.js'

const k = (s: string): Uint8Array => Buffer.from(s, 'utf8')

/** Deterministic pseudo-random numbers (xorshift32). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 2 ** 32 }
}

describe('KeyTable', () => {
  it('counts distinct keys and live keys by the newest revision of each key', () => {
    const t = new KeyTable()
    t.set(k('/a'), false)
    t.set(k('/b'), false)
    t.set(k('/a'), false) // a second put of /a
    t.set(k('/c'), true) // a tombstone whose put was compacted away
    expect({ distinct: t.distinct, live: t.live }).toEqual({ distinct: 3, live: 2 })
  })

  it('a tombstone then a re-put counts the key live again; put then tombstone counts it dead', () => {
    const t = new KeyTable()
    t.set(k('/x'), false)
    t.set(k('/x'), true)
    expect({ distinct: t.distinct, live: t.live }).toEqual({ distinct: 1, live: 0 })
    t.set(k('/x'), false)
    expect({ distinct: t.distinct, live: t.live }).toEqual({ distinct: 1, live: 1 })
    t.set(k('/x'), true)
    t.set(k('/x'), true) // two tombstones in a row (a compacted history) stay one dead key
    expect({ distinct: t.distinct, live: t.live }).toEqual({ distinct: 1, live: 0 })
  })

  it('keys whose fingerprints share a home slot are kept apart by probing, across wrap-around and growth', () => {
    // Every fingerprint starts at slot 15 of 16 (lo & 15 == 15) and differs elsewhere, so the
    // probe sequence wraps to slot 0 and the table grows while the run is in place.
    const fp: Fingerprint = (key) => ({ lo: 15 + 16 * Number(Buffer.from(key).toString()), hi: 7 })
    const t = new KeyTable({ capacity: 16, fingerprint: fp })
    for (let i = 0; i < 40; i++) t.set(k(String(i)), i % 3 === 0)
    expect(t.capacity).toBe(64)
    expect({ distinct: t.distinct, live: t.live }).toEqual({ distinct: 40, live: 40 - 14 })
    for (let i = 0; i < 40; i += 3) t.set(k(String(i)), false) // re-put every tombstoned key
    expect({ distinct: t.distinct, live: t.live }).toEqual({ distinct: 40, live: 40 })
  })

  it('fingerprints equal in lo but not in hi, or in hi but not in lo, are different keys', () => {
    const t = new KeyTable({ capacity: 16 })
    t.setFingerprint(5, 1, false)
    t.setFingerprint(5, 2, true)
    t.setFingerprint(6, 1, false)
    t.setFingerprint(5, 1, true) // the first key again
    expect({ distinct: t.distinct, live: t.live }).toEqual({ distinct: 3, live: 1 })
  })

  it('the all-zero fingerprint is stored (as 1) and not mistaken for an empty slot; the tombstone bit is not part of the fingerprint', () => {
    const t = new KeyTable({ capacity: 16 })
    t.setFingerprint(0, 0, true)
    t.setFingerprint(0, 0, true)
    expect({ distinct: t.distinct, live: t.live }).toEqual({ distinct: 1, live: 0 })
    t.setFingerprint(0, 0x7fffffff, false)
    t.setFingerprint(0, 0x7fffffff, true)
    expect({ distinct: t.distinct, live: t.live }).toEqual({ distinct: 2, live: 0 })
  })

  it('a full fingerprint collision merges two keys: the documented (2^-63 per pair) inexactness', () => {
    const t = new KeyTable({ fingerprint: () => ({ lo: 42, hi: 42 }) })
    t.set(k('/one'), false)
    t.set(k('/two'), true)
    expect({ distinct: t.distinct, live: t.live }).toEqual({ distinct: 1, live: 0 })
  })

  it('matches an exact Map on 200,000 random puts and deletes over 50,000 keys, with bounded bytes per key', () => {
    const r = rng(12345)
    const t = new KeyTable({ capacity: 16 })
    const exact = new Map<string, boolean>()
    for (let i = 0; i < 200_000; i++) {
      const name = `/registry/pods/ns-${Math.floor(r() * 50)}/pod-${Math.floor(r() * 1000)}`
      const tomb = r() < 0.3
      t.set(k(name), tomb)
      exact.set(name, tomb)
    }
    const live = [...exact.values()].filter((x) => !x).length
    expect({ distinct: t.distinct, live: t.live }).toEqual({ distinct: exact.size, live })
    expect(t.byteLength / t.distinct).toBeLessThanOrEqual(8 / 0.35)
    expect(t.byteLength).toBe(8 * t.capacity)
  })

  it('sha1Fingerprint is the first 63 bits of SHA-1 and depends on every byte', () => {
    // sha1("abc") = a9993e36 4706816a ...
    expect(sha1Fingerprint(k('abc'))).toEqual({ lo: 0x363e99a9, hi: 0x6a810647 & 0x7fffffff })
    expect(sha1Fingerprint(k('abd'))).not.toEqual(sha1Fingerprint(k('abc')))
    expect(sha1Fingerprint(new Uint8Array(0))).toEqual({ lo: 0xeea339da, hi: 0x0d4b6b5e & 0x7fffffff })
    const t = new KeyTable({ fingerprint: sha1Fingerprint })
    t.set(k('/a'), false)
    t.set(k('/a'), true)
    expect({ distinct: t.distinct, live: t.live }).toEqual({ distinct: 1, live: 0 })
  })

  it('murmurFingerprint: lo is MurmurHash3 x86_32 (seed 0x9747b28c), checked against a textbook implementation at every tail length', () => {
    // Austin Appleby's MurmurHash3_x86_32, written the plain way (as in Gary Court's murmurhash3_32_gc).
    const ref = (key: Uint8Array, seed: number): number => {
      let h = seed | 0
      const nb = key.length >> 2
      for (let i = 0; i < nb; i++) {
        let kk = key[4 * i]! | (key[4 * i + 1]! << 8) | (key[4 * i + 2]! << 16) | (key[4 * i + 3]! << 24)
        kk = Math.imul(kk, 0xcc9e2d51); kk = (kk << 15) | (kk >>> 17); kk = Math.imul(kk, 0x1b873593)
        h ^= kk; h = (h << 13) | (h >>> 19); h = (Math.imul(h, 5) + 0xe6546b64) | 0
      }
      let kk = 0
      const t = nb * 4
      const rem = key.length & 3
      if (rem >= 3) kk ^= key[t + 2]! << 16
      if (rem >= 2) kk ^= key[t + 1]! << 8
      if (rem >= 1) { kk ^= key[t]!; kk = Math.imul(kk, 0xcc9e2d51); kk = (kk << 15) | (kk >>> 17); kk = Math.imul(kk, 0x1b873593); h ^= kk }
      h ^= key.length
      h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b); h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35); h ^= h >>> 16
      return h >>> 0
    }
    // Published vectors of the reference: "" seed 1 -> 0x514e28b7; "Hello, world!" seed 1234 -> 0xfaf6cdb3.
    expect(ref(new Uint8Array(0), 1)).toBe(0x514e28b7)
    expect(ref(k('Hello, world!'), 1234)).toBe(0xfaf6cdb3)
    const r = rng(7)
    for (let len = 0; len < 40; len++) {
      const key = Uint8Array.from({ length: len }, () => Math.floor(r() * 256))
      const f = murmurFingerprint(key)
      expect(f.lo).toBe(ref(key, 0x9747b28c))
      expect(f.hi).toBeLessThan(2 ** 31)
      if (key.some((x) => x !== 0)) expect({ len, hi: f.hi }).not.toEqual({ len, hi: ref(key, 0x5bd1e995) & 0x7fffffff }) // a different function, not a reseed
    }
  })

  it('murmurFingerprint: no collision among 300,000 Kubernetes-like keys, either lane alone spreads them', () => {
    const seen = new Set<string>()
    const los = new Set<number>()
    for (let i = 0; i < 300_000; i++) {
      const f = murmurFingerprint(k(`/registry/pods/ns-${i % 500}/pod-${String(i).padStart(8, '0')}`))
      seen.add(`${f.lo}:${f.hi}`)
      los.add(f.lo)
    }
    expect(seen.size).toBe(300_000)
    // 300,000 random 32-bit values have ~10 birthday collisions; far more would mean a weak lane.
    expect(los.size).toBeGreaterThan(300_000 - 40)
  })

  it('bounded: past maxSlots a table splits its partition, and countKeys counts the rest in further passes, exactly', () => {
    const r = rng(99)
    const ops: [string, boolean][] = []
    for (let i = 0; i < 3000; i++) ops.push([`/k/${Math.floor(r() * 700)}`, r() < 0.25])
    const exact = new Map<string, boolean>()
    for (const [name, t] of ops) exact.set(name, t)
    const tables: KeyTable[] = []
    let maxCap = 0
    const res = countKeys((t) => {
      tables.push(t)
      for (const [name, tomb] of ops) { t.set(k(name), tomb); maxCap = Math.max(maxCap, t.capacity) }
    }, { maxSlots: 64 })
    expect({ distinct: res.distinct, live: res.live }).toEqual({ distinct: exact.size, live: [...exact.values()].filter((x) => !x).length })
    expect(res.passes).toBeGreaterThan(8) // ~700 keys, at most 51 per table
    expect(res.passes).toBe(tables.length)
    expect(maxCap).toBe(64)
    for (const t of tables) expect(t.byteLength).toBe(8 * 16) // released after counting
    // The partitions counted tile the fingerprint space: sum of 1/parts is 1.
    expect(tables.reduce((a, t) => a + 1 / t.partition.parts, 0)).toBeCloseTo(1, 12)
  })

  it('a table ignores fingerprints outside its partition; a split keeps the half with the next bit 0', () => {
    const t = new KeyTable({ capacity: 16, maxSlots: 16, partition: { part: 1, parts: 2 } })
    t.setFingerprint(1, 2, false) // hi even: not in part 1
    expect(t.distinct).toBe(0)
    for (let i = 0; i < 14; i++) t.setFingerprint(100 + i, 1 + 2 * i, i % 2 === 0) // hi odd: in part 1; the 13th overfills 16 slots
    expect(t.pending).toEqual([{ part: 3, parts: 4 }])
    expect(t.partition).toEqual({ part: 1, parts: 4 })
    expect(t.capacity).toBe(16)
    // kept: hi % 4 == 1, i.e. i even: 7 keys, all tombstoned (i % 2 == 0)
    expect({ distinct: t.distinct, live: t.live }).toEqual({ distinct: 7, live: 0 })
  })

  it('db status gives the same key counts with a 16-slot table (many passes) as with the default one', () => {
    const single = join(REPO_ROOT, 'fixtures/single/data')
    const whole = dbStatus(single, undefined, { threads: 0 })
    const split = dbStatus(single, undefined, { threads: 0, maxKeySlots: 16 })
    expect(whole.keys.distinctKeys).toBeGreaterThan(12) // more keys than one 16-slot table holds
    expect(split.keys).toEqual(whole.keys)
    expect(split.hash).toBe(whole.hash)
  })
})
