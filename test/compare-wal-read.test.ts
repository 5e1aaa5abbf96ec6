/**
 * The WAL read of `compare` (`collectStatus` with `walRead: 'frames'`): every segment of the boot
 * range frame-checked, the last one too, no CRC pass. What compare takes from the WAL (identity,
 * HardState, last index, snapshot records, conf changes, removed-self) must equal the default
 * `fast` read's on every fixture (full-size segments too); the integrity detail says no CRC was
 * checked; a torn tail is still found (the frame scan sees the cut frame and hands the segment to
 * the library reader). The price, stated in the detail: a payload byte flipped inside the last
 * segment is not seen (the fast read's CRC pass finds it).
 */
import { describe, expect, it } from 'vitest'
import { mkdirSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { collectStatus, type StatusResult } from '../src/app/status.js'
import { allDataDirs, materialize } from './support/fixtures.js'
import { hashTree } from './support/tree-hash.js'
import { tempDir } from './support/etcd.js'
import { firstSegment } from './support/wal-writer.js'

const read = (dir: string, walRead: 'fast' | 'frames') => collectStatus(dir, { skipLockCheck: true, walRead })

/** Everything but the WAL integrity detail (which names the checks that ran). */
function facts(r: StatusResult) {
  return {
    state: r.state, memberId: r.memberId, clusterId: r.clusterId, hardState: r.hardState, firstIndex: r.firstIndex, lastIndex: r.lastIndex,
    snapshotIndex: r.snapshotIndex, snapshotTerm: r.snapshotTerm, snapshot: r.snapshot, walRange: r.walRange, members: r.members,
    version: r.version, walStatus: r.integrity.wal.status, invariants: r.integrity.invariants, findings: r.findings,
  }
}

describe('compare\'s WAL read (frames only) = the fast read, without the CRC pass', () => {
  for (const d of allDataDirs()) {
    it(`${d.fixture}/${d.key}: same facts, trimmed and full-size`, async () => {
      const before = hashTree(d.dir)
      const frames = await read(d.dir, 'frames')
      expect(facts(frames)).toEqual(facts(await read(d.dir, 'fast')))
      if (frames.integrity.wal.status === 'ok') expect(frames.integrity.wal.detail).toMatch(/frame-checked only, no CRC/)
      expect(hashTree(d.dir)).toEqual(before)
      const m = materialize(d.fixture, { fullSize: true })
      try {
        const full = m.dataDirs[d.key]!
        expect(facts(await read(full, 'frames'))).toEqual(facts(await read(full, 'fast')))
      } finally {
        m.cleanup()
      }
    })
  }

  it('a torn tail in the last segment: torn-tail, the same facts as the fast read', async () => {
    const m = materialize('single')
    try {
      const wal = join(m.dataDir, 'member/wal')
      const seg = join(wal, readdirSync(wal).filter((n) => n.endsWith('.wal')).sort().at(-1)!)
      truncateSync(seg, Math.floor(statSync(seg).size / 16) * 8 + 3) // inside a frame (frames are 8-aligned)
      const frames = await read(m.dataDir, 'frames')
      expect(frames.integrity.wal.status).toBe('torn-tail')
      expect(facts(frames)).toEqual(facts(await read(m.dataDir, 'fast')))
    } finally {
      m.cleanup()
    }
  })

  it('a payload byte flipped in the last segment: the fast read finds it (CRC), the frames read does not and says it did not check', async () => {
    const dir = join(tempDir(), 'd.etcd')
    mkdirSync(join(dir, 'member/wal'), { recursive: true })
    mkdirSync(join(dir, 'member/snap'))
    const w = firstSegment().state(1, 1, 0)
    for (let i = 1; i <= 5; i++) w.entry(1, i, new Uint8Array(100 * 1024).fill(i))
    const seg = w.state(1, 1, 5).cut(4096)
    const at = Buffer.from(seg).indexOf(Buffer.alloc(1024, 3)) + 50 * 1024 // inside entry 3's 100 KiB payload of 3s
    expect(seg.subarray(at - 1000, at + 1000).every((b) => b === 3)).toBe(true)
    seg[at] = 0x55
    writeFileSync(join(dir, 'member/wal', `${'0'.repeat(16)}-${'0'.repeat(16)}.wal`), seg)
    const fast = await read(dir, 'fast')
    const frames = await read(dir, 'frames')
    expect(fast.integrity.wal.status).toBe('corrupt')
    expect(frames.integrity.wal.status).toBe('ok')
    expect(frames.integrity.wal.detail).toMatch(/frame-checked only, no CRC/)
    expect(frames.lastIndex).toBe(5n)
    expect(frames.hardState?.commit).toBe(5n)
  })
})
