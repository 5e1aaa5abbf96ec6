#!/usr/bin/env node
/**
 * bench/history: `index` build time against `db status` on the same db, and `history` query time
 * with and without the index, on a big data dir written by real etcd 3.4. Run after `npm run build`:
 *
 *   node bench/history.mjs [--keys 1000000] [--value 900] [--batch 2000] [--rebuild] [--build-only] [--also-keys 100000] [--runs 7]
 *
 * The data dir (db and WAL) is built once with Debian's etcd 3.4 on 127.0.0.1 (free ports, stopped
 * by PID) and kept in bench/.cache/history-<keys>/ (git-ignored): `--keys` Kubernetes-like keys with
 * `--value`-byte values (1 M x 900 B is about 1.1 GB of db), put in txns of `--batch`, every 10th
 * key deleted, and 100 keys `/registry/configmaps/hot/cm-NN` put 50 times each (singly, so the WAL
 * holds their requests). Each measurement is the real CLI in a fresh process under /usr/bin/time
 * (wall seconds, peak RSS), plus the in-process query time `history` reports (`elapsedMs`) and
 * `node -e 0` (node's own start-up, the floor of a fresh process); `index` also reports how long
 * its db pass took (`dbSeconds`) and what the WAL pass added after it (`walSeconds`).
 *
 * A fresh `history` process is a few tens of ms above `node -e 0`, where single runs are noisy: the
 * two run `--runs` times interleaved, and the median of each and of their difference (`aboveNodeMs`,
 * what etcd-inspect adds to Node's own start) are reported. `--also-keys N` also builds the index of
 * the N-key data dir (if built before with `--keys N`) in the same run, for peak RSS at two sizes.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { arg, loadInTxns, podKey, startBuildEtcd, timedCli } from './db-etcd.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const cache = join(here, '.cache')
const cli = join(root, 'dist', 'cli', 'main.js')
const n = Number(arg('--keys', '1000000'))
const valueBytes = Number(arg('--value', '900'))
const batch = Number(arg('--batch', '2000'))
const dir = join(cache, `history-${n}`)
const dataDir = join(dir, 'data')
const sideFile = join(cache, `history-${n}.json`)

const keyOf = podKey
const valueOf = (i, gen) => {
  const head = JSON.stringify({ kind: 'Pod', apiVersion: 'v1', metadata: { name: `pod-${i}`, generation: gen } })
  return Buffer.from(head + ' '.repeat(Math.max(0, valueBytes - head.length)))
}

async function build() {
  const { Etcd3 } = await import('etcd3')
  const { client, stop } = await startBuildEtcd(dir, join(cache, `history-${n}.log`), [
    '--max-request-bytes', String(16 * 1024 * 1024), '--max-txn-ops', String(Math.max(128, batch)),
  ])
  const c = new Etcd3({ hosts: client, grpcOptions: { 'grpc.max_receive_message_length': 64 << 20 } })
  const t0 = Date.now()
  let expected
  try {
    for (let i = 0; ; i++) {
      try { await c.get('bench/ready'); break } catch (e) { if (i > 150) throw e; await new Promise((r) => setTimeout(r, 200)) }
    }
    const phase = (label, step, op) => loadInTxns(c, { n, step, batch, workers: 2, label, t0 }, op)
    await phase('put', 1, (i) => ({ request_put: { key: Buffer.from(keyOf(i)), value: valueOf(i, 1) } }))
    await phase('delete', 10, (i) => ({ request_delete_range: { key: Buffer.from(keyOf(i)) } }))
    for (let r = 0; r < 50; r++) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => c.put(`/registry/configmaps/hot/cm-${String(j).padStart(2, '0')}`).value(`gen-${r}-${'x'.repeat(200)}`)))
    }
    process.stderr.write('\n')
    const rev = (await c.kv.range({ key: Buffer.from('/registry/'), limit: 1 })).header.revision
    expected = { keys: n + 100, etcdRevision: String(rev), buildSeconds: (Date.now() - t0) / 1000 }
  } finally {
    c.close()
    await stop()
  }
  writeFileSync(sideFile, JSON.stringify(expected, null, 2) + '\n')
}

const timed = (args) => timedCli(cache, cli, args)

mkdirSync(cache, { recursive: true })
if (process.argv.includes('--rebuild') || !existsSync(sideFile) || !existsSync(dataDir)) await build()
if (process.argv.includes('--build-only')) process.exit(0)
if (!existsSync(cli)) throw new Error('run `npm run build` first')
const expected = JSON.parse(readFileSync(sideFile, 'utf8'))
const stateDir = join(cache, `history-${n}-state`)
rmSync(stateDir, { recursive: true, force: true })
const loadavgAtStart = loadavg().map((x) => +x.toFixed(2))
const dbBytes = statSync(join(dataDir, 'member', 'snap', 'db')).size
const status = timed(['db', 'status', dataDir, '-w', 'json'])
const index = timed(['index', dataDir, '--state-dir', stateDir, '-w', 'json'])
const ij = JSON.parse(index.stdout)
const indexSplit = { dbSeconds: ij.dbSeconds, walSeconds: ij.walSeconds }
const key = '/registry/configmaps/hot/cm-42'
const q = (extra) => {
  const t = timed(['history', dataDir, key, '--state-dir', stateDir, '-w', 'json', ...extra])
  const j = JSON.parse(t.stdout)
  return { cliSeconds: t.seconds, peakRssMB: t.peakRssMB, elapsedMs: j.elapsedMs, source: j.source, revisions: j.events.filter((e) => e.revision).length, walRequests: j.events.filter((e) => e.wal).length }
}
// Node's own start-up, the floor of any fresh `etcd-inspect` process.
const nodeStart = () => {
  const tfile = join(cache, 'time.out')
  spawnSync('/usr/bin/time', ['-f', '%e %M', '-o', tfile, process.execPath, '-e', '0'])
  const [sec, kb] = readFileSync(tfile, 'utf8').trim().split('\n').pop().split(' ').map(Number)
  return { seconds: sec, peakRssMB: +(kb / 1024).toFixed(1) }
}
const runs = Math.max(5, Number(arg('--runs', '7')))
const nodeE0 = [nodeStart(), nodeStart(), nodeStart()]
const withIndex = [q([]), q([]), q([])]
// Wall ms of a fresh process, by the clock around the spawn (/usr/bin/time's %e has 10 ms steps):
// `node -e 0` and `history` spawned the same way, interleaved.
const wallMs = (args) => {
  const t = process.hrtime.bigint()
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 << 20 })
  const ms = Number(process.hrtime.bigint() - t) / 1e6
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed (${r.status}): ${r.stderr}`)
  return { ms, stdout: r.stdout }
}
const e0Ms = []
const cliMs = []
const elapsed = []
for (let i = 0; i < runs; i++) {
  e0Ms.push(wallMs(['-e', '0']).ms)
  const h = wallMs([cli, 'history', dataDir, key, '--state-dir', stateDir, '-w', 'json'])
  cliMs.push(h.ms)
  elapsed.push(JSON.parse(h.stdout).elapsedMs)
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2 }
const above = cliMs.map((c, i) => Math.round(c - e0Ms[i]))
const freshHistory = {
  runs, nodeE0MedianMs: Math.round(median(e0Ms)), cliMedianMs: Math.round(median(cliMs)),
  aboveNodeMs: { median: median(above), min: Math.min(...above), max: Math.max(...above) }, elapsedMsMedian: median(elapsed),
}
const scan = q(['--no-index'])
// The same build on a smaller data dir in the same run: is the build's memory flat in the db size?
const alsoKeys = arg('--also-keys', '')
let also = null
if (alsoKeys) {
  const aDir = join(cache, `history-${alsoKeys}`, 'data')
  if (!existsSync(aDir)) throw new Error(`no ${aDir}: run node bench/history.mjs --keys ${alsoKeys} --build-only first`)
  const aState = join(cache, `history-${alsoKeys}-state`)
  rmSync(aState, { recursive: true, force: true })
  const aStatus = timed(['db', 'status', aDir, '-w', 'json'])
  const aIndex = timed(['index', aDir, '--state-dir', aState, '-w', 'json'])
  also = { keys: Number(alsoKeys), dbBytes: statSync(join(aDir, 'member', 'snap', 'db')).size, dbStatus: { seconds: aStatus.seconds, peakRssMB: aStatus.peakRssMB },
    index: { seconds: aIndex.seconds, peakRssMB: aIndex.peakRssMB, ratioToDbStatus: +(aIndex.seconds / aStatus.seconds).toFixed(2) } }
}
const result = {
  node: process.version, loadavgAtStart, loadavg: loadavg().map((x) => +x.toFixed(2)), dbBytes, keys: expected.keys, buildSeconds: expected.buildSeconds,
  dbStatus: { seconds: status.seconds, peakRssMB: status.peakRssMB },
  index: { seconds: index.seconds, peakRssMB: index.peakRssMB, ratioToDbStatus: +(index.seconds / status.seconds).toFixed(2), ...indexSplit },
  freshHistory, nodeE0, historyWithIndex: withIndex, historyScan: scan, ...(also ? { also } : {}),
  targetsMet: index.seconds <= 2 * status.seconds && withIndex.every((h) => h.elapsedMs < 100 && h.source === 'index'),
}
console.log(JSON.stringify(result, null, 2))
writeFileSync(join(cache, 'last-history-result.json'), JSON.stringify(result, null, 2))
