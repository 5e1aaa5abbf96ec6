/**
 * Every fixture data dir against its expected `status` JSON sidecar fixtures/<name>/expected.status.json
 * (machine-dependent fields removed). `UPDATE_FIXTURES=1` rewrites the sidecars.
 */
import { describe, expect, it } from 'vitest'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { collectStatus } from '../src/app/status.js'
import { toJson } from '../src/render/json.js'
import { hashTree } from './support/tree-hash.js'

const fixtures = existsSync('fixtures')
  ? readdirSync('fixtures').filter((n) => existsSync(join('fixtures', n, 'data', 'member'))).sort()
  : []

function manifest(name: string): Record<string, unknown> {
  const p = join('fixtures', name, 'MANIFEST.json')
  return existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) : {}
}

describe('status on fixture data dirs', () => {
  it('found fixtures', () => {
    expect(fixtures.length).toBeGreaterThan(0)
  })
  for (const name of fixtures) {
    it(`${name}: matches expected.status.json and changes nothing`, async () => {
      const dir = join('fixtures', name, 'data')
      const before = hashTree(dir)
      const r = await collectStatus(dir, { skipLockCheck: true })
      expect(hashTree(dir)).toEqual(before)
      const actual = JSON.parse(toJson({ ...r, elapsedMs: 0 }))
      const sidecar = join('fixtures', name, 'expected.status.json')
      if (process.env.UPDATE_FIXTURES === '1') writeFileSync(sidecar, JSON.stringify(actual, null, 2) + '\n')
      expect(existsSync(sidecar), `${sidecar} missing: run with UPDATE_FIXTURES=1`).toBe(true)
      expect(actual).toEqual(JSON.parse(readFileSync(sidecar, 'utf8')))
      // Cross-checks against what the generator recorded from etcd itself.
      const m = manifest(name)
      if (typeof m.memberId === 'string' && r.memberId !== null) expect(r.memberId).toBe(m.memberId)
      if (typeof m.clusterId === 'string' && r.clusterId !== null) expect(r.clusterId).toBe(m.clusterId)
      if (typeof m.revision === 'string') expect(r.revision).toBe(BigInt(m.revision))
      if (typeof m.compactRevision === 'string') expect(r.compactRevision).toBe(BigInt(m.compactRevision))
      if (typeof m.raftAppliedIndex === 'string') expect(r.consistentIndex).toBe(BigInt(m.raftAppliedIndex))
      expect(r.integrity.invariants.every((i) => i.ok !== false)).toBe(true)
    })
  }
})
