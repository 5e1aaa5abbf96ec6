/** `etcd-inspect status` through the built CLI: exit codes, one-line errors, JSON contract, read-only. */
import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '../support/etcd.js'
import { hashTree } from '../support/tree-hash.js'

const CLI = 'dist/cli/main.js'
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' })

function fixtureCopy(): string {
  const d = join(tempDir(), 'single')
  cpSync('fixtures/single/data', d, { recursive: true })
  return d
}

describe('etcd-inspect status (CLI)', () => {
  it('-w json carries the contract fields; files unchanged', () => {
    const d = fixtureCopy()
    const before = hashTree(d)
    const r = cli('status', d, '-w', 'json')
    expect(r.status).toBe(0)
    expect(r.stderr).toBe('')
    const j = JSON.parse(r.stdout)
    // Identity and log position as etcd itself reported them when the fixture was made (MANIFEST.json).
    expect(j).toMatchObject({
      memberId: '34648086a1627388', clusterId: 'd31f9f8f02a87e8', hardState: { term: '2', vote: '34648086a1627388', commit: '329' },
      lastIndex: '329', snapshotIndex: '328', snapshotTerm: '2', consistentIndex: '329', revision: '303', compactRevision: '132',
    })
    expect(j.integrity.invariants.map((i: { ok: boolean | null }) => i.ok)).toEqual([true, null, true, true])
    expect(j.integrity.wal.status).toBe('ok')
    for (const k of ['memberId', 'clusterId', 'hardState', 'lastIndex', 'snapshotIndex', 'consistentIndex']) expect(j).toHaveProperty(k)
    expect(j.resultVersion).toBe(1)
    expect(j.state).toBe('initialized')
    expect(j.consistentIndex).toMatch(/^\d+$/)
    expect(j.members.db.map((m: { id: string }) => m.id)).toEqual(['34648086a1627388'])
    expect(j.inUse.held).toBe(false)
    expect(j.snapshot.files).toBe(5)
    expect(hashTree(d)).toEqual(before)
  })
  it('table and simple render one screen', () => {
    const d = fixtureCopy()
    const t = cli('status', d)
    expect(t.stdout).toMatch(/^data dir +.*single \(initialized\)$/m)
    expect(t.stdout).toMatch(/^members \(db\) +34648086a1627388 single \*$/m)
    expect(t.stdout).toMatch(/^member id +34648086a1627388$/m)
    expect(t.status).toBe(0)
    const s = cli('status', d, '-w', 'simple')
    expect(s.stdout).toMatch(/^in use: no \(no locks in \/proc\/locks\)$/m)
  })
  it('an empty dir is a state, not an error: exit 0', () => {
    const d = tempDir()
    const r = cli('status', d, '-w', 'json')
    expect(r.status).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ state: 'empty', memberId: null, hardState: null, lastIndex: null })
  })
  it('missing path: exit 3, one line; not a data dir: exit 3; bad -w: exit 2', () => {
    const m = cli('status', '/nonexistent/etcd')
    expect(m.status).toBe(3)
    expect(m.stderr).toBe('Error: /nonexistent/etcd: no such file or directory (check the path (a data dir, its member/ dir or its wal/ dir))\n')
    const d = tempDir()
    writeFileSync(join(d, 'notes.txt'), 'x')
    const nd = cli('status', d)
    expect(nd.status).toBe(3)
    expect(nd.stderr).toBe(`Error: ${d}: not an etcd data dir (no member/ directory) (pass the etcd --data-dir (the directory holding member/))\n`)
    expect(cli('status', d, '-w', 'yaml').status).toBe(2)
  })
  it('WAL present but db missing: exit 4 with a one-line error', () => {
    const d = join(tempDir(), 'x')
    mkdirSync(join(d, 'member/wal'), { recursive: true })
    mkdirSync(join(d, 'member/snap'), { recursive: true })
    cpSync('fixtures/single/data/member/wal', join(d, 'member/wal'), { recursive: true })
    const r = cli('status', d)
    expect(r.status).toBe(4)
    expect(r.stderr).toMatch(/^Error: the WAL exists but member\/snap\/db does not \(/m)
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })
})

describe('etcd-inspect status --all-wal-segments', () => {
  it('reads every segment; same identity and HardState', () => {
    const d = fixtureCopy()
    const fast = JSON.parse(cli('status', d, '-w', 'json').stdout)
    const full = cli('status', d, '-w', 'json', '--all-wal-segments')
    expect(full.status).toBe(0)
    const j = JSON.parse(full.stdout)
    expect(j.walRange).toEqual({ fromSegment: '0000000000000000-0000000000000000.wal', segmentsRead: 1, segmentsTotal: 1 })
    expect([j.memberId, j.hardState, j.lastIndex, j.snapshotIndex]).toEqual([fast.memberId, fast.hardState, fast.lastIndex, fast.snapshotIndex])
  })
})

describe('etcd-inspect status on corrupted copies (CORRUPT evidence for check)', () => {
  it('a flipped byte inside a WAL record: exit 4, one-line error with file and offset', () => {
    const d = fixtureCopy()
    const seg = join(d, 'member/wal/0000000000000000-0000000000000000.wal')
    const b = readFileSync(seg)
    b[2000]! ^= 0x40
    writeFileSync(seg, b)
    const r = cli('status', d, '-w', 'json')
    expect(r.status).toBe(4)
    const j = JSON.parse(r.stdout)
    expect(j.integrity.wal.status).toBe('corrupt')
    expect(j.integrity.ok).toBe(false)
    // The read stopped at the damage: its partial HardState is not compared with the db.
    expect(j.integrity.invariants.map((i: { ok: boolean | null }) => i.ok)).toEqual([null, null, null, null])
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/^Error: .*0000000000000000-0000000000000000\.wal@\d+: /m)
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })
  it('a truncated db: exit 4, the db is reported corrupt', () => {
    const d = fixtureCopy()
    const db = join(d, 'member/snap/db')
    writeFileSync(db, readFileSync(db).subarray(0, 100))
    const r = cli('status', d, '-w', 'json')
    expect(r.status).toBe(4)
    const j = JSON.parse(r.stdout)
    expect(j.integrity.db.status).toBe('corrupt')
    expect(j.consistentIndex).toBeNull()
    expect(j.memberId).toBe('34648086a1627388')
    expect(r.stderr).toMatch(/^Error: .*db@\d+: /m)
  })
})
