/**
 * issue 11.3: a log whose first entry does not follow the snapshot etcd boots from (a 2.x member
 * copied without its snap dir, segments purged past the snapshot that covered them) is an error
 * naming the file and the entry's offset, on every path: the reader, the verify scan (which must
 * step aside), the parallel ndjson (same bytes as the reader), `status`'s WAL sources (fast and
 * full) and `snap`'s coverage.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { runWal, streamWal, verifyByScan, verifyWal } from '../../src/app/wal.js'
import { streamWalParallel } from '../../src/app/wal-parallel.js'
import { readWalFacts, readWalFactsFast } from '../../src/app/sources.js'
import { runSnap } from '../../src/app/snap.js'
import { collectStatus } from '../../src/app/status.js'
import { renderWalStream } from '../../src/render/wal.js'
import type { Sink } from '../../src/render/output.js'
import { WalWriter, irrPut, writeWalDir } from '../support/wal-writer.js'

const temps: string[] = []
afterAll(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })))

/**
 * One segment named after `first - 1` whose entries run first..first+n-1, with the {0,0} snapshot
 * record etcd writes at creation and optionally a snapshot record at `snapAt` before the entries.
 * Returns the dir and the offset of the first entry's frame.
 */
function log(first: number, n: number, snapAt?: number, commitAll = true, nameIndex = Math.max(0, first - 1)): { dir: string; firstOffset: number } {
  const w = new WalWriter().crcRecord().metadata().snapshot(0, 0)
  if (snapAt !== undefined) w.snapshot(snapAt, 2)
  w.state(2, 1, snapAt ?? 0)
  const firstOffset = w.offsets.length
  for (let i = 0; i < n; i++) w.entry(2, first + i, irrPut(`/k/${i}`, `v${i}`))
  w.state(2, 1, commitAll ? first + n - 1 : 0)
  const off = w.offsets[firstOffset]!
  const dir = writeWalDir([[0n, BigInt(nameIndex), w.cut(4096)]], temps, 'wal-start-')
  return { dir, firstOffset: off }
}

const SEG = (first: number) => `member/wal/0000000000000000-${Math.max(0, first - 1).toString(16).padStart(16, '0')}.wal`

function collect(): Sink & { text(): string } {
  const parts: string[] = []
  return { write: (s) => void parts.push(typeof s === 'string' ? s : Buffer.from(s).toString('utf8')), writeOwned: async (b) => void parts.push(Buffer.from(b).toString('utf8')), text: () => parts.join('') }
}

describe('the first entry must follow the boot snapshot (log-start-gap)', () => {
  it('a log starting at 1,410,335 with no usable snapshot: error with file and offset on the reader and verify paths', () => {
    const { dir, firstOffset } = log(1_410_335, 20)
    expect(verifyByScan(dir, {})).toBeNull() // the scan steps aside: the reader reports
    const v = verifyWal(dir)
    expect(v.verdict).toBe('corrupt')
    const f = v.findings.find((x) => x.code === 'log-start-gap')!
    expect(f).toMatchObject({ severity: 'error', file: SEG(1_410_335), offset: firstOffset, index: 1_410_335n })
    expect(f.detail).toMatch(/first entry is 1410335 but it must continue from index 0 .* 1410334 entries are missing \(etcd: "wal: slice bounds out of range"\)/)
    const r = runWal(dir)
    expect(r.summary.end).toBe('corrupt')
    expect(r.entries).toHaveLength(20) // every entry is still shown
  })
  it('a snapshot record at or below the commit covers the start; one above the commit does not', () => {
    const ok = log(1000, 5, 999)
    expect(verifyWal(ok.dir).verdict).toBe('clean')
    expect(verifyByScan(ok.dir, {})).not.toBeNull()
    const above = log(1000, 5, 999, false) // commit 0: the record at 999 is not usable (ValidSnapshotEntries)
    expect(verifyWal(above.dir).findings.map((f) => f.code)).toContain('log-start-gap')
    const short = log(1001, 5, 999) // entry 1000 missing after the snapshot at 999
    expect(verifyWal(short.dir).findings.find((f) => f.code === 'log-start-gap')!.detail).toMatch(/continue from the snapshot at index 999, with entry 1000: 1 entries are missing/)
    // a log from index 1 needs no snapshot record
    expect(verifyWal(log(1, 5).dir).verdict).toBe('clean')
  })
  it('parallel ndjson: the same bytes as the reader, finding included', async () => {
    const { dir } = log(1_410_335, 400)
    const reader = collect()
    await renderWalStream(streamWal(dir, {}), reader)
    const par = collect()
    const run = await streamWalParallel(dir, {}, { threads: 2, force: true, chunkBytes: 4096 })
    expect(run).not.toBeNull()
    await renderWalStream(run!.items, par)
    expect(par.text()).toBe(reader.text())
    expect(reader.text()).toMatch(/"kind":"finding","severity":"error","code":"log-start-gap"/)
  })
  it('status sources (fast and full) and snap coverage say so', async () => {
    const { dir, firstOffset } = log(1_410_335, 20)
    for (const read of [readWalFactsFast, readWalFacts]) {
      const facts = await read(join(dir, 'member/wal'))
      expect(facts.end.status).toBe('corrupt')
      expect(facts.findings!.find((f) => f.code === 'log-start-gap')).toMatchObject({ file: expect.stringContaining(SEG(1_410_335).split('/').pop()!), offset: firstOffset })
    }
    const st = await collectStatus(dir, { skipLockCheck: true })
    expect(st.integrity.wal).toMatchObject({ status: 'corrupt' })
    expect(JSON.stringify(st.integrity.wal)).toMatch(/log-start-gap|first entry is 1410335/)
    expect(st.findings.some((f) => f.code === 'log-start-gap' && f.offset === firstOffset)).toBe(true)
    // named after its first entry: no segment starts at or before index 0
    expect((await runSnap(dir)).wal!.coverage.covered).toBe(false)
    // named 0000000000000000-0000000000000000.wal as a 2.x member names its first segment: the names cover, the entries do not
    const snap = await runSnap(log(1_410_335, 20, undefined, true, 0).dir)
    expect(snap.wal!.coverage.covered).toBe(false)
    expect(snap.wal!.coverage.detail).toMatch(/first entry is 1410335, not 1: etcd fails at start with "wal: slice bounds out of range"/)
    expect(snap.findings.find((f) => f.code === 'wal-not-covered')).toBeTruthy()
    expect((await runSnap(log(1, 5).dir)).wal!.coverage.covered).toBe(true)
  })
})
