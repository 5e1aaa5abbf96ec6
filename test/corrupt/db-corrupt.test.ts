/**
 * Bad input for the bbolt reader: every case of the issue, on hand-built files and on the real
 * fixture db. Each must give a typed DecodeError naming the file, the page / byte offset and what
 * was expected — never a crash, never an endless loop — and the CLI must exit 4 with one line.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { memorySource } from '../../src/io/byte-source.js'
import { BoltFile } from '../../src/format/bbolt/file.js'
import { bucket, iterate } from '../../src/format/bbolt/walk.js'
import { checkDb } from '../../src/format/bbolt/check.js'
import { readSummary } from '../../src/format/backend/schema.js'
import { snapshotStatus } from '../../src/format/backend/hash.js'
import { DecodeError } from '../../src/errors.js'
import { buildDb, resealMeta, type Leaf } from '../support/bbolt-writer.js'
import { runCli, REPO_ROOT } from '../support/cli.js'

const FIXTURE_DB = join(REPO_ROOT, 'fixtures/single/data/member/snap/db')
const real = (): Uint8Array => Uint8Array.from(readFileSync(FIXTURE_DB))
const tmp = mkdtempSync(join(tmpdir(), 'db-corrupt-'))
afterAll(() => rmSync(tmp, { recursive: true, force: true }))

const open = (b: Uint8Array): BoltFile => BoltFile.open(memorySource(b, 'db'), { file: 'db' })
/** Runs open + a full status pass; returns the DecodeError thrown. */
function failure(b: Uint8Array): DecodeError {
  try {
    const f = open(b)
    readSummary(f)
    snapshotStatus(f)
  } catch (e) {
    expect(e).toBeInstanceOf(DecodeError)
    return e as DecodeError
  }
  throw new Error('expected a DecodeError')
}
const keys = (n: number): Leaf[] => Array.from({ length: n }, (_, i) => ({ key: `k${String(i).padStart(4, '0')}`, value: `v${i}` }))
const u64 = (b: Uint8Array, off: number, v: bigint): void => new DataView(b.buffer, b.byteOffset).setBigUint64(off, v, true)
const u32 = (b: Uint8Array, off: number, v: number): void => new DataView(b.buffer, b.byteOffset).setUint32(off, v, true)
const u16 = (b: Uint8Array, off: number, v: number): void => new DataView(b.buffer, b.byteOffset).setUint16(off, v, true)

/** The CLI on a corrupted file: exit 4, one line on stderr naming the file, no stack trace. */
function cliFails(b: Uint8Array, name: string, cmd = 'status'): string {
  const p = join(tmp, name)
  writeFileSync(p, b)
  const r = runCli(['db', cmd, p])
  expect(r.code).toBe(4)
  const lines = r.stderr.trimEnd().split('\n')
  expect(lines).toHaveLength(1)
  expect(lines[0]).toMatch(new RegExp(`^Error: ${p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}@\\d+: `))
  expect(r.stderr).not.toMatch(/\n\s+at /)
  return lines[0]!
}

describe('truncated db', () => {
  const full = real()
  const ps = 4096
  it.each([
    [0, 'empty', /file is 0 bytes/],
    [50, 'not-bbolt', /file is 50 bytes, too small/],
    [ps, 'truncated', new RegExp(`file is truncated: 4096 bytes, but meta \\d \\(txid \\d+\\) says ${full.length / ps} pages of 4096 bytes = ${full.length} bytes`)],
    [2 * ps + 100, 'truncated', /file is truncated/],
    [full.length / 2, 'truncated', /file is truncated/],
    [full.length - 1, 'truncated', new RegExp(`file is truncated: ${full.length - 1} bytes`)],
  ])('at %i bytes → %s', (size, code, msg) => {
    const e = failure(full.subarray(0, size))
    expect(e.code).toBe(code)
    expect(e.detail).toMatch(msg)
  })
  it('the CLI says so in one line with exit 4', () => {
    const line = cliFails(full.subarray(0, full.length - 1), 'trunc.db')
    const n = full.length
    expect(line).toMatch(new RegExp(`@${n - 1}: bbolt: file is truncated: ${n - 1} bytes, but meta \\d \\(txid \\d+\\) says ${n / 4096} pages of 4096 bytes = ${n} bytes \\(the file was cut short`))
  })
})

describe('meta pages', () => {
  it('both metas corrupt → bad-meta naming both problems', () => {
    const b = real()
    b[4096 * 0 + 72] ^= 1
    b[4096 * 1 + 72] ^= 1
    const e = failure(b)
    expect(e.code).toBe('bad-meta')
    expect(e.detail).toMatch(/^bbolt: both meta pages are invalid: meta page 0: checksum 0x[0-9a-f]{16} does not match computed 0x[0-9a-f]{16}; meta page 1: checksum/)
    cliFails(b, 'bothmeta.db')
  })
  it('one meta corrupt → falls back to the other and says why', () => {
    const b = real()
    const good = open(b)
    const newer = good.meta.index
    b[newer * 4096 + 72] ^= 1
    const f = open(b)
    expect(f.meta.index).toBe(1 - newer)
    expect(f.meta.txid).toBe(good.meta.txid - 1n)
    expect(f.choice.reason).toMatch(new RegExp(`^meta ${newer} has the higher txid but is invalid \\(bad-checksum\\); fell back to meta ${1 - newer}`))
    // The older tree is intact (nothing reused its pages after the last commit).
    expect(checkDb(f).ok).toBe(true)
    expect(readSummary(f).members).toHaveLength(1)
    writeFileSync(join(tmp, 'onemeta.db'), b)
    const out = runCli(['db', join(tmp, 'onemeta.db'), '-w', 'json'])
    expect(out.code).toBe(0)
    expect(JSON.parse(out.stdout).metaIndex).toBe(1 - newer)
  })
  it('not a bbolt file', () => {
    const b = Uint8Array.from(Buffer.from('x'.repeat(20000)))
    const e = failure(b)
    expect(e.code).toBe('not-bbolt')
    expect(e.message).toBe('db@16: bbolt: not a bbolt file: no meta page has the magic 0xed0cdaed (found 0x78787878 at offset 16)')
    cliFails(b, 'notbolt.db')
  })
})

describe('pages', () => {
  it('a page whose header id does not match', () => {
    const d = buildDb([{ name: 'b', entries: keys(200), perLeaf: 50 }])
    const leaf = d.leaves.b![1]!
    u64(d.bytes, Number(leaf) * 4096, 77n)
    const e = failure(d.bytes)
    expect(e.code).toBe('page-id-mismatch')
    expect(e.message).toBe(`db@${Number(leaf) * 4096}: bbolt: page expected to be ${leaf}, but self identifies as 77 (referenced by branch page ${d.roots.b} element 1)`)
    const c = checkDb(open(d.bytes))
    expect(c.ok).toBe(false)
    expect(c.findings.map((f) => f.code)).toContain('page-id-mismatch')
    cliFails(d.bytes, 'idmismatch.db')
    const r = runCli(['db', 'buckets', join(tmp, 'idmismatch.db')])
    expect(r.code).toBe(4)
    expect(r.stdout).toMatch(/warning: 1 structural problems found while walking/)
  })
  it('a branch element pointing past the high-water mark', () => {
    const d = buildDb([{ name: 'b', entries: keys(200), perLeaf: 50 }])
    const branch = Number(d.roots.b) * 4096
    u64(d.bytes, branch + 16 + 16 * 2 + 8, 999n) // element 2's pgid
    const e = failure(d.bytes)
    expect(e.code).toBe('page-out-of-bounds')
    expect(e.detail).toBe(`bbolt: branch page ${d.roots.b} element 2 points to page 999, outside the data pages [2, ${d.pgid}) (high-water mark ${d.pgid})`)
    const c = checkDb(open(d.bytes))
    expect(c.findings[0]!.code).toBe('page-out-of-bounds')
    cliFails(d.bytes, 'pasthwm.db')
  })
  it('a page cycle is detected, not followed forever', () => {
    const d = buildDb([{ name: 'b', entries: keys(200), perLeaf: 50 }])
    const branch = Number(d.roots.b) * 4096
    u64(d.bytes, branch + 16 + 16 * 3 + 8, d.roots.b!) // element 3 points back at the branch
    const e = failure(d.bytes)
    expect(e.code).toBe('page-cycle')
    expect(e.detail).toBe(`bbolt: page ${d.roots.b} is reached twice (page stack ${d.roots.b} -> ${d.roots.b}): a cycle or a shared subtree`)
    const c = checkDb(open(d.bytes))
    expect(c.findings.map((f) => f.code)).toContain('page-cycle')
    cliFails(d.bytes, 'cycle.db')
    const r = runCli(['db', 'check', join(tmp, 'cycle.db')])
    expect(r.code).toBe(4)
    // The findings are the result (stdout); stderr carries the one-line verdict with file@offset.
    expect(r.stderr).toMatch(/^Error: \S+cycle\.db: 1 structural error\(s\), first at \S+cycle\.db@\d+: page-cycle: /)
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(r.stdout).toMatch(/^error: \S+cycle\.db@\d+: page-cycle: page \d+: cycle \(page stack \d+ -> \d+\)$/m)
  })
  // One field of the `key` bucket's leaf page overwritten; `at` is the page's file offset.
  const leafCases: { name: string; corrupt(b: Uint8Array, at: number): void; code: string; detail(leaf: number, pgid: bigint): string; cliFile?: string }[] = [
    {
      name: 'an overflow count past the end',
      corrupt: (b, at) => u32(b, at + 12, 0xfffffff0),
      code: 'overflow-out-of-bounds',
      detail: (leaf, pgid) => `bbolt: page ${leaf}: overflow 4294967280 runs to page ${leaf + 0xfffffff0}, past the high-water mark ${pgid}`,
      cliFile: 'overflow.db',
    },
    {
      name: 'an element count larger than the page',
      corrupt: (b, at) => u16(b, at + 10, 0xffff),
      code: 'corrupt-page',
      detail: (leaf) => `bbolt: page ${leaf}: 65535 elements need 1048576 bytes, the page has 4096`,
    },
    {
      name: 'an element position outside the page',
      corrupt: (b, at) => u32(b, at + 16 + 16 * 4 + 4, 100000), // element 4's pos
      code: 'corrupt-page',
      detail: (leaf) => `bbolt: page ${leaf}: key of leaf element 4 at page offset 100080 (+5 bytes) runs past the 4096-byte page`,
    },
  ]
  for (const c of leafCases) {
    it(c.name, () => {
      const d = buildDb([{ name: 'key', entries: keys(10) }])
      const leaf = Number(d.roots.key)
      c.corrupt(d.bytes, leaf * 4096)
      const e = failure(d.bytes)
      expect(e.code).toBe(c.code)
      expect(e.detail).toBe(c.detail(leaf, d.pgid))
      if (c.cliFile) cliFails(d.bytes, c.cliFile)
    })
  }
  it('a bucket value too short for its header', () => {
    const d = buildDb([{ name: 'key', entries: keys(3) }, { name: 'meta', entries: keys(2), inline: true }])
    const root = Number(d.rootPage) * 4096
    u32(d.bytes, root + 16 + 12, 8) // element 0 ("key") vsize 8
    const e = failure(d.bytes)
    expect(e.code).toBe('bad-bucket')
    expect(e.detail).toBe('bbolt: bucket "key": value is 8 bytes, shorter than the 16-byte bucket header')
    cliFails(d.bytes, 'shortbucket.db')
  })
  it('an inline bucket value too short for its page header', () => {
    const d = buildDb([{ name: 'meta', entries: keys(2), inline: true }])
    const root = Number(d.rootPage) * 4096
    u32(d.bytes, root + 16 + 12, 20)
    const e = failure(d.bytes)
    expect(e.code).toBe('bad-bucket')
    expect(e.detail).toBe('bbolt: inline bucket "meta": 4 bytes after the bucket header, too short for the 16-byte page header')
  })
  it('keys out of order are a check finding', () => {
    const d = buildDb([{ name: 'key', entries: [{ key: 'b', value: '1' }, { key: 'a', value: '2' }] }])
    const c = checkDb(open(d.bytes))
    expect(c.ok).toBe(false)
    expect(c.findings[0]!.code).toBe('key-order')
    expect(c.findings[0]!.detail).toBe(`page ${d.roots.key}: keys not strictly increasing at element 1 (62 >= 61)`)
  })
  it('a page referenced twice and a freed page still reachable', () => {
    const d = buildDb([{ name: 'key', entries: keys(200), perLeaf: 50 }, { name: 'other', entries: keys(3) }])
    const branch = Number(d.roots.key) * 4096
    u64(d.bytes, branch + 16 + 16 * 3 + 8, d.roots.other!) // element 3 → the other bucket's leaf
    const c = checkDb(open(d.bytes))
    expect(c.findings.map((f) => f.code)).toEqual(expect.arrayContaining(['multiple-references', 'key-order']))
  })
  it('a HWM larger than the meta can describe is refused before allocating', () => {
    const d = buildDb([{ name: 'key', entries: keys(3) }])
    u64(d.bytes, 56, 1n << 60n)
    u64(d.bytes, 4096 + 56, 1n << 60n)
    resealMeta(d.bytes, 0)
    resealMeta(d.bytes, 4096)
    const e = failure(d.bytes)
    expect(e.code).toBe('bad-meta')
    expect(e.detail).toMatch(/high-water mark 1152921504606846976 is out of range/)
  })
})

describe('real fixture db corruptions', () => {
  it('truncation at every page boundary and ±1 is a typed error, never a crash', () => {
    const base = real()
    const codes = new Map<string, number>()
    for (let p = 0; p <= base.length / 4096; p++) {
      for (const d of [-1, 0, 1]) {
        const size = p * 4096 + d
        if (size < 0 || size >= base.length) continue
        const e = failure(base.subarray(0, size))
        codes.set(e.code, (codes.get(e.code) ?? 0) + 1)
        expect(e.offset).toBeLessThanOrEqual(Math.max(size, 16))
      }
    }
    expect([...codes.keys()].sort()).toEqual(['empty', 'not-bbolt', 'truncated'])
  })
  it('changing the id of each reachable page is found by check and by status', () => {
    const base = real()
    const reachable = new Set<number>()
    const f0 = open(base)
    const c0 = checkDb(f0)
    for (let p = 2; p < base.length / 4096; p++) if (!c0.unreachable.includes(BigInt(p))) reachable.add(p)
    expect(reachable.size).toBe(c0.reachablePages - 2)
    for (const p of reachable) {
      const b = base.slice()
      u64(b, p * 4096, BigInt(p) + 1000n)
      const c = checkDb(open(b))
      expect(c.findings.map((x) => x.code)).toContain('page-id-mismatch')
      expect(failure(b).code).toBe('page-id-mismatch')
    }
  })
  it('flipping the flags of every data page never crashes', () => {
    const base = real()
    const hwm = base.length / 4096
    for (let p = 2; p < hwm; p++) {
      const b = base.slice()
      b[p * 4096 + 8] = 0x40
      let f: BoltFile
      try { f = open(b) } catch (e) { expect(e).toBeInstanceOf(DecodeError); continue }
      const c = checkDb(f)
      // A free page may hold anything; a reachable one must be reported.
      if (!c.ok) expect(c.findings[0]!.code).toBe('bad-page-type')
      try { snapshotStatus(f) } catch (e) { expect((e as DecodeError).code).toBe('bad-page-type') }
    }
  })
  it('zeroing each data page gives typed errors only', () => {
    const base = real()
    const hwm = base.length / 4096
    for (let p = 2; p < hwm; p++) {
      const b = base.slice()
      b.fill(0, p * 4096, (p + 1) * 4096)
      try {
        const f = open(b)
        checkDb(f)
        readSummary(f)
        snapshotStatus(f)
        for (const e of iterate(f, bucket(f, 'key')!.bucket)) void e
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError)
      }
    }
  })
})
