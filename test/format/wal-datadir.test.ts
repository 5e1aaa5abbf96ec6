import { afterAll, describe, expect, it } from 'vitest'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { resolveDataDir } from '../../src/io/datadir.js'
import { listWalDir } from '../../src/io/wal-files.js'
import { readWalSummary } from '../../src/app/wal.js'
import { InputError } from '../../src/errors.js'
import { allDataDirs } from '../support/fixtures.js'

const single = resolve(allDataDirs().find((d) => d.fixture === 'single')!.dir)
const temps: string[] = []
afterAll(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })))

describe('data-dir layout', () => {
  it('accepts a data dir, a member/ dir and a wal/ dir', () => {
    expect(resolveDataDir(single)).toMatchObject({ kind: 'data-dir', dataDir: single, memberDir: join(single, 'member'), walDir: join(single, 'member/wal'), snapDir: join(single, 'member/snap') })
    expect(resolveDataDir(join(single, 'member'))).toMatchObject({ kind: 'member-dir', dataDir: single, walDir: join(single, 'member/wal'), snapDir: join(single, 'member/snap') })
    expect(resolveDataDir(join(single, 'member/wal'))).toMatchObject({ kind: 'wal-dir', memberDir: join(single, 'member'), dataDir: single, walDir: join(single, 'member/wal') })
    const a = readWalSummary(single)
    const b = readWalSummary(join(single, 'member/wal'))
    expect(b.memberId).toBe(a.memberId)
    expect(b.lastIndex).toBe(a.lastIndex)
  })
  it('--wal-dir: a data dir whose WAL lives elsewhere', () => {
    const d = mkdtempSync(join(tmpdir(), 'wal-dd-'))
    temps.push(d)
    mkdirSync(join(d, 'data/member/snap'), { recursive: true })
    const l = resolveDataDir(join(d, 'data'), { walDir: join(single, 'member/wal') })
    expect(l.walDir).toBe(join(single, 'member/wal'))
    expect(readWalSummary(join(d, 'data'), { walDir: join(single, 'member/wal') }).memberId).toBe(readWalSummary(single).memberId)
    // without it: the member has no WAL
    expect(() => resolveDataDir(join(d, 'data'))).toThrowError(/no WAL directory/)
  })
  it('rejects what is not a data dir, with advice', () => {
    const d = mkdtempSync(join(tmpdir(), 'wal-dd-'))
    temps.push(d)
    writeFileSync(join(d, 'notes.txt'), 'x')
    try {
      resolveDataDir(d)
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(InputError)
      expect((e as InputError).code).toBe('not-a-data-dir')
      expect((e as InputError).hint).toMatch(/data dir/)
    }
    expect(() => resolveDataDir(join(d, 'notes.txt'))).toThrowError(/not a directory/)
    expect(() => resolveDataDir(join(d, 'missing'))).toThrowError(/no such file or directory/)
  })
  it('lists .tmp, .broken and unknown files by name', () => {
    const d = mkdtempSync(join(tmpdir(), 'wal-dd-'))
    temps.push(d)
    for (const n of ['0000000000000000-0000000000000000.wal', '0.tmp', '0000000000000000-0000000000000000.wal.broken', 'README', '0000000000000001-0000000000000010.wal']) writeFileSync(join(d, n), '')
    const l = listWalDir(d)
    expect(l.segments.map((s) => s.name)).toEqual(['0000000000000000-0000000000000000.wal', '0000000000000001-0000000000000010.wal'])
    expect(l.tmp.map((t) => t.name)).toEqual(['0.tmp'])
    expect(l.broken.map((t) => t.name)).toEqual(['0000000000000000-0000000000000000.wal.broken'])
    expect(l.unknown.map((t) => t.name)).toEqual(['README'])
    expect(l.gaps).toEqual([])
  })
})
