#!/usr/bin/env node
/**
 * bench/db: `db check` and `db status` on a >= 1 GB db written by real etcd, against one raw
 * sequential read of the same file measured in the same run. Run after `npm run build`:
 *
 *   node bench/db.mjs [--size-mb 1100] [--value-kb 1024] [--rebuild]
 *
 * The db is built once with Debian's etcd 3.4 on 127.0.0.1 (free ports, stopped by PID) and kept
 * in bench/.cache/ (git-ignored); later runs reuse it. Each measurement runs in a fresh node
 * process (bench/db-run.mjs) so peak RSS is that command's alone.
 * Targets: check and status each within 3x of the raw read; peak RSS < 200 MB.
 *
 *   node bench/db.mjs --many-keys [--small 10000] [--big 1000000]
 *
 * runs bench/db-keys.mjs instead: the same RSS target with millions of small keys (db status and a
 * streamed `db keys key --limit 0 -w ndjson`).
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, openSync, readSync, closeSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { arg, buildValues, keepDb } from './db-etcd.mjs'

const here = dirname(fileURLToPath(import.meta.url))
if (process.argv.includes('--many-keys')) {
  await import('./db-keys.mjs')
  process.exit(0)
}
const cache = join(here, '.cache')
const sizeMb = Number(arg('--size-mb', '1100'))
const valueKb = Number(arg('--value-kb', '1024'))
const dbFile = join(cache, `db-${sizeMb}mb-${valueKb}kb.db`)

async function build() {
  const dir = join(cache, 'build')
  await buildValues(dir, join(cache, 'build.log'), sizeMb, valueKb)
  keepDb(dir, dbFile)
}

function rawRead(path) {
  const buf = Buffer.allocUnsafe(4 << 20)
  const fd = openSync(path, 'r')
  let off = 0
  const t0 = process.hrtime.bigint()
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, off)
    if (n === 0) break
    off += n
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  closeSync(fd)
  return { ms, bytes: off }
}

function run(cmd) {
  const r = spawnSync(process.execPath, [join(here, 'db-run.mjs'), cmd, dbFile], { encoding: 'utf8', maxBuffer: 64 << 20 })
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

mkdirSync(cache, { recursive: true })
if (process.argv.includes('--rebuild') || !existsSync(dbFile)) await build()
const size = statSync(dbFile).size
// Machines are shared: run each measurement `rounds` times, interleaved, and report medians (and
// every sample), so a burst of load elsewhere does not decide the ratio.
const rounds = Number(arg('--rounds', '3'))
rawRead(dbFile) // warm the page cache so every measurement reads from the same place
const raws = [], checks = [], statuses = []
for (let i = 0; i < rounds; i++) {
  raws.push(rawRead(dbFile).ms)
  checks.push(run('check'))
  statuses.push(run('status'))
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const rawMs = median(raws)
const checkMs = median(checks.map((c) => c.ms))
const statusMs = median(statuses.map((c) => c.ms))
const check = checks[0]
const status = statuses[0]
const r1 = (x) => +x.toFixed(1)
const result = {
  file: dbFile, sizeBytes: size, node: process.version, rounds, loadavg: (await import('node:os')).loadavg().map((x) => +x.toFixed(2)),
  rawReadMs: r1(rawMs), rawReadMBps: +(size / 1e6 / (rawMs / 1000)).toFixed(0),
  checkMs: r1(checkMs), checkRatio: +(checkMs / rawMs).toFixed(2), checkPeakRssMB: r1(Math.max(...checks.map((c) => c.maxRssKB)) / 1024), checkOk: check.ok,
  statusMs: r1(statusMs), statusRatio: +(statusMs / rawMs).toFixed(2), statusPeakRssMB: r1(Math.max(...statuses.map((c) => c.maxRssKB)) / 1024),
  statusHash: status.hash, statusTotalKey: status.totalKey, statusRevision: status.revision,
  samples: { rawReadMs: raws.map(r1), checkMs: checks.map((c) => r1(c.ms)), statusMs: statuses.map((c) => r1(c.ms)) },
}
result.targetsMet = result.checkRatio <= 3 && result.statusRatio <= 3 && result.checkPeakRssMB < 200 && result.statusPeakRssMB < 200
console.log(JSON.stringify(result, null, 2))
writeFileSync(join(cache, 'last-result.json'), JSON.stringify(result, null, 2))
