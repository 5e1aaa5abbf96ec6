#!/usr/bin/env node
/**
 * bench/compare: `compare` of three ~1 GB members against `db status` of one of them, measured in
 * the same run (target: within 3x), with peak RSS of compare on two and on three dirs (target:
 * flat). Run after `npm run build`:
 *
 *   node bench/compare.mjs [--size-mb 1100] [--value-kb 1024] [--rounds 3] [--rebuild]
 *
 * The data dir is written once by Debian's etcd 3.4 on 127.0.0.1 (bench/db-etcd.mjs: free ports,
 * stopped by PID) into bench/.cache/compare-<size>mb/m1, then copied to m2 and m3 (three members
 * with the same data: the verdict is CONSISTENT and every db is hashed in full). Each measurement
 * runs in a fresh node process (`--run-one`), so peak RSS is that command's alone. Wall time and CPU
 * time (user + system of all threads, node start included) are both reported: on a loaded machine
 * the CPU-time ratio is the steadier figure.
 */
import { spawnSync, execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { arg, buildValues } from './db-etcd.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const dist = join(here, '..', 'dist')

if (process.argv[2] === '--run-one') {
  const [cmd, ...paths] = process.argv.slice(3)
  const t0 = process.hrtime.bigint()
  let extra
  if (cmd === 'status') {
    const { dbStatus } = await import(join(dist, 'app', 'db.js'))
    const r = dbStatus(paths[0])
    extra = { hash: r.hash, revision: String(r.revision) }
  } else {
    const { compareDirs } = await import(join(dist, 'app', 'compare.js'))
    const r = await compareDirs(paths, { skipLockCheck: true })
    extra = { verdict: r.verdict, hashes: r.members.map((m) => m.hash), revision: String(r.hash.revision) }
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  const u = process.resourceUsage()
  // CPU time of every thread (the hash workers too): steadier than wall time on a shared machine.
  console.log(JSON.stringify({ ms, cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000, maxRssKB: u.maxRSS, ...extra }))
  process.exit(0)
}

const sizeMb = Number(arg('--size-mb', '1100'))
const valueKb = Number(arg('--value-kb', '1024'))
const rounds = Number(arg('--rounds', '3'))
const base = join(here, '.cache', `compare-${sizeMb}mb-${valueKb}kb`)
const dirs = ['m1', 'm2', 'm3'].map((n) => join(base, n))

async function build() {
  rmSync(base, { recursive: true, force: true })
  mkdirSync(base, { recursive: true })
  const dir = join(base, 'build')
  await buildValues(dir, join(base, 'build.log'), sizeMb, valueKb)
  renameSync(join(dir, 'data'), dirs[0])
  rmSync(dir, { recursive: true, force: true })
  // Real copies of the db (three files in the page cache, as three members on one host would be).
  for (const d of dirs.slice(1)) execFileSync('cp', ['-a', dirs[0], d])
}

function run(cmd, paths) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--run-one', cmd, ...paths], { encoding: 'utf8', maxBuffer: 64 << 20 })
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

if (process.argv.includes('--rebuild') || !dirs.every((d) => existsSync(join(d, 'member', 'snap', 'db')))) await build()
const dbSize = statSync(join(dirs[0], 'member', 'snap', 'db')).size
const loadStart = (await import('node:os')).loadavg().map((x) => +x.toFixed(2))
// Warm the page cache with one untimed run of each, then interleave the rounds (shared machine).
run('status', [dirs[0]])
run('compare', dirs)
const statuses = [], compares = [], compares2 = []
for (let i = 0; i < rounds; i++) {
  statuses.push(run('status', [dirs[0]]))
  compares.push(run('compare', dirs))
  compares2.push(run('compare', dirs.slice(0, 2)))
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const r1 = (x) => +x.toFixed(1)
const statusMs = median(statuses.map((s) => s.ms))
const compareMs = median(compares.map((s) => s.ms))
const statusCpu = median(statuses.map((s) => s.cpuMs))
const compareCpu = median(compares.map((s) => s.cpuMs))
const result = {
  loadavgAtStart: loadStart, dirs, dbSizeBytes: dbSize, node: process.version, rounds, loadavg: (await import('node:os')).loadavg().map((x) => +x.toFixed(2)),
  dbStatusMs: r1(statusMs), compare3Ms: r1(compareMs), ratio: +(compareMs / statusMs).toFixed(2),
  compare2Ms: r1(median(compares2.map((s) => s.ms))),
  cpu: { dbStatusMs: r1(statusCpu), compare3Ms: r1(compareCpu), ratio: +(compareCpu / statusCpu).toFixed(2), compare2Ms: r1(median(compares2.map((s) => s.cpuMs))) },
  peakRssMB: { dbStatus: r1(Math.max(...statuses.map((s) => s.maxRssKB)) / 1024), compare2: r1(Math.max(...compares2.map((s) => s.maxRssKB)) / 1024), compare3: r1(Math.max(...compares.map((s) => s.maxRssKB)) / 1024) },
  verdict: compares[0].verdict, hashRevision: compares[0].revision, hashes: compares[0].hashes,
  samples: { dbStatusMs: statuses.map((s) => r1(s.ms)), compare3Ms: compares.map((s) => r1(s.ms)), compare2Ms: compares2.map((s) => r1(s.ms)),
    dbStatusCpuMs: statuses.map((s) => r1(s.cpuMs)), compare3CpuMs: compares.map((s) => r1(s.cpuMs)), compare2CpuMs: compares2.map((s) => r1(s.cpuMs)) },
}
result.targetsMet = result.ratio <= 3 && result.verdict === 'CONSISTENT'
console.log(JSON.stringify(result, null, 2))
writeFileSync(join(base, 'last-result.json'), JSON.stringify(result, null, 2))
