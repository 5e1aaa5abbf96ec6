/**
 * Every fixture data dir (fixtures/<name>/data) against its expected `snap` JSON sidecar
 * fixtures/<name>/expected.snap.json. `UPDATE_FIXTURES=1` rewrites the sidecars.
 */
import { describe, expect, it } from 'vitest'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runSnap } from '../src/app/snap.js'
import { toJson } from '../src/render/json.js'
import { hashTree } from './support/tree-hash.js'

const fixtures = existsSync('fixtures')
  ? readdirSync('fixtures').filter((n) => existsSync(join('fixtures', n, 'data', 'member'))).sort()
  : []

/** The snapshot count each fixture was generated with (MANIFEST.json flags.snapshotCount). */
function snapshotCount(name: string): bigint | undefined {
  const p = join('fixtures', name, 'MANIFEST.json')
  if (!existsSync(p)) return undefined
  const c = JSON.parse(readFileSync(p, 'utf8'))?.flags?.snapshotCount
  return typeof c === 'number' ? BigInt(c) : undefined
}

describe('snap on fixture data dirs', () => {
  it('found fixtures', () => {
    expect(fixtures.length).toBeGreaterThan(0)
  })
  for (const name of fixtures) {
    it(`${name}: matches expected.snap.json and changes nothing`, async () => {
      const dir = join('fixtures', name, 'data')
      const before = hashTree(dir)
      const r = await runSnap(dir, { snapshotCount: snapshotCount(name) })
      expect(hashTree(dir)).toEqual(before)
      const actual = JSON.parse(toJson(r))
      const sidecar = join('fixtures', name, 'expected.snap.json')
      if (process.env.UPDATE_FIXTURES === '1') writeFileSync(sidecar, JSON.stringify(actual, null, 2) + '\n')
      expect(existsSync(sidecar), `${sidecar} missing: run with UPDATE_FIXTURES=1`).toBe(true)
      expect(actual).toEqual(JSON.parse(readFileSync(sidecar, 'utf8')))
      // Facts that must hold whatever the sidecar says.
      expect(r.snapshots.every((s) => s.status === 'ok')).toBe(true)
      if (r.cadence.snapshotCountSource === 'flag') expect(r.cadence.consistentWithCount ?? true).toBe(true)
    })
  }
})
