/**
 * `index` and `history` on a WAL they cannot read to its end, and on data dirs without a WAL: a
 * corrupt WAL is read up to the damage, and both commands must say so (file@offset), not return a
 * silently shorter answer; a missing WAL is "db only, and why"; any other failure to open the WAL is
 * an error, not an index without its WAL part. Real files: copies of fixtures/single (etcd 3.4).
 */
import { cpSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync, writeSync, closeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REPO_ROOT, runCli } from '../support/cli.js'
import { hashTree } from '../support/tree-hash.js'

const FIXTURE = join(REPO_ROOT, 'fixtures', 'single', 'data')
let tmp: string

interface Line { kind: string; index: string; file: string; offset: number; request?: { kind: string; key?: string } }

function walLines(dir: string): Line[] {
  const r = runCli(['wal', dir, '-w', 'ndjson'])
  expect(r.code).toBe(0)
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Line).filter((l) => l.kind === 'entry')
}

function copy(name: string): string {
  const d = join(tmp, name)
  cpSync(FIXTURE, d, { recursive: true })
  return d
}

/** Flips one byte inside the record of the entry at `offset` (its CRC then fails: corruption, not a torn tail). */
function flipInRecord(file: string, offset: number): void {
  const fd = openSync(file, 'r+')
  try {
    const b = Buffer.alloc(1)
    const at = offset + 8 + 4
    readSync(fd, b, 0, 1, at)
    b[0] = b[0]! ^ 0x40
    writeSync(fd, b, 0, 1, at)
  } finally {
    closeSync(fd)
  }
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ei-history-wal-end-'))
})
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

describe('history and index on a corrupt WAL', () => {
  let bad: string
  let damage: Line
  let laterKey: string

  beforeAll(() => {
    const good = walLines(FIXTURE)
    const puts = good.filter((l) => l.request?.kind === 'put')
    damage = puts[Math.floor(puts.length / 3)]!
    // A key whose only WAL requests come after the damage.
    const later = puts.filter((l) => Number(l.index) > Number(damage.index) + 5).map((l) => l.request!.key!)
    laterKey = later.find((k) => puts.every((p) => p.request!.key !== k || Number(p.index) > Number(damage.index)))!
    expect(laterKey).toBeTruthy()
    bad = copy('bad')
    flipInRecord(join(bad, damage.file), damage.offset)
  })

  it('the key has WAL requests on the intact copy (so "none" below comes from the damage)', () => {
    const r = runCli(['history', FIXTURE, laterKey, '--no-index', '-w', 'json'])
    expect(r.code, r.stderr).toBe(0)
    const j = JSON.parse(r.stdout)
    expect(j.wal.requests).toBeGreaterThan(0)
    expect(j.wal.end).toBe('clean')
    expect(j.wal.problems).toEqual([])
    expect(j.notes.join('\n')).not.toMatch(/WAL is corrupt/)
  })

  it('history by scan says where the WAL is corrupt and that requests after it are missing', () => {
    const before = hashTree(bad)
    const r = runCli(['history', bad, laterKey, '--no-index', '-w', 'json'])
    expect(r.code, r.stderr).toBe(0)
    const j = JSON.parse(r.stdout)
    expect(j.wal.requests).toBe(0)
    expect(j.wal.end).toBe('corrupt')
    expect(j.wal.problems[0]).toMatchObject({ severity: 'error', file: damage.file, offset: damage.offset })
    expect(j.notes.join('\n')).toContain(`the WAL is corrupt at ${damage.file}@${damage.offset}`)
    const t = runCli(['history', bad, laterKey, '--no-index'])
    expect(t.stdout).toMatch(/note: the WAL is corrupt at .*: it was read up to the damage/)
    expect(hashTree(bad)).toEqual(before)
  })

  it('index records the corrupt end, says so, and history through it carries the same note', () => {
    const state = join(tmp, 'state-bad')
    const before = hashTree(bad)
    const j = runCli(['index', bad, '--state-dir', state, '-w', 'json'])
    expect(j.code, j.stderr).toBe(0)
    const r = JSON.parse(j.stdout)
    expect(r.wal.end).toBe('corrupt')
    expect(r.wal.problems[0]).toMatchObject({ file: damage.file, offset: damage.offset })
    const t = runCli(['index', bad, '--state-dir', state, '--force'])
    expect(t.stdout).toMatch(/WAL corrupt: indexed up to the damage only/)
    expect(t.stdout).toContain(`${damage.file}@${damage.offset}`)
    const h = runCli(['history', bad, laterKey, '--state-dir', state, '-w', 'json'])
    expect(h.code, h.stderr).toBe(0)
    const hj = JSON.parse(h.stdout)
    expect(hj.wal.source).toBe('index')
    expect(hj.wal.end).toBe('corrupt')
    expect(hj.notes.join('\n')).toContain(`the WAL is corrupt at ${damage.file}@${damage.offset}`)
    expect(hashTree(bad)).toEqual(before)
  })
})

describe('index without a readable WAL', () => {
  it('a data dir without member/wal is indexed db-only, and the output says why', () => {
    const d = copy('nowal')
    rmSync(join(d, 'member', 'wal'), { recursive: true })
    const r = runCli(['index', d, '--state-dir', join(tmp, 'state-nowal'), '-w', 'json'])
    expect(r.code, r.stderr).toBe(0)
    const j = JSON.parse(r.stdout)
    expect(j.wal).toBeNull()
    expect(j.walSkipped).toMatch(/no WAL directory/)
    expect(runCli(['index', d, '--state-dir', join(tmp, 'state-nowal2')]).stdout).toMatch(/WAL: not indexed \(.*no WAL directory/)
  })

  it('a file where the WAL dir should be is an error naming it, not an index without its WAL', () => {
    const d = copy('walfile')
    rmSync(join(d, 'member', 'wal'), { recursive: true })
    writeFileSync(join(d, 'member', 'wal'), 'not a dir')
    const r = runCli(['index', d, '--state-dir', join(tmp, 'state-walfile')])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain(join(d, 'member', 'wal'))
    expect(r.stderr).toMatch(/not a directory/)
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })
})
