import { describe, expect, it } from 'vitest'
import { checkInPlace, quorum, tolerance } from '../../src/app/replace/quorum.js'

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `m${i + 1}`)

describe('quorum math (RECOVERY.md §5)', () => {
  it('q(n) and failures tolerated match the table', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(quorum)).toEqual([1, 2, 2, 3, 3, 4, 4])
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => tolerance(n, n))).toEqual([0, 0, 1, 1, 2, 2, 3])
  })

  it('3 members, all healthy, healthy target: allowed, tolerance 1 -> 0 -> 1', () => {
    const r = checkInPlace({ voters: ids(3), healthy: ids(3), target: 'm3', force: false })
    expect(r.refusal).toBeUndefined()
    expect([r.toleranceBefore, r.toleranceDuring, r.toleranceAfter]).toEqual([1, 0, 1])
    expect(r.warnings).toEqual(['the cluster tolerates no further failure until the new member is promoted'])
  })

  it('3 members, target down: allowed', () => {
    const r = checkInPlace({ voters: ids(3), healthy: ['m1', 'm2'], target: 'm3', force: false })
    expect(r.refusal).toBeUndefined()
    expect(r.toleranceDuring).toBe(0)
  })

  it('3 members, target and a second member down: quorum loss, not forceable', () => {
    const r = checkInPlace({ voters: ids(3), healthy: ['m1'], target: 'm3', force: true })
    expect(r.refusal).toMatchObject({ code: 'no-quorum', forceable: false })
  })

  it('3 members, a second member down but target healthy: the removal would lose quorum', () => {
    const r = checkInPlace({ voters: ids(3), healthy: ['m1', 'm3'], target: 'm3', force: true })
    expect(r.refusal?.code).toBe('quorum-loss')
    expect(r.refusal?.message).toBe('removing m3 leaves 1 healthy of 2 voters (quorum 2): the cluster would lose quorum (unhealthy: m2)')
  })

  it('5 members, target and another down: refused (etcd refuses the add while a voter is down)', () => {
    const r = checkInPlace({ voters: ids(5), healthy: ['m1', 'm2', 'm3'], target: 'm5', force: true })
    expect(r.refusal).toMatchObject({ code: 'second-member-down', forceable: false })
    expect(r.toleranceDuring).toBe(0)
  })

  it('5 members, target down: allowed with tolerance 1 during', () => {
    const r = checkInPlace({ voters: ids(5), healthy: ids(4), target: 'm5', force: false })
    expect(r.refusal).toBeUndefined()
    expect([r.toleranceBefore, r.toleranceDuring, r.toleranceAfter]).toEqual([1, 1, 2])
  })

  it('2 members: refused without --force, allowed with it', () => {
    expect(checkInPlace({ voters: ids(2), healthy: ids(2), target: 'm2', force: false }).refusal).toMatchObject({ code: 'small-cluster', forceable: true })
    expect(checkInPlace({ voters: ids(2), healthy: ids(2), target: 'm2', force: true }).refusal).toBeUndefined()
  })

  it('1 member: never (the only voter)', () => {
    expect(checkInPlace({ voters: ids(1), healthy: ids(1), target: 'm1', force: true }).refusal).toMatchObject({ code: 'single-member', forceable: false })
  })

  it('target already removed (REMOVED_MEMBER): only the add matters', () => {
    const r = checkInPlace({ voters: ids(2), healthy: ids(2), force: false })
    expect(r.refusal).toBeUndefined()
    expect([r.toleranceBefore, r.toleranceDuring, r.toleranceAfter]).toEqual([0, 0, 1])
  })

  it('no quorum at all', () => {
    expect(checkInPlace({ voters: ids(3), healthy: [], target: 'm1', force: true }).refusal?.code).toBe('no-quorum')
  })
})
