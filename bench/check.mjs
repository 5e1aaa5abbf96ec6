#!/usr/bin/env node
/**
 * bench/check.mjs — wall time of `etcd-inspect check` (the CLI, as systemd's ExecStartPre= runs it).
 * Run after `npm run build`:  node bench/check.mjs [--large-mib 256] [--runs 5] [--baseline-root DIR]
 *
 *  1. a healthy local 3-member etcd 3.4 cluster (127.0.0.1-3, free ports), member m3 stopped:
 *     `check` of m3's data dir, small (fresh) and large (after writing --large-mib of values);
 *     target: < 1 s each, whatever the size.
 *  2. every endpoint down: `check` must answer UNKNOWN within --dial-timeout + 1 s.
 *
 * Beside each data-dir series: the offline part alone (collectStatus in a fresh process, see
 * bench/status.mjs): the default fast WAL read vs a full WAL read (--all-wal-segments), same run.
 * `--baseline-root DIR`: also time the check CLI and the offline part of another build (e.g. an
 * export of main: `git archive main | tar -x -C DIR && (cd DIR && npm ci && npm run build)`).
 *
 * Prints one table and a JSON line with the figures. Every etcd process is stopped by PID.
 */
import { spawn, spawnSync } from 'node:child_process'
import { createServer } from 'node:net'
import { mkdtempSync, openSync, closeSync, readdirSync, statSync, rmSync } from 'node:fs'
import { tmpdir, loadavg, cpus } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Etcd3 } from 'etcd3'
import { noop } from 'cockatiel'
import { offline } from './status.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const cli = join(root, 'dist/cli/main.js')
const arg = (name, def) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? Number(process.argv[i + 1]) : def }
const BASE = (() => { const i = process.argv.indexOf('--baseline-root'); return i > 0 ? process.argv[i + 1] : null })()
const LARGE_MIB = arg('large-mib', 256)
const RUNS = arg('runs', 5)
const ETCD = process.env.ETCD_BIN ?? 'etcd'

const procs = new Set()
process.on('exit', () => { for (const p of procs) try { process.kill(p.pid, 'SIGKILL') } catch {} })

const freePort = (host) => new Promise((res, rej) => {
  const s = createServer(); s.unref(); s.on('error', rej)
  s.listen(0, host, () => { const p = s.address().port; s.close(() => res(p)) })
})
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function start(m, initialCluster, state) {
  const log = openSync(`${m.dataDir}.log`, 'a')
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD')))
  const p = spawn(ETCD, [
    '--name', m.name, '--data-dir', m.dataDir,
    '--listen-client-urls', m.clientURL, '--advertise-client-urls', m.clientURL,
    '--listen-peer-urls', m.peerURL, '--initial-advertise-peer-urls', m.peerURL,
    '--initial-cluster', initialCluster, '--initial-cluster-state', state, '--initial-cluster-token', 'bench-check',
    '--quota-backend-bytes', String(8 * 1024 ** 3),
  ], { stdio: ['ignore', log, log], env })
  closeSync(log)
  procs.add(p)
  m.proc = p
  m.exited = new Promise((r) => p.once('exit', () => { procs.delete(p); r() }))
}
async function stop(m) {
  // This process, not m.proc later: a restarted member must not get the SIGKILL meant for this one.
  const p = m.proc
  const exited = m.exited
  if (!p || p.exitCode !== null || p.signalCode !== null) return
  p.kill('SIGTERM')
  let timer
  await Promise.race([exited, new Promise((r) => { timer = setTimeout(() => { p.kill('SIGKILL'); r() }, 10000) })])
  clearTimeout(timer)
  await exited
}
function client(urls) {
  return new Etcd3({ hosts: urls, faultHandling: { host: () => noop, global: noop }, defaultCallOptions: (c) => (c.isStream ? {} : { deadline: Date.now() + 10000 }) })
}
async function waitHealthy(urls) {
  for (let i = 0; i < 300; i++) {
    const c = client(urls)
    try { await c.get('health').string(); c.close(); return } catch { c.close() }
    await sleep(200)
  }
  throw new Error('cluster not healthy')
}
const du = (d) => { let n = 0; for (const e of readdirSync(d, { withFileTypes: true })) { const p = join(d, e.name); n += e.isDirectory() ? du(p) : statSync(p).size } return n }

function runCheck(args, main = cli) {
  const t0 = process.hrtime.bigint()
  const r = spawnSync(process.execPath, [main, 'check', ...args, '-w', 'json', '--no-witness'], { encoding: 'utf8', env: { PATH: process.env.PATH } })
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  let verdict = '?'
  let inner = null
  try {
    const j = JSON.parse(r.stdout)
    verdict = j.verdict
    inner = { elapsedMs: j.elapsedMs, offlineMs: j.timings.offlineMs, onlineMs: j.timings.onlineMs }
  } catch { verdict = `unparsable (exit ${r.status}): ${r.stderr.trim()}` }
  return { ms, verdict, exit: r.status, inner }
}
function series(label, args, main = cli) {
  const xs = []
  const inner = []
  let last
  for (let i = 0; i < RUNS; i++) { last = runCheck(args, main); xs.push(last.ms); if (last.inner) inner.push(last.inner) }
  xs.sort((a, b) => a - b)
  const med = (k) => { const v = inner.map((x) => x[k]).sort((a, b) => a - b); return v.length ? v[v.length >> 1] : null }
  return {
    label, verdict: last.verdict, exit: last.exit, minMs: Math.round(xs[0]), medianMs: Math.round(xs[xs.length >> 1]), maxMs: Math.round(xs[xs.length - 1]),
    // Inside the process (from the JSON): the check itself, without node start-up and module loading.
    checkMedianMs: med('elapsedMs'), offlineMedianMs: med('offlineMs'), onlineMedianMs: med('onlineMs'),
  }
}

const base = mkdtempSync(join(tmpdir(), 'etcd-inspect-bench-'))
const members = []
for (let i = 1; i <= 3; i++) {
  const host = `127.0.0.${i}`
  const cp = await freePort(host); let pp = await freePort(host); while (pp === cp) pp = await freePort(host)
  members.push({ name: `m${i}`, host, dataDir: join(base, `m${i}.etcd`), clientURL: `http://${host}:${cp}`, peerURL: `http://${host}:${pp}` })
}
const ic = members.map((m) => `${m.name}=${m.peerURL}`).join(',')
const urls = members.map((m) => m.clientURL)
const results = []
try {
  members.forEach((m) => start(m, ic, 'new'))
  await waitHealthy(urls)
  const ep = ['--endpoints', urls.join(','), '--snapshot-count', '100000']
  const m3 = members[2]

  /** check series for a data dir, plus its offline part (fast vs full WAL read) and the baseline build. */
  const dirSeries = (label) => {
    const segs = readdirSync(join(m3.dataDir, 'member/wal')).filter((n) => n.endsWith('.wal')).length
    const row = { ...series(`${label} (${segs} WAL seg)`, [m3.dataDir, ...ep]), dirMiB: +(du(m3.dataDir) / 2 ** 20).toFixed(1) }
    row.offline = { fast: offline(m3.dataDir, 'fast', RUNS), fullWal: offline(m3.dataDir, 'all', RUNS) }
    results.push(row)
    if (BASE) {
      const b = { ...series(`  baseline build: ${label}`, [m3.dataDir, ...ep], join(BASE, 'dist/cli/main.js')), dirMiB: row.dirMiB }
      b.offline = { fast: offline(m3.dataDir, 'boot', RUNS, BASE), fullWal: offline(m3.dataDir, 'all', RUNS, BASE) }
      results.push(b)
    }
  }

  await stop(m3)
  dirSeries('healthy cluster, small data dir')

  start(m3, ic, 'existing')
  await waitHealthy([m3.clientURL]).catch((e) => { throw new Error(`${e.message}: m3 exit ${m3.proc.exitCode} signal ${m3.proc.signalCode}; see ${m3.dataDir}.log`) })
  const c = client(urls.slice(0, 2))
  const value = 'x'.repeat(64 * 1024)
  const n = Math.ceil((LARGE_MIB * 1024) / 64)
  for (let i = 0; i < n; i += 32) await Promise.all(Array.from({ length: Math.min(32, n - i) }, (_, j) => c.put(`bench/${i + j}`).value(value).exec()))
  c.close()
  // Let m3 catch up before stopping it (under load it lags; then its WAL would be short).
  const lead = client(urls.slice(0, 1))
  const mine = client([m3.clientURL])
  for (let i = 0; i < 600; i++) {
    const [a, b] = await Promise.all([lead.maintenance.status(), mine.maintenance.status()])
    if (BigInt(b.raftIndex) >= BigInt(a.raftIndex)) break
    await sleep(500)
  }
  lead.close()
  mine.close()
  await sleep(1000)
  await stop(m3)
  dirSeries(`healthy cluster, large data dir (${LARGE_MIB} MiB of values)`)

  await Promise.all(members.map(stop))
  for (const dial of ['1s', '2s']) {
    const s = series(`all endpoints down, --dial-timeout ${dial}`, [m3.dataDir, ...ep, '--dial-timeout', dial])
    results.push({ ...s, limitMs: (parseFloat(dial) + 1) * 1000 })
    if (BASE) results.push({ ...series(`  baseline build: all endpoints down, --dial-timeout ${dial}`, [m3.dataDir, ...ep, '--dial-timeout', dial], join(BASE, 'dist/cli/main.js')), limitMs: (parseFloat(dial) + 1) * 1000 })
  }
  // A listener that accepts TCP but never speaks (a frozen process): bounded by the dial timeout too.
  const silent = createServer(() => undefined)
  const sp = await freePort('127.0.0.1')
  await new Promise((r) => silent.listen(sp, '127.0.0.1', r))
  results.push({ ...series('endpoint accepts TCP, never answers, --dial-timeout 1s', [m3.dataDir, '--endpoints', `http://127.0.0.1:${sp}`, '--dial-timeout', '1s']), limitMs: 2000 })
  silent.close()
} finally {
  await Promise.all(members.map(stop))
  if (!process.env.KEEP_BENCH_DIR) rmSync(base, { recursive: true, force: true })
}

console.log(`etcd-inspect check wall time (CLI incl. node start-up; ${RUNS} runs each; ${process.version}, ${spawnSync(ETCD, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0]}; ${cpus().length} CPUs, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')})`)
for (const r of results) {
  const limit = r.limitMs ?? 1000
  console.log(`${r.label.padEnd(72)} ${r.dirMiB !== undefined ? `${String(r.dirMiB).padStart(7)} MiB` : ''.padStart(11)}  median ${String(r.medianMs).padStart(5)} ms  max ${String(r.maxMs).padStart(5)} ms  (in-process ${r.checkMedianMs} ms: offline ${r.offlineMedianMs}, online ${r.onlineMedianMs})  ${r.verdict} (exit ${r.exit})  ${r.medianMs < limit ? 'OK' : 'OVER'} < ${limit} ms`)
  if (r.offline) console.log(`${''.padEnd(72)}   offline part alone (collectStatus, fresh process): default read ${r.offline.fast.medianMs} ms (${r.offline.fast.last.walRange?.segmentsRead} of ${r.offline.fast.last.walRange?.segmentsTotal} segments), full WAL read ${r.offline.fullWal.medianMs} ms`)
}
console.log(JSON.stringify({ bench: 'check', loadavg: loadavg(), results }))
