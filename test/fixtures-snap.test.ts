/**
 * Every committed fixture data dir against its expected `snap` JSON sidecar
 * fixtures/<name>/expected.snap.<key>.json (`UPDATE_FIXTURES=1` rewrites them), plus facts checked
 * against what the generator recorded from etcd itself (MANIFEST.json).
 */
import { describe, expect, it } from 'vitest'
import { runSnap } from '../src/app/snap.js'
import { toJson } from '../src/render/json.js'
import { hashTree } from './support/tree-hash.js'
import { allDataDirs, expectedOutput, fixture, FIXTURES_DIR } from './support/fixtures.js'

const dirs = allDataDirs()

/** Result JSON with the machine-dependent fixture path replaced. */
function portable(value: unknown): unknown {
  return JSON.parse(toJson(value).split(FIXTURES_DIR).join('fixtures'))
}

describe('snap on fixture data dirs', () => {
  it('found fixtures', () => {
    expect(dirs.length).toBeGreaterThan(0)
  })
  for (const d of dirs) {
    it(`${d.fixture}/${d.key}: matches expected.snap.${d.key}.json, agrees with the MANIFEST, changes nothing`, async () => {
      const flags = fixture(d.fixture).manifest.flags as { snapshotCount?: number } | undefined
      const before = hashTree(d.dir)
      const r = await runSnap(d.dir, { snapshotCount: flags?.snapshotCount !== undefined ? BigInt(flags.snapshotCount) : undefined })
      expect(hashTree(d.dir)).toEqual(before)
      const actual = portable(r)
      expect(actual).toEqual(expectedOutput(d.fixture, 'snap', actual, { key: d.key }))
      // The .snap files etcd left, with the term and index in their names.
      expect(r.snapshots.map((s) => [s.file, String(s.term), String(s.index)])).toEqual(d.manifest.snapFiles.map((f) => [f.file, f.term, f.index]))
      expect(r.snapshots.every((s) => s.status === 'ok' && s.crc === 'ok')).toBe(true)
      expect(r.snapshots.every((s) => s.confState!.voters.length > 0)).toBe(true)
      if (r.wal.read) {
        expect(r.snapshots.every((s) => s.walRecord === 'match')).toBe(true)
        if (r.snapshots.length) expect(r.wal.newestUsable?.file).toBe(r.snapshots.at(-1)!.file)
        expect(r.wal.coverage.covered).toBe(true)
      }
      if (flags?.snapshotCount !== undefined && r.cadence.minDistance !== null) {
        // Only the members that snapshotted on their own count; a snapshot received from the leader shifts the cadence.
        expect(r.cadence.minDistance).toBeGreaterThan(0n)
      }
    })
  }
})
