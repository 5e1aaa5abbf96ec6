/**
 * key-table.ts: the bounded-memory set of distinct user keys with a tombstone bit, which `db status`
 * uses for keys.liveKeys / keys.distinctKeys. Checked against an exact Map on the same sequences,
 * with forced slot collisions and forced fingerprint collisions.
 */
import { describe, expect, it } from 'vitest'
import { KeyTable, sha1Fingerprint, type Fingerprint } from '../../src/format/backend/key-table.js'

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
  })
})
