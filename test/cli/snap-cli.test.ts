/** `etcd-inspect snap` through the built CLI: exit codes, one-line errors, no stack traces, JSON contract. */
import { describe, expect, it } from 'vitest'
import { execFileSync, spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { snapOptions } from '../../src/cli/commands/snap.js'
import { UsageError } from '../../src/errors.js'
import { tempDir } from '../support/etcd.js'
import { hashTree } from '../support/tree-hash.js'
import { raftSnapshot, snapFile, v2StoreJson } from '../format/snap-bytes.js'

const CLI = 'dist/cli/main.js'
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' })
const hex16 = (v: bigint): string => v.toString(16).padStart(16, '0')

function snapDir(files: Record<string, Uint8Array | string>): string {
  const d = join(tempDir(), 'd')
  mkdirSync(join(d, 'member/snap'), { recursive: true })
  for (const [n, b] of Object.entries(files)) writeFileSync(join(d, 'member/snap', n), b)
  return d
}
const good = (term: bigint, index: bigint) => snapFile(raftSnapshot({ term, index, voters: [1n], data: v2StoreJson({ version: '3.4.0', keys: ['a'] }) }))

describe('snap argv → options', () => {
  it('parses --snapshot-count as bigint and rejects junk', () => {
    expect(snapOptions({ snapshotCount: '20' })).toEqual({ snapshotCount: 20n, noWal: false })
    expect(snapOptions({ wal: false, walDir: '/w' })).toEqual({ snapshotCount: undefined, walDir: '/w', noWal: true })
    expect(() => snapOptions({ snapshotCount: 'abc' })).toThrowError(UsageError)
    expect(() => snapOptions({ snapshotCount: '0' })).toThrowError('--snapshot-count: expected a positive integer, got "0"')
  })
})

describe('etcd-inspect snap (CLI)', () => {
  it('good files: exit 0, JSON contract with snapshots[].file/term/index/crc and cadence', () => {
    const d = snapDir({ [`${hex16(2n)}-${hex16(21n)}.snap`]: good(2n, 21n), [`${hex16(2n)}-${hex16(42n)}.snap`]: good(2n, 42n) })
    const before = hashTree(d)
    const r = cli('snap', d, '-w', 'json', '--snapshot-count', '20')
    expect(r.status).toBe(0)
    expect(r.stderr).toBe('')
    const j = JSON.parse(r.stdout)
    expect(j.snapshots.map((s: { file: string; term: string; index: string; crc: string; status: string }) => [s.file, s.term, s.index, s.crc, s.status])).toEqual([
      [`${hex16(2n)}-${hex16(21n)}.snap`, '2', '21', 'ok', 'ok'], [`${hex16(2n)}-${hex16(42n)}.snap`, '2', '42', 'ok', 'ok'],
    ])
    expect(j.snapshots[0].confState.voters).toEqual(['1'])
    expect(j.snapshots[0].v2store).toMatchObject({ clusterVersion: '3.4.0', v2Keys: 1 })
    expect(j.cadence).toMatchObject({ snapshotCount: '20', expectedDistance: '21', minDistance: '21', nextSnapshotAt: '63', consistentWithCount: true })
    expect(hashTree(d)).toEqual(before)
  })
  it('a bad CRC, a zero-length file and garbage: exit 4, one line each on stderr, no stack trace, files untouched', () => {
    const bad = good(2n, 63n)
    bad[bad.length - 1]! ^= 0xff
    const d = snapDir({
      [`${hex16(2n)}-${hex16(21n)}.snap`]: good(2n, 21n),
      [`${hex16(2n)}-${hex16(42n)}.snap`]: new Uint8Array(0),
      [`${hex16(2n)}-${hex16(63n)}.snap`]: bad,
      [`${hex16(2n)}-${hex16(84n)}.snap`]: 'this is not a snapshot',
    })
    const before = hashTree(d)
    const r = cli('snap', d, '-w', 'json')
    expect(r.status).toBe(4)
    const lines = r.stderr.trimEnd().split('\n')
    expect(lines).toHaveLength(3)
    expect(lines[0]).toBe(`Error: member/snap/${hex16(2n)}-${hex16(42n)}.snap@0: snap: empty snapshot (0-byte file); expected snappb.snapshot {crc, data} (etcd skips it at start (renaming it to .broken) and falls back to an older snapshot; keep the file for analysis)`)
    expect(lines[1]).toMatch(new RegExp(`^Error: member/snap/${hex16(2n)}-${hex16(63n)}\\.snap@\\d+: snap: crc mismatch: expected [0-9a-f]{8} computed [0-9a-f]{8} over \\d+ bytes \\(`))
    expect(lines[2]).toMatch(new RegExp(`^Error: member/snap/${hex16(2n)}-${hex16(84n)}\\.snap@[01]: snap: protobuf: unexpected end-group`))
    expect(r.stderr).not.toMatch(/\n\s+at /)
    const j = JSON.parse(r.stdout)
    expect(j.snapshots.map((s: { status: string; crc: string }) => `${s.status}/${s.crc}`)).toEqual(['ok/ok', 'empty/not-checked', 'crc-mismatch/mismatch', 'undecodable/not-checked'])
    // Unlike etcd's snapshotter, nothing was renamed to .broken.
    expect(hashTree(d)).toEqual(before)
    expect(readdirSync(join(d, 'member/snap')).some((n) => n.endsWith('.broken'))).toBe(false)
  })
  it('a single .snap file as argument', () => {
    const d = snapDir({ [`${hex16(3n)}-${hex16(7n)}.snap`]: good(3n, 7n) })
    const r = cli('snap', join(d, 'member/snap', `${hex16(3n)}-${hex16(7n)}.snap`), '-w', 'json')
    expect(r.status).toBe(0)
    expect(JSON.parse(r.stdout).snapshots[0]).toMatchObject({ term: '3', index: '7', status: 'ok' })
    const g = join(d, 'garbage.snap')
    writeFileSync(g, Buffer.alloc(100, 0xff))
    const rg = cli('snap', g)
    expect(rg.status).toBe(4)
    expect(rg.stderr).toMatch(/^Error: .*garbage\.snap@0: snap: protobuf: .*\n$/)
  })
  it('no .snap at all: exit 0, empty list (table and json)', () => {
    const d = snapDir({ db: 'x' })
    const r = cli('snap', d, '-w', 'json')
    expect(r.status).toBe(0)
    const j = JSON.parse(r.stdout)
    expect(j.snapshots).toEqual([])
    expect(j.db).toEqual({ file: 'db', size: 1 })
    expect(j.cadence.nextSnapshotAt).toBe('100001')
    const t = cli('snap', d)
    expect(t.status).toBe(0)
    expect(t.stdout).toMatch(/no \.snap files/)
  })
  it('missing path: exit 3; not a data dir: exit 3; bad flag: exit 2', () => {
    const missing = cli('snap', '/nonexistent/etcd')
    expect(missing.status).toBe(3)
    expect(missing.stderr).toBe('Error: /nonexistent/etcd: no such file or directory (check the path (a data dir, its member/ dir or its wal/ dir))\n')
    const d = tempDir()
    const nd = cli('snap', d)
    expect(nd.status).toBe(3)
    expect(nd.stderr).toMatch(/not an etcd data dir/)
    expect(cli('snap', d, '--snapshot-count', 'x').status).toBe(2)
    expect(cli('snap', d, '-w', 'yaml').status).toBe(2)
  })
  it('fixture data dir: table, simple and ndjson render', () => {
    const d = join(tempDir(), 'f')
    mkdirSync(join(d, 'member/snap'), { recursive: true })
    for (const n of readdirSync('fixtures/single/data/member/snap')) copyFileSync(join('fixtures/single/data/member/snap', n), join(d, 'member/snap', n))
    const t = execFileSync(process.execPath, [CLI, 'snap', d, '--snapshot-count', '40'], { encoding: 'utf8' })
    expect(t).toMatch(/cadence: --snapshot-count 40 \(given\)/)
    const s = execFileSync(process.execPath, [CLI, 'snap', d, '-w', 'simple'], { encoding: 'utf8' })
    expect(s.split('\n')[0]).toMatch(/^0000000000000002-[0-9a-f]{16}\.snap, ok, 2, \d+, ok, unknown$/)
    const nd = execFileSync(process.execPath, [CLI, 'snap', d, '-w', 'ndjson'], { encoding: 'utf8' }).trim().split('\n').map((l) => JSON.parse(l))
    expect(nd.at(-1).type).toBe('summary')
    expect(nd.slice(0, -1).every((x: { type: string }) => x.type === 'snapshot')).toBe(true)
  })
})
