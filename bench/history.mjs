#!/usr/bin/env node
/**
 * bench/history: `index` build time against `db status` on the same db, and `history` query time
 * with and without the index, on a big data dir written by real etcd 3.4. Run after `npm run build`:
 *
 *   node bench/history.mjs [--keys 1000000] [--value 900] [--batch 2000] [--rebuild] [--build-only]
 *
 * The data dir (db and WAL) is built once with Debian's etcd 3.4 on 127.0.0.1 (free ports, stopped
 * by PID) and kept in bench/.cache/history-<keys>/ (git-ignored): `--keys` Kubernetes-like keys with
 * `--value`-byte values (1 M x 900 B is about 1.1 GB of db), put in txns of `--batch`, every 10th
 * key deleted, and 100 keys `/registry/configmaps/hot/cm-NN` put 50 times each (singly, so the WAL
 * holds their requests). Each measurement is the real CLI in a fresh process under /usr/bin/time
 * (wall seconds, peak RSS), plus the in-process query time `history` reports (`elapsedMs`) and
 * `node -e 0` (node's own start-up, the floor of a fresh process); `index` also reports how long
 * its db pass took (`dbSeconds`) and what the WAL pass added after it (`walSeconds`).
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
const nodeE0 = [nodeStart(), nodeStart(), nodeStart()]
const withIndex = [q([]), q([]), q([])]
const scan = q(['--no-index'])
const result = {
  node: process.version, loadavgAtStart, loadavg: loadavg().map((x) => +x.toFixed(2)), dbBytes, keys: expected.keys, buildSeconds: expected.buildSeconds,
  dbStatus: { seconds: status.seconds, peakRssMB: status.peakRssMB },
  index: { seconds: index.seconds, peakRssMB: index.peakRssMB, ratioToDbStatus: +(index.seconds / status.seconds).toFixed(2), ...indexSplit },
  nodeE0, historyWithIndex: withIndex, historyScan: scan,
  targetsMet: index.seconds <= 2 * status.seconds && withIndex.every((h) => h.elapsedMs < 100 && h.source === 'index'),
}
console.log(JSON.stringify(result, null, 2))
writeFileSync(join(cache, 'last-history-result.json'), JSON.stringify(result, null, 2))
