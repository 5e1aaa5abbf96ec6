/**
 * The report's pieces without a browser: the timeline fold (bounded buckets whatever the log's
 * length, counts exact), the page size bound for a 1M-entry log (also when every entry starts a
 * new term), HTML escaping of hostile strings from a data dir, and the CLI's refusals (no
 * overwrite without --force, never inside the data dir).
 */
import { describe, expect, it } from 'vitest'
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildTimeline, collectReport, type ReportResult } from '../../src/app/report.js'
import type { WalStreamItem, WalEntry } from '../../src/app/wal.js'
import type { EntryPayload } from '../../src/format/raft/entry.js'
import { renderReport } from '../../src/render/report.js'
import { esc } from '../../src/render/report-html.js'
import { runCli } from '../support/cli.js'
import { tempDir } from '../support/etcd.js'
import { hashTree } from '../support/tree-hash.js'

interface SynthOpts { n: number; termEvery?: number; confAt?: number[]; compactEvery?: number; uncommittedTail?: number; tornAfter?: boolean }

/** `streamWal`-shaped items for a log of `n` entries (index 1..n), produced lazily: nothing is kept. */
function* synth(o: SynthOpts): Generator<WalStreamItem> {
  const commit = BigInt(o.n - (o.uncommittedTail ?? 0))
  yield { kind: 'header', header: { version: 1, dir: 'x', walDir: 'x/member/wal', hardState: { term: 1n, vote: '0000000000000000', commit }, files: { tmp: [], broken: [], unknown: [] } } }
  const byType: Record<string, number> = {}
  const byKind: Record<string, number> = {}
  const conf = new Set(o.confAt ?? [])
  for (let i = 1; i <= o.n; i++) {
    const term = BigInt(1 + Math.floor((i - 1) / (o.termEvery ?? o.n)))
    const isConf = conf.has(i)
    const kind = isConf ? 'confChange' : o.compactEvery && i % o.compactEvery === 0 ? 'compaction' : i % 3 === 0 ? 'txn' : 'put'
    const payload = (isConf ? { kind: 'confChange', confChange: { type: 'ConfChangeAddNode', nodeId: BigInt(0x1000 + i), id: 0n } }
      : { kind: 'irr', request: kind === 'compaction' ? { kind, revision: BigInt(i), physical: false } : { kind } }) as EntryPayload
    const e: WalEntry = { index: BigInt(i), term, type: isConf ? 'confChange' : 'normal', entryType: isConf ? 1 : 0, file: 'member/wal/0.wal', offset: i * 64, dataBytes: 40, committed: BigInt(i) <= commit, payload }
    byType[e.type] = (byType[e.type] ?? 0) + 1
    byKind[kind] = (byKind[kind] ?? 0) + 1
    yield { kind: 'entry', entry: e }
  }
  const findings = o.tornAfter ? [{ severity: 'warning' as const, code: 'torn-tail' as const, file: 'member/wal/0.wal', offset: (o.n + 1) * 64, detail: 'wal: torn' }] : []
  for (const f of findings) yield { kind: 'finding', finding: f }
  const tail = o.uncommittedTail ?? 0
  yield { kind: 'summary', result: { version: 1, dir: 'x', walDir: 'x/member/wal', hardState: { term: 1n, vote: '0000000000000000', commit }, files: { tmp: [], broken: [], unknown: [] },
    segments: [{ file: 'member/wal/0.wal', size: o.n * 64, records: o.n, entries: o.n, firstIndex: 1n, lastIndex: BigInt(o.n), zeroTail: false, zeroTailBytes: 0 }],
    snapshots: [{ index: 0n, term: 0n, file: 'member/wal/0.wal', offset: 0 }], findings,
    summary: { end: o.tornAfter ? 'torn-tail' : 'clean', entries: o.n, shown: o.n, byType, byKind, firstIndex: 1n, lastIndex: BigInt(o.n), minTerm: 1n, maxTerm: 1n,
      uncommitted: tail ? { count: tail, from: commit + 1n, to: BigInt(o.n) } : { count: 0 }, replaced: 0, errors: 0, warnings: findings.length } } }
}

let fixtureReport: ReportResult | undefined
async function baseReport(): Promise<ReportResult> {
  fixtureReport ??= await collectReport('fixtures/single/data', { skipLockCheck: true, toolVersion: 'test' })
  return fixtureReport
}

describe('report timeline', () => {
  it('folds 1,000,003 entries into at most 200 contiguous buckets with exact counts', () => {
    const n = 1_000_003
    const t = buildTimeline(synth({ n, termEvery: 250_000, confAt: [1, 500_001], compactEvery: 100_000, uncommittedTail: 7, tornAfter: true }))
    expect(t.buckets.length).toBeLessThanOrEqual(200)
    expect(t.buckets.length).toBeGreaterThan(100)
    expect(t.bucketWidth & (t.bucketWidth - 1n)).toBe(0n)
    expect(t.buckets.reduce((s, b) => s + b.entries, 0)).toBe(n)
    expect(t.buckets.reduce((s, b) => s + b.uncommitted, 0)).toBe(7)
    expect(t.buckets.reduce((s, b) => s + (b.byKind.compaction ?? 0), 0)).toBe(10)
    expect(t.buckets.reduce((s, b) => s + b.termChanges, 0)).toBe(4)
    // Contiguous ranges from index 1 covering the last index.
    expect(t.buckets[0]!.from).toBe(1n)
    for (let i = 1; i < t.buckets.length; i++) expect(t.buckets[i]!.from).toBe(t.buckets[i - 1]!.to + 1n)
    expect(t.buckets.at(-1)!.to).toBeGreaterThanOrEqual(BigInt(n))
    expect(t.terms.items.map((m) => [m.index, m.term])).toEqual([[1n, 1n], [250_001n, 2n], [500_001n, 3n], [750_001n, 4n], [1_000_001n, 5n]])
    expect(t.confChanges.items.map((c) => c.index)).toEqual([1n, 500_001n])
    expect(t.compactions.total).toBe(10)
    expect(t.findings.items).toEqual([expect.objectContaining({ code: 'torn-tail', afterIndex: BigInt(n) })])
  })

  it('a small log gets one bar per entry', () => {
    const t = buildTimeline(synth({ n: 37 }))
    expect(t.bucketWidth).toBe(1n)
    expect(t.buckets.map((b) => b.entries)).toEqual(Array(37).fill(1))
  })

  it('folding merges every count: 10 entries, 6 uncommitted, 4 buckets', () => {
    const t = buildTimeline(synth({ n: 10, uncommittedTail: 6, termEvery: 3, compactEvery: 5 }), { buckets: 4 })
    expect(t.bucketWidth).toBe(4n)
    expect(t.buckets.map((b) => [b.from, b.to, b.entries, b.uncommitted, b.termChanges, b.byKind.compaction ?? 0, b.minTerm, b.maxTerm, b.dataBytes]))
      .toEqual([[1n, 4n, 4, 0, 1, 0, 1n, 2n, 160], [5n, 8n, 4, 4, 1, 1, 2n, 3n, 160], [9n, 12n, 2, 2, 1, 1, 3n, 4n, 80]])
  })

  it('the page of a 1M-entry log stays under 1 MB, even when every entry starts a new term', async () => {
    const base = await baseReport()
    for (const o of [{ n: 1_000_000, termEvery: 1000, compactEvery: 5000 }, { n: 1_000_000, termEvery: 1, compactEvery: 1, confAt: Array.from({ length: 5000 }, (_, i) => i * 7 + 1) }]) {
      const t = buildTimeline(synth(o))
      const html = renderReport({ ...base, timeline: t })
      const size = Buffer.byteLength(html)
      expect(size, JSON.stringify({ termEvery: o.termEvery })).toBeLessThan(1_000_000)
      // Capped markers say how many were left out.
      if (o.termEvery === 1) expect(html).toMatch(/more not listed/)
    }
  }, 120_000)

  it('escapes every string from the data dir', async () => {
    const base = await baseReport()
    const evil = `"><script>alert(1)</script><img src=x onerror=alert(2)>'`
    const r: ReportResult = {
      ...base,
      status: { ...base.status, dataDir: evil, memberId: evil, findings: [{ severity: 'error', code: evil, file: evil, offset: 1, detail: evil, hint: evil }],
        members: { ...base.status.members, db: [{ id: evil, name: evil, peerURLs: [evil], clientURLs: [evil], isLearner: false }] } },
      space: { ...base.space, space: { ...base.space.space!, buckets: [{ name: evil, keys: 1, allocBytes: 4096, inuseBytes: 100, pages: 1 }],
        prefixes: [{ ...base.space.space!.prefixes[0]!, prefix: evil }], largestKeys: [{ ...base.space.space!.largestKeys[0]!, key: { len: evil.length, text: evil } }] } },
    }
    const html = renderReport(r)
    expect(html).not.toContain('<script')
    expect(html).not.toContain('<img')
    expect(html).toContain(esc(evil))
  })
})

describe('etcd-inspect report (CLI)', () => {
  it('refuses to overwrite without --force (exit 7), overwrites with it; the data dir is unchanged', () => {
    const d = join(tempDir('report-cli-'), 'data')
    cpSync('fixtures/single/data', d, { recursive: true })
    const before = hashTree(d)
    const out = join(tempDir('report-out-'), 'r.html')
    writeFileSync(out, 'keep me')
    const a = runCli(['report', d, '-o', out])
    expect(a.code).toBe(7)
    expect(a.stderr).toBe(`Error: refusing to overwrite ${out} (pass --force to replace it, or choose another -o path)\n`)
    expect(readFileSync(out, 'utf8')).toBe('keep me')
    const b = runCli(['report', d, '-o', out, '--force'])
    expect(b.code, b.stderr).toBe(0)
    expect(readFileSync(out, 'utf8')).toMatch(/^<!DOCTYPE html>/)
    expect(hashTree(d)).toEqual(before)
  }, 60_000)

  it('never writes inside the data dir, also when given member/ (exit 7)', () => {
    const d = join(tempDir('report-cli-'), 'data')
    cpSync('fixtures/single/data', d, { recursive: true })
    const before = hashTree(d)
    for (const [arg, out] of [[d, join(d, 'r.html')], [d, join(d, 'member', 'snap', 'r.html')], [join(d, 'member'), join(d, 'r.html')]] as const) {
      const r = runCli(['report', arg, '-o', out])
      expect(r.code, `${arg} -o ${out}`).toBe(7)
      expect(r.stderr).toMatch(/^Error: refusing to write .* inside the data dir/)
      expect(existsSync(out)).toBe(false)
    }
    expect(hashTree(d)).toEqual(before)
  }, 60_000)
})
