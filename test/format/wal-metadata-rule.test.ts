/**
 * One rule, one finding: a metadata record that differs between segments (etcd's "conflicting
 * metadata found") is reported the same by the full reader (`readWalFacts` → log.ts) and by
 * `status`/`check`'s fast reader (`readWalFactsFast`, which scans the older segments by framing),
 * both through format/wal/links.ts `metadataConflict`; and a log whose segments agree has none.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { readWalFacts, readWalFactsFast } from '../../src/app/sources.js'
import { metadataConflict } from '../../src/format/wal/links.js'
import { firstSegment, metadata, writeWalDir } from '../support/wal-writer.js'

const temps: string[] = []
afterAll(() => { for (const t of temps) rmSync(t, { recursive: true, force: true }) })

/** Two segments; the second carries `meta2` as its metadata. */
function twoSegments(meta2?: [bigint, bigint]): string {
  const w = firstSegment()
  w.entry(1, 1).state(1, 1, 1)
  const s0 = w.cut()
  w.crcRecord()
  if (meta2) w.metadata(...meta2)
  else w.metadata()
  w.state(1, 1, 2).entry(1, 2)
  return join(writeWalDir([[0n, 0n, s0], [1n, 2n, w.cut(512)]], temps, 'wal-meta-'), 'member', 'wal')
}

describe('metadata identical in every segment', () => {
  it('the fast and the full reader give the same finding, from the one rule', async () => {
    const wal = twoSegments([0x1234n, 0x5678n])
    const fast = await readWalFactsFast(wal)
    const full = await readWalFacts(wal)
    const pick = (f: { findings?: { code: string; file?: string; detail: string }[] }) => f.findings!.filter((x) => x.code === 'metadata-conflict').map((x) => x.detail)
    expect(pick(fast)).toEqual(['wal: conflicting metadata found: member 1234 cluster 5678, but 0000000000000000-0000000000000000.wal says member 2f7fbfd36802ff7a cluster 4f0a3b9d2c6e1f85'])
    expect(pick(full)).toEqual(pick(fast))
    expect(fast.findings!.find((x) => x.code === 'metadata-conflict')!.file).toBe('0000000000000001-0000000000000002.wal')
  })

  it('segments that agree give no finding in either reader', async () => {
    const wal = twoSegments()
    for (const f of [await readWalFactsFast(wal), await readWalFacts(wal)]) {
      expect(f.findings!.filter((x) => x.code === 'metadata-conflict')).toEqual([])
      expect(f.metadata).toEqual({ nodeId: 0x2f7fbfd36802ff7an, clusterId: 0x4f0a3b9d2c6e1f85n })
    }
  })

  it('the rule compares bytes, as etcd does: the same IDs written differently still conflict', () => {
    const a = metadata(1n, 2n)
    const b = Uint8Array.from([...a, 0x18, 0x00]) // an extra (unknown, zero) field: same IDs, other bytes
    expect(metadataConflict({ bytes: a, file: 'a', offset: -1 }, { bytes: a.slice(), file: 'b', offset: 8 })).toBeUndefined()
    const f = metadataConflict({ bytes: a, file: 'a', offset: -1 }, { bytes: b, file: 'b', offset: 8 })
    expect(f).toMatchObject({ code: 'metadata-conflict', file: 'b', offset: 8, severity: 'error' })
    expect(f!.hint).toBeTruthy()
  })
})
