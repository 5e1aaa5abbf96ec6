/**
 * `db space` accounting on the fixture written by real etcd 3.4 (fixtures/single: puts, txns, a
 * lease, deletes and a compaction): prefix grouping, the multi-pass path (a tiny per-pass bound
 * must give the same figures as one pass), and the page estimator against bbolt's split rule.
 */
import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { collectDbSpace } from '../../src/app/db-space.js'
import { PageEstimator, prefixOf } from '../../src/format/backend/space.js'
import { REPO_ROOT, runCli } from '../support/cli.js'
import { sharedTestdata } from '../support/shared-testdata.js'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'

const FIXTURE = join(REPO_ROOT, 'fixtures', 'single', 'data')
const p = (k: string, depth?: number): string => Buffer.from(prefixOf(Buffer.from(k), { depth })).toString()

describe('prefixOf', () => {
  it('groups Kubernetes keys by resource and group/resource, others by path segments', () => {
    expect(p('/registry/pods/default/pi')).toBe('/registry/pods/')
    expect(p('/registry/apiregistration.k8s.io/apiservices/v1.apps')).toBe('/registry/apiregistration.k8s.io/apiservices/')
    expect(p('/registry/health')).toBe('/registry/')
    expect(p('/a/b/c')).toBe('/a/')
    expect(p('/a/b/c', 2)).toBe('/a/b/')
    expect(p('/a/b', 5)).toBe('/a/')
    expect(p('a/b/c', 2)).toBe('a/b/')
    expect(p('plain')).toBe('')
    expect(p('/x')).toBe('/')
  })
})

describe('collectDbSpace on a real etcd 3.4 db', () => {
  it('gives the same figures in one pass and in many (bounded memory)', () => {
    const one = collectDbSpace(FIXTURE)
    const many = collectDbSpace(FIXTURE, { maxKeysPerPass: 8 })
    expect(one.passes).toBe(1)
    expect(many.passes).toBeGreaterThan(4)
    expect({ ...many, passes: 1, live: one.live }).toEqual({ ...one, live: one.live })
  })

  it('counts revisions as etcd stored them', () => {
    const s = collectDbSpace(FIXTURE)
    const st = JSON.parse(runCli(['db', 'status', FIXTURE, '-w', 'json']).stdout)
    expect(s.totals.revisions).toBe(st.keys.revisions)
    expect(s.totals.tombstones).toBe(st.keys.tombstones)
    expect(s.totals.keys).toBe(st.keys.distinctKeys)
    expect(s.totals.liveKeys).toBe(st.keys.liveKeys)
    expect(s.totals.revisions).toBe(s.prefixes.reduce((n, r) => n + r.revisions, 0))
    expect(s.totals.liveBytes + s.totals.historyBytes + s.totals.tombstoneBytes).toBe(s.totals.bytes)
  })

  it('table output fits a 110-column terminal', () => {
    const r = runCli(['db', 'space', FIXTURE])
    expect(r.code).toBe(0)
    for (const line of r.stdout.split('\n')) expect([...line].length).toBeLessThanOrEqual(110)
  })
})

describe('PageEstimator', () => {
  it('closes a page before the element that passes 90 % of the page, 2 elements at least', () => {
    const e = new PageEstimator(4096)
    e.add(16 + 17 + 300, 100) // 333 bytes: 11 per page (16 + 11*333 = 3679 <= 3686.4)
    expect(e.pages().leaf).toBe(Math.ceil(100 / 11))
    const big = new PageEstimator(4096)
    // bbolt splits 10 such elements into pages of 2, 2, 2 and 4 (a node of <= 4 elements is not
    // split): 3 + 3 + 3 + 5 = 14 pages and a branch page; the estimate closes every page at 2 elements (16).
    big.add(16 + 17 + 5000, 10)
    expect(Math.abs(big.pages().total - 15)).toBeLessThanOrEqual(1)
  })
})

describe('db space on a Kubernetes db whose newest writes were compacted away', () => {
  it('forecasts at etcd\'s current revision (the finished compaction, above every key) instead of refusing; above it, refuses', () => {
    const db = sharedTestdata('k8s/db')
    const digest = () => createHash('sha256').update(readFileSync(db)).digest('hex')
    const before = digest()
    const st = JSON.parse(runCli(['db', 'status', db, '-w', 'json']).stdout)
    // the case itself: etcd resumes at the compaction revision, not at the last key's
    expect(BigInt(st.compactRevision)).toBeGreaterThan(BigInt(st.revision))
    const r = runCli(['db', 'space', db, '-w', 'json'])
    expect(r.code, r.stderr).toBe(0)
    const f = JSON.parse(r.stdout).forecast
    expect(f.atRevision).toBe(st.compactRevision)
    // already compacted there: nothing more to remove
    expect(f.removedRevisions).toBe(0)
    const above = runCli(['db', 'space', db, '--at-revision', String(BigInt(st.compactRevision) + 1n)])
    expect(above.code).toBe(2)
    expect(above.stderr).toContain(`outside the revisions this db holds (${st.compactRevision}..${st.compactRevision})`)
    expect(digest()).toBe(before)
  })
})
