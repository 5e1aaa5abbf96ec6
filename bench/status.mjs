#!/usr/bin/env node
/**
 * bench/status.mjs — the offline part of `check` (collectStatus) by WAL size, each run in a fresh
 * process (cold, as `check` runs it). Run after `npm run build`:
 *
 *   node bench/status.mjs [--runs 5] [--baseline-root DIR] [dir ...]
 *
 * Modes, measured in the same run: `fast` (the default read: last segment CRC-checked, older
 * segments of the boot range frame-scanned; what `check` runs), `status` (`fast` plus the
 * compatibility scan of the replayed entries, what the `status` command runs), `boot` (the previous default: the boot range with
 * the CRC chain), `all` (--all-wal-segments: a full WAL read). Dirs default to fixtures/single/data,
 * bench/.cache/multiseg (extracted from fixtures/multiseg) and bench/.cache/wal6 (node bench/wal.mjs
 * builds it). `--baseline-root` adds the collectStatus of another build (e.g. an export of main).
 *
 *   node bench/status.mjs --one <dir> <fast|status|boot|all> [root]   # one measurement, prints JSON
 */
import { spawnSync, execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { cpus, loadavg } from 'node:os'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '..')

if (process.argv[2] === '--one') {
  const [dir, mode, other] = process.argv.slice(3)
  const t0 = performance.now()
  const { collectStatus } = await import(pathToFileURL(join(other ?? root, 'dist/app/status.js')).href)
  const t1 = performance.now()
  const r = await collectStatus(dir, { skipLockCheck: true, ...(mode === 'all' ? { allWalSegments: true } : mode === 'boot' ? { walRead: 'boot' } : mode === 'status' ? { scanEntries: true } : {}) })
  const t2 = performance.now()
  console.log(JSON.stringify({ importMs: t1 - t0, ms: t2 - t1, walRange: r.walRange, wal: r.integrity.wal, lastIndex: String(r.lastIndex), commit: String(r.hardState?.commit), snapshotIndex: String(r.snapshotIndex), ok: r.integrity.ok }))
  process.exit(0)
}

const arg = (name, def) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : def }
const RUNS = Number(arg('runs', 5))
const BASE = arg('baseline-root', null)
const positional = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(i > 0 && all[i - 1].startsWith('--')))

/** Runs collectStatus in a fresh process; returns the median ms of `runs` and the last result. */
export function offline(dir, mode, runs = RUNS, other = undefined) {
  const xs = []
  let last
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--one', dir, mode, ...(other ? [other] : [])], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`${dir} ${mode}: ${r.stderr}`)
    last = JSON.parse(r.stdout)
    xs.push(last.ms)
  }
  xs.sort((a, b) => a - b)
  return { medianMs: Math.round(xs[xs.length >> 1]), minMs: Math.round(xs[0]), maxMs: Math.round(xs[xs.length - 1]), last }
}

const walBytes = (d) => { const w = join(d, 'member/wal'); return readdirSync(w).filter((n) => n.endsWith('.wal')).reduce((n, f) => n + statSync(join(w, f)).size, 0) }

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let dirs = positional
  if (dirs.length === 0) {
    dirs = [join(root, 'fixtures/single/data')]
    const ms = join(here, '.cache/multiseg')
    if (!existsSync(join(ms, 'data/member/wal'))) {
      mkdirSync(ms, { recursive: true })
      execFileSync('tar', ['-xzf', join(root, 'fixtures/multiseg/multiseg.tar.gz'), '-C', ms])
    }
    const msData = readdirSync(ms).map((n) => join(ms, n)).find((p) => existsSync(join(p, 'member/wal')))
    if (msData) dirs.push(msData)
    if (existsSync(join(here, '.cache/wal6/member/wal'))) dirs.push(join(here, '.cache/wal6'))
  }
  console.log(`collectStatus (offline part of check), fresh process per run, median of ${RUNS}; ${process.version}; ${cpus().length} CPUs, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`)
  const results = []
  for (const d of dirs) {
    const segs = readdirSync(join(d, 'member/wal')).filter((n) => n.endsWith('.wal')).length
    const row = { dir: d, segments: segs, walMiB: +(walBytes(d) / 2 ** 20).toFixed(1) }
    for (const mode of ['fast', 'status', 'boot', 'all']) row[mode] = offline(d, mode)
    if (BASE) {
      row.baseline = offline(d, 'boot', RUNS, BASE)
      row.baselineStatus = offline(d, 'status', RUNS, BASE)
    }
    results.push(row)
    const f = (x) => `${String(x.medianMs).padStart(5)} ms`
    console.log(`${d.replace(root + '/', '').padEnd(40)} ${String(segs).padStart(2)} seg ${String(row.walMiB).padStart(7)} MiB  fast ${f(row.fast)} (${row.fast.last.walRange?.segmentsRead ?? 0} read)  status ${f(row.status)}  boot ${f(row.boot)}  all-segments ${f(row.all)}${BASE ? `  baseline boot ${f(row.baseline)} status ${f(row.baselineStatus)}` : ''}  ${row.fast.last.lastIndex === row.all.last.lastIndex && row.fast.last.commit === row.all.last.commit && row.fast.last.snapshotIndex === row.all.last.snapshotIndex ? 'same evidence' : 'EVIDENCE DIFFERS'}`)
  }
  console.log(JSON.stringify({ bench: 'status', loadavg: loadavg(), results }))
}
