/**
 * `etcd-inspect report` rendered in a real headless Chromium (Debian's `chromium`, installed by
 * .ci/run), driven over the DevTools protocol: for fixture data dirs (single, crash, a cluster3
 * member, and a copy of crash with a torn tail) the page loads with no console error and no request
 * but its own file:// URL, the timeline's counts equal `etcd-inspect wal -w json`'s summary, and a
 * screenshot is saved under the test's temp dir (copied to $REPORT_SHOTS when set). Two control
 * pages show the harness does see what it checks for: a page that loads an image from 127.0.0.1
 * (a request), and the same image under the report's CSP (a CSP error, no request).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { copyFileSync, cpSync, mkdirSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { runCli } from '../support/cli.js'
import { tempDir } from '../support/etcd.js'
import { hashTree } from '../support/tree-hash.js'
import { Browser } from './cdp.js'

/** What the page exposes to the checks: read from the DOM, after load. */
const PROBE = `(() => {
  const bars = [...document.querySelectorAll('#timeline g.bar')]
  const sum = (a) => bars.reduce((s, b) => s + Number(b.getAttribute('data-' + a)), 0)
  const marks = (c) => document.querySelectorAll('#timeline g.mark.' + c).length
  const counts = {}
  for (const s of document.querySelectorAll('#wal-counts [data-key]')) counts[s.getAttribute('data-key')] = s.getAttribute('data-count')
  return {
    bars: bars.length, entries: sum('entries'), uncommitted: sum('uncommitted'), normal: sum('normal'), conf: sum('conf'), termChanges: sum('term-changes'),
    svgEntries: Number(document.querySelector('#timeline')?.getAttribute('data-entries')),
    snapRecords: marks('snap-record'), snapFiles: marks('snap-file'), confChanges: marks('conf-change'), compactions: marks('compaction'),
    elections: marks('election'), findings: [...document.querySelectorAll('#timeline g.mark.finding')].map((g) => [g.getAttribute('data-code'), g.getAttribute('data-after-index')]),
    counts, verdict: document.querySelector('#verdict')?.getAttribute('data-verdict'),
    members: [...document.querySelectorAll('#members-table tbody tr')].map((tr) => tr.cells[0].textContent),
    space: Object.fromEntries(['live', 'history', 'tombstones'].map((p) => [p, [...document.querySelectorAll('#space-prefixes rect[data-part="' + p + '"]')].reduce((s, r) => s + Number(r.getAttribute('data-value')), 0)])),
    prefixRows: document.querySelectorAll('#space-prefixes text.lane').length,
    resources: performance.getEntriesByType('resource').length,
    linked: document.querySelectorAll('[src],[href],link,script,img,iframe,object,embed').length,
    width: document.documentElement.scrollWidth,
  }
})()`

interface Probe {
  bars: number; entries: number; uncommitted: number; normal: number; conf: number; termChanges: number; svgEntries: number
  snapRecords: number; snapFiles: number; confChanges: number; compactions: number; elections: number; findings: [string, string][]
  counts: Record<string, string>; verdict: string; members: string[]; space: Record<string, number>; prefixRows: number; resources: number; linked: number; width: number
}

let browser: Browser
let out: string
beforeAll(async () => {
  out = tempDir('report-browser-')
  browser = await Browser.launch()
}, 60_000)
afterAll(async () => {
  await browser?.close()
})

function tornCopy(): string {
  const d = join(tempDir('report-torn-'), 'data')
  cpSync('fixtures/crash/data', d, { recursive: true })
  const walDir = join(d, 'member', 'wal')
  const p = join(walDir, readdirSync(walDir).filter((n) => n.endsWith('.wal')).sort().pop()!)
  // Cut the last record in the middle of its payload: a torn write (etcd repairs it at start).
  // The fixture's segment ends in preallocated zeros: find the last frame before them.
  const b = readFileSync(p)
  let off = 0
  let last = 0
  while (off + 8 <= b.length && b.readUInt32LE(off) !== 0) {
    last = off
    off = (off + 8 + b.readUInt32LE(off) + 7) & ~7
  }
  truncateSync(p, last + 8 + 3)
  return d
}

async function renderAndCheck(name: string, dir: string): Promise<{ probe: Probe; wal: any; html: string }> {
  const before = hashTree(dir)
  const file = join(out, `${name}.html`)
  const r = runCli(['report', dir, '-o', file])
  expect(r.code, r.stderr).toBe(0)
  expect(r.stderr).toMatch(/^report written to .* \(\d+ bytes\): [A-Z ,]+\n$/)
  expect(hashTree(dir)).toEqual(before)
  const html = readFileSync(file, 'utf8')

  // No resource reference of any kind in the bytes: no src/href, no url(), no @import, no xmlns URL.
  expect(html).not.toMatch(/\s(src|href|xlink:href|srcset|action|poster|data)=/i)
  expect(html).not.toMatch(/url\(|@import/i)
  expect(html).not.toMatch(/<(script|link|img|iframe|object|embed|base)\b/i)
  expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; style-src &#39;sha256-`)

  const page = await browser.open(pathToFileURL(file).href, PROBE)
  writeFileSync(join(out, `${name}.png`), page.screenshot)
  if (process.env.REPORT_SHOTS) {
    mkdirSync(process.env.REPORT_SHOTS, { recursive: true })
    copyFileSync(join(out, `${name}.png`), join(process.env.REPORT_SHOTS, `${name}.png`))
  }
  expect(page.screenshot.subarray(1, 4).toString()).toBe('PNG')
  expect(page.errors).toEqual([])
  expect(page.requests).toEqual([pathToFileURL(file).href])
  expect(page.blocked).toEqual([])
  const probe = page.value as Probe
  expect(probe.resources).toBe(0)
  expect(probe.linked).toBe(0)
  expect(probe.width).toBeLessThanOrEqual(1160)

  const w = runCli(['wal', dir, '-w', 'json'])
  const wal = JSON.parse(w.stdout)
  const s = wal.summary
  // The timeline's counts are `wal`'s summary.
  expect(probe.svgEntries).toBe(s.entries)
  expect(probe.entries).toBe(s.entries)
  expect(probe.normal).toBe(s.byType.normal ?? 0)
  expect(probe.conf).toBe((s.byType.confChange ?? 0) + (s.byType.confChangeV2 ?? 0))
  expect(probe.uncommitted).toBe(s.uncommitted.count)
  expect(Number(probe.counts.entries)).toBe(s.entries)
  for (const [k, n] of Object.entries(s.byKind)) expect(Number(probe.counts[`kind:${k}`]), k).toBe(n)
  for (const [k, n] of Object.entries(s.byType)) expect(Number(probe.counts[`type:${k}`]), k).toBe(n)
  expect(Number(probe.counts.uncommitted)).toBe(s.uncommitted.count)
  expect(probe.bars).toBeGreaterThan(0)
  expect(probe.bars).toBeLessThanOrEqual(200)
  // Markers: one per snapshot record, conf change, compaction and election of the entries `wal` lists.
  expect(probe.snapRecords).toBe(wal.snapshots.length)
  expect(probe.confChanges).toBe(wal.entries.filter((e: any) => e.type === 'confChange' || e.type === 'confChangeV2').length)
  expect(probe.compactions).toBe(s.byKind.compaction ?? 0)
  let changes = 0
  wal.entries.forEach((e: any, i: number) => { if (i > 0 && e.term !== wal.entries[i - 1].term) changes++ })
  expect(probe.elections).toBe(changes)
  expect(probe.termChanges).toBe(changes)
  expect(probe.findings.map((f) => f[0])).toEqual(wal.findings.filter((f: any) => f.severity !== 'info').map((f: any) => f.code))
  // Space: the prefix bars add up to `db space`'s totals (the prefixes past the first 15 share one row).
  const sp = JSON.parse(runCli(['db', 'space', dir, '-w', 'json']).stdout)
  expect(probe.space).toEqual({ live: sp.totals.liveBytes, history: sp.totals.historyBytes, tombstones: sp.totals.tombstoneBytes })
  expect(probe.prefixRows).toBe(Math.min(sp.prefixes.length, 16))
  expect(html).toContain(`compact ${Number(sp.forecast.atRevision).toLocaleString('en-US')} removes ${sp.forecast.removedRevisions.toLocaleString('en-US')} of`)
  const snapFiles = readdirSync(join(dir, 'member', 'snap')).filter((n) => n.endsWith('.snap')).length
  expect(probe.snapFiles).toBe(snapFiles)
  return { probe, wal, html }
}

describe('etcd-inspect report in headless Chromium', () => {
  it('fixtures/single/data: no errors, no requests, counts = wal summary', async () => {
    const { probe } = await renderAndCheck('single', 'fixtures/single/data')
    expect(probe.verdict).toBe('OK')
    expect(probe.members).toEqual(['34648086a1627388 (this member)'])
    expect(probe.compactions).toBe(1)
  }, 60_000)

  it('fixtures/crash/data and a copy with a torn tail: the finding is marked after the last whole entry', async () => {
    await renderAndCheck('crash', 'fixtures/crash/data')
    const d = tornCopy()
    const { probe, wal } = await renderAndCheck('torn', d)
    expect(probe.verdict).toBe('TORN TAIL')
    expect(wal.summary.end).toBe('torn-tail')
    expect(probe.findings).toEqual([['torn-tail', String(wal.summary.lastIndex)]])
  }, 60_000)

  it('a copy of crash with a flipped byte mid-log: CORRUPT, the finding marked after the last entry read, with its offset', async () => {
    const d = join(tempDir('report-corrupt-'), 'data')
    cpSync('fixtures/crash/data', d, { recursive: true })
    const p = join(d, 'member', 'wal', readdirSync(join(d, 'member', 'wal')).filter((n) => n.endsWith('.wal')).sort().pop()!)
    const b = readFileSync(p)
    b[3000]! ^= 0xff
    writeFileSync(p, b)
    const { probe, wal, html } = await renderAndCheck('corrupt', d)
    expect(probe.verdict).toBe('CORRUPT')
    expect(wal.summary.end).toBe('corrupt')
    const f = wal.findings.find((x: any) => x.severity === 'error')
    expect(probe.findings).toEqual([[f.code, String(wal.summary.lastIndex)]])
    expect(html).toContain(`${f.code} at ${f.file}@${f.offset}`)
  }, 60_000)

  it('fixtures/cluster3/m1: membership from the db, the .snap and the WAL', async () => {
    const { probe, wal } = await renderAndCheck('cluster3-m1', 'fixtures/cluster3/m1')
    expect(wal.entries.some((e: any) => e.type === 'confChange')).toBe(true)
    // Every member the WAL's conf changes name is in the members table.
    const named = new Set(wal.entries.flatMap((e: any) => (e.confChange ? [e.confChange.nodeId] : [])))
    for (const id of named) expect(probe.members.some((m) => m.startsWith(id as string)), id as string).toBe(true)
  }, 60_000)

  it('controls: the harness sees a request, and the CSP turns it into an error', async () => {
    const plain = join(out, 'control-plain.html')
    writeFileSync(plain, '<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png" alt=""></body></html>')
    const a = await browser.open(pathToFileURL(plain).href)
    expect(a.requests).toContain('http://127.0.0.1:9/x.png')
    const report = readFileSync(join(out, 'single.html'), 'utf8')
    const csp = /<meta http-equiv="Content-Security-Policy"[^>]*>/.exec(report)![0]
    const guarded = join(out, 'control-csp.html')
    writeFileSync(guarded, `<!DOCTYPE html><html><head>${csp}</head><body><img src="http://127.0.0.1:9/y.png" alt=""><p style="color:red">x</p></body></html>`)
    const b = await browser.open(pathToFileURL(guarded).href)
    expect(b.blocked).toEqual([['http://127.0.0.1:9/y.png', 'csp']])
    expect(b.errors.join('\n')).toMatch(/Content Security Policy/)
  }, 60_000)
})

