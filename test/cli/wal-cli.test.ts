/**
 * `etcd-inspect wal` / `wal verify` as a user runs them: `node dist/cli/main.js` (built by
 * `npm test`), exit codes, one-line errors without stack traces, read-only, and argv → options.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { walOptions, verdictExit } from '../../src/cli/commands/wal.js'
import { fsError } from '../../src/io/byte-source.js'
import { allDataDirs, materialize } from '../support/fixtures.js'
import { hashTree } from '../support/tree-hash.js'
import { firstSegment, irrPut, writeWalDir } from '../support/wal-writer.js'

const MAIN = resolve(__dirname, '../../dist/cli/main.js')
const single = allDataDirs().find((d) => d.fixture === 'single')!.dir
const temps: string[] = []
afterAll(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })))

function cli(args: string[], opts: { uid?: number; gid?: number } = {}) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...opts })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

function expectOneLineError(err: string): void {
  const lines = err.trimEnd().split('\n')
  expect(lines, err).toHaveLength(1)
  expect(lines[0]).toMatch(/^Error: /)
  expect(err).not.toMatch(/\n\s+at /)
}

/** A private copy of the single fixture whose WAL segment we can damage. */
function damagedCopy(damage: (bytes: Buffer) => Buffer): string {
  const m = materialize('single')
  const wal = join(m.dataDir, 'member/wal')
  const seg = join(wal, readdirSync(wal).find((n) => n.endsWith('.wal'))!)
  const { readFileSync } = require('node:fs') as typeof import('node:fs')
  writeFileSync(seg, damage(readFileSync(seg)))
  return m.dataDir
}

/** Offset of the Nth frame (walks the length words). */
function frameOffset(b: Buffer, n: number): number {
  let off = 0
  for (let i = 0; i < n; i++) {
    const lo = b.readUInt32LE(off)
    const hi = b.readUInt32LE(off + 4)
    const top = hi >>> 24
    off += 8 + lo + (hi & 0xffffff) * 2 ** 32 + (top & 0x80 ? top & 7 : 0)
  }
  return off
}

describe('wal CLI', () => {
  it('json: the contract fields, exit 0, nothing written', () => {
    const before = hashTree(single)
    const r = cli(['wal', single, '-w', 'json'])
    expect(r.code, r.err).toBe(0)
    const j = JSON.parse(r.out)
    expect(j.memberId).toMatch(/^[0-9a-f]+$/)
    expect(j.clusterId).toMatch(/^[0-9a-f]+$/)
    expect(Object.keys(j.hardState).sort()).toEqual(['commit', 'term', 'vote'])
    expect(typeof j.hardState.commit).toBe('string')
    expect(j.segments.length).toBe(1)
    const put = j.entries.find((e: { request?: { kind: string } }) => e.request?.kind === 'put')
    expect(put).toMatchObject({ type: 'normal', request: { kind: 'put', value: { redacted: true } } })
    expect(typeof put.index).toBe('string')
    expect(j.entries.find((e: { type: string }) => e.type === 'confChange').confChange).toMatchObject({ type: 'ConfChangeAddNode', nodeId: j.memberId })
    expect(hashTree(single)).toEqual(before)
  })
  it('ndjson: one entry per line, then findings, then a summary line', () => {
    const r = cli(['wal', single, '-w', 'ndjson'])
    expect(r.code).toBe(0)
    const lines = r.out.trimEnd().split('\n').map((l) => JSON.parse(l))
    const entries = lines.filter((l) => l.kind === 'entry')
    expect(entries.length).toBeGreaterThan(100)
    for (const e of entries) expect(e).toHaveProperty('index')
    expect(lines.at(-1).kind).toBe('summary')
    expect(lines.at(-1).summary.shown).toBe(entries.length)
    // the streamed entries are the JSON result's entries
    const json = JSON.parse(cli(['wal', single, '-w', 'json']).out)
    expect(entries.map(({ kind: _k, ...e }: { kind: string }) => e)).toEqual(json.entries)
  })
  it('filters: inclusive index range, type, prefix inside txns, member', () => {
    const range = JSON.parse(cli(['wal', single, '-w', 'json', '--start-index', '10', '--end-index', '12']).out)
    expect(range.entries.map((e: { index: string }) => e.index)).toEqual(['10', '11', '12'])
    const txn = JSON.parse(cli(['wal', single, '-w', 'json', '--prefix', '/txn/failed']).out)
    expect(txn.entries.length).toBeGreaterThan(0)
    expect(txn.entries.every((e: { request: { kind: string } }) => e.request.kind === 'txn' || JSON.stringify(e).includes('/txn/failed'))).toBe(true)
    const conf = JSON.parse(cli(['wal', single, '-w', 'json', '--type', 'conf']).out)
    expect(conf.entries.every((e: { type: string }) => e.type === 'confChange')).toBe(true)
    const mem = JSON.parse(cli(['wal', single, '-w', 'json', '--member', conf.memberId]).out)
    expect(mem.entries).toHaveLength(1)
    const snap = JSON.parse(cli(['wal', single, '-w', 'json', '--from-snapshot']).out)
    expect(BigInt(snap.entries[0].index)).toBe(BigInt(snap.fromSnapshot.index) + 1n)
  })
  it('table and simple views print the summary footer', () => {
    const t = cli(['wal', single])
    expect(t.code).toBe(0)
    expect(t.out).toMatch(/end: clean/)
    const s = cli(['wal', single, '-w', 'simple', '--type', 'authUserAdd'])
    expect(s.out).toMatch(/authUserAdd/)
    expect(s.out).not.toMatch(/"password":"[^{]/)
  })
  it('verify: one line per segment and the verdict, exit 0', () => {
    const r = cli(['wal', 'verify', single])
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/^ok +member\/wal\/0000000000000000-0000000000000000\.wal size=\d+ records=\d+/)
    expect(r.out.trimEnd().split('\n').at(-1)).toMatch(/^verdict: clean/)
  })
  it('verify: a torn tail exits 5, corruption exits 4 with file and offset', () => {
    const torn = damagedCopy((b) => {
      const end = frameOffset(b, 60)
      return b.subarray(0, end + 20) // cut inside frame 61: the last segment ends in a torn write
    })
    const t = cli(['wal', 'verify', torn])
    expect(t.code, t.out + t.err).toBe(5)
    expect(t.out).toMatch(/verdict: torn-tail/)
    expect(t.err).toMatch(/^Warning: member\/wal\/0000000000000000-0000000000000000\.wal@\d+: wal: frame length \d+\+\d+ pad .* runs past the end of the file: \d+ bytes left \(a torn write at the end of the last segment is normal after a crash/)
    expect(t.err.trimEnd().split('\n')).toHaveLength(1)
    const corrupt = damagedCopy((b) => {
      const c = Buffer.from(b)
      const off = frameOffset(c, 30)
      c[off + 12]! ^= 0xff
      return c
    })
    const c = cli(['wal', 'verify', corrupt])
    expect(c.code).toBe(4)
    expect(c.out).toMatch(/ERROR (crc-mismatch|bad-protobuf) member\/wal\/0000000000000000-0000000000000000\.wal@\d+: /)
    expect(c.out).toMatch(/verdict: corrupt/)
    expectOneLineError(c.err)
    expect(c.err).toMatch(/^Error: member\/wal\/0000000000000000-0000000000000000\.wal@\d+: wal: (crc mismatch: expected [0-9a-f]{8} computed [0-9a-f]{8}|record at \d+ is not a walpb.Record: .*) \(.*\(etcd-inspect replace plan\)\)\n$/)
    expect(cli(['wal', corrupt, '-w', 'json']).code).toBe(4)
    expect(cli(['wal', corrupt, '--tolerant', '-w', 'json']).code).toBe(4)
  })
  it('a path that does not exist: exit 3, one line, no stack trace; --debug adds it', () => {
    const r = cli(['wal', '/nonexistent/etcd-data'])
    expect(r.code).toBe(3)
    expectOneLineError(r.err)
    expect(r.err).toBe('Error: /nonexistent/etcd-data: no such file or directory (check the path (a data dir, its member/ dir or its wal/ dir))\n')
    const d = cli(['--debug', 'wal', '/nonexistent/etcd-data'])
    expect(d.code).toBe(3)
    expect(d.err).toMatch(/\n\s+at /)
  })
  it('an empty dir and a dir without WAL segments: exit 3', () => {
    const empty = mkdtempSync(join(tmpdir(), 'wal-empty-'))
    temps.push(empty)
    const r = cli(['wal', empty])
    expect(r.code).toBe(3)
    expectOneLineError(r.err)
    expect(r.err).toMatch(/empty directory, not an etcd data dir/)
    mkdirSync(join(empty, 'member/wal'), { recursive: true })
    const r2 = cli(['wal', 'verify', empty])
    expect(r2.code).toBe(3)
    expect(r2.err).toMatch(/no WAL segments/)
  })
  it('a non-WAL file named like a segment: exit 4 naming file and offset 0', () => {
    const d = mkdtempSync(join(tmpdir(), 'wal-notwal-'))
    temps.push(d)
    mkdirSync(join(d, 'wal'))
    writeFileSync(join(d, 'wal/0000000000000000-0000000000000000.wal'), 'just some text, not a WAL\n'.repeat(10))
    const r = cli(['wal', 'verify', join(d, 'wal')])
    expect(r.code).toBe(4)
    expect(r.out).toMatch(/ERROR bad-frame .*0000000000000000-0000000000000000\.wal@0: .*this file is not a WAL segment/)
  })
  it('a seq gap between segments: corruption', () => {
    const d = mkdtempSync(join(tmpdir(), 'wal-gap-'))
    temps.push(d)
    const src = join(single, 'member/wal/0000000000000000-0000000000000000.wal')
    mkdirSync(join(d, 'wal'))
    copyFileSync(src, join(d, 'wal/0000000000000000-0000000000000000.wal'))
    copyFileSync(src, join(d, 'wal/0000000000000002-0000000000000500.wal'))
    const r = cli(['wal', 'verify', join(d, 'wal'), '-w', 'json'])
    expect(r.code).toBe(4)
    const j = JSON.parse(r.out)
    expect(j.findings.map((f: { code: string }) => f.code)).toContain('seq-gap')
  })
  it('a file without read permission: exit 3 naming the file (run as an unprivileged user)', () => {
    const d = mkdtempSync(join(tmpdir(), 'wal-perm-'))
    temps.push(d)
    chmodSync(d, 0o755)
    mkdirSync(join(d, 'wal'), { mode: 0o755 })
    const seg = join(d, 'wal/0000000000000000-0000000000000000.wal')
    copyFileSync(join(single, 'member/wal/0000000000000000-0000000000000000.wal'), seg)
    chmodSync(seg, 0o000)
    // root ignores file modes: run the CLI as `nobody` then, so the open really fails with EACCES.
    const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {}
    const r = cli(['wal', join(d, 'wal')], asUser)
    expect(r.code, r.err).toBe(3)
    expectOneLineError(r.err)
    expect(r.err).toBe(`Error: ${seg}: permission denied (cannot open) (run as the etcd user or root (read access is enough))\n`)
  })
  it('usage errors exit 2', () => {
    expect(cli(['wal', single, '--start-index', 'abc']).code).toBe(2)
    expect(cli(['wal', single, '-w', 'yaml']).code).toBe(2)
    expect(cli(['wal']).code).toBe(2)
  })
})

describe('wal CLI: -w ndjson on worker threads', () => {
  it('a full-size 64 MB segment: the parallel path prints exactly what --threads 1 prints, read-only', () => {
    const m = materialize('single', { fullSize: true })
    temps.push(m.root)
    const before = hashTree(m.dataDir)
    const par = cli(['wal', m.dataDir, '-w', 'ndjson', '--threads', '2'])
    const one = cli(['wal', m.dataDir, '-w', 'ndjson', '--threads', '1'])
    expect(par.code).toBe(0)
    expect(one.code).toBe(0)
    expect(par.out.split('\n').length).toBeGreaterThan(100)
    expect(par.out).toBe(one.out)
    expect(par.err).toBe('')
    expect(hashTree(m.dataDir)).toEqual(before)
  })
  it('a reader that stops early (| head -n 1): exit 0, no error, no hang, on both paths', () => {
    // ~12 MB of segment, ~14 MB of ndjson: far more than a pipe holds, so the writer meets EPIPE
    const w = firstSegment()
    for (let i = 1; i <= 40_000; i++) w.entry(2, i, irrPut(`/registry/bench/${i}`, 'v'.repeat(200 + (i % 50)), 0n, BigInt(i)))
    w.state(2, 1, 40_000)
    const d = writeWalDir([[0n, 0n, w.cut(4096)]], temps, 'wal-cli-epipe-')
    for (const threads of ['2', '1']) {
      const r = spawnSync('bash', ['-c', `"${process.execPath}" "${MAIN}" wal "${d}" -w ndjson --threads ${threads} | head -n 1; echo "rc=\${PIPESTATUS[0]}" >&2`], { encoding: 'utf8', timeout: 60_000 })
      expect(r.error, threads).toBeUndefined()
      expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(1)
      expect(JSON.parse(r.stdout).index).toBe('1')
      expect(r.stderr.trim(), threads).toBe('rc=0')
    }
  })
  it('--threads takes 1 to 64', () => {
    for (const bad of ['0', '65', 'x', '-1', '1.5']) {
      const r = cli(['wal', single, '-w', 'ndjson', '--threads', bad])
      expect(r.code, bad).toBe(2)
      expectOneLineError(r.err)
      expect(r.err).toMatch(/--threads/)
    }
  })
})

describe('argv → options', () => {
  it('parses indexes, types, member IDs and rejects bad values', async () => {
    expect(await walOptions({ startIndex: '5', endIndex: '18446744073709551615', type: 'put,txn', member: '2f7fbfd36802ff7a' })).toMatchObject({
      startIndex: 5n, endIndex: 18446744073709551615n, types: ['put', 'txn'], member: 0x2f7fbfd36802ff7an })
    await expect(walOptions({ type: 'bogus' })).rejects.toThrow(/unknown --type bogus/)
    await expect(walOptions({ member: 'xyz!' })).rejects.toThrow(/not a member ID/)
    await expect(walOptions({ startIndex: '9', endIndex: '3' })).rejects.toThrow(/above --end-index/)
    await expect(walOptions({ key: 'a', prefix: 'b' })).rejects.toThrow(/cannot be combined/)
    expect([verdictExit('clean'), verdictExit('torn-tail'), verdictExit('corrupt')]).toEqual([0, 5, 4])
  })
  it('maps EACCES and ENOENT to input errors with advice', () => {
    const e = fsError(Object.assign(new Error('x'), { code: 'EACCES' }), '/d/member/wal/x.wal')
    expect(e.code).toBe('permission')
    expect(e.message).toBe('/d/member/wal/x.wal: permission denied (cannot open)')
  })
})
