#!/usr/bin/env node
/**
 * bench/db-keys: memory of `db status` and `db keys key --limit 0 -w ndjson` with MANY keys, to show
 * that peak RSS stays flat (under 200 MB) when the key count grows 100x. Run after `npm run build`:
 *
 *   node bench/db-keys.mjs [--small 10000] [--big 1000000] [--batch 5000] [--rebuild] [--build-only]
 *
 * Each db is built once with Debian's etcd 3.4 on 127.0.0.1 (free ports, stopped by PID) and kept in
 * bench/.cache/ (git-ignored) with a sidecar JSON of what etcd itself counted. Loading is fast: puts
 * go in txns of `--batch` operations (etcd started with a raised --max-txn-ops), 4 in flight.
 * Shape of a db with N keys: N small Kubernetes-like keys (`/registry/pods/ns-XXX/pod-NNNNNNNN`,
 * ~120-byte values) put once, every 10th key then deleted (N/10 tombstones), every 20th key put
 * again: N distinct keys, 0.95 N live keys (etcd's own `count` over the prefix, kept in the sidecar),
 * 1.15 N revisions.
 *
 * Each measurement is the real CLI in a fresh process under /usr/bin/time (peak RSS = %M):
 *   db status <db> -w json                        (liveKeys/distinctKeys checked against the sidecar)
 *   db keys <db> key --limit 0 -w ndjson >/dev/null
 *   db keys <db> key --limit 0 -w ndjson | wc -l  (line count checked = revisions)
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { arg, keepDb, loadInTxns, podKey, startBuildEtcd, timedCli } from './db-etcd.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const cache = join(here, '.cache')
const cli = join(root, 'dist', 'cli', 'main.js')
const small = Number(arg('--small', '10000'))
const big = Number(arg('--big', '1000000'))
const batch = Number(arg('--batch', '5000'))

const keyOf = podKey
const valueOf = (i, gen) => Buffer.from(JSON.stringify({
  kind: 'Pod', apiVersion: 'v1', metadata: { name: `pod-${i}`, uid: ((i * 2654435761) >>> 0).toString(16), generation: gen },
  spec: { nodeName: `node-${i % 37}` },
}))

async function build(n, dbFile, sideFile) {
  const { Etcd3 } = await import('etcd3')
  const dir = join(cache, `build-keys-${n}`)
  const { client, stop } = await startBuildEtcd(dir, join(cache, `build-keys-${n}.log`), [
    '--max-request-bytes', String(8 * 1024 * 1024), '--max-txn-ops', String(Math.max(128, batch)),
  ])
  const c = new Etcd3({ hosts: client, grpcOptions: { 'grpc.max_receive_message_length': 64 << 20 } })
  const t0 = Date.now()
  let expected
  try {
    for (let i = 0; ; i++) {
      try { await c.get('bench/ready'); break } catch (e) { if (i > 150) throw e; await new Promise((r) => setTimeout(r, 200)) }
    }
    const phase = (label, step, op) => loadInTxns(c, { n, step, batch, workers: 4, label, t0 }, op)
    await phase('put', 1, (i) => ({ request_put: { key: Buffer.from(keyOf(i)), value: valueOf(i, 1) } }))
    await phase('delete', 10, (i) => ({ request_delete_range: { key: Buffer.from(keyOf(i)) } }))
    await phase('re-put', 20, (i) => ({ request_put: { key: Buffer.from(keyOf(i)), value: valueOf(i, 2) } }))
    process.stderr.write('\n')
    const live = Number(await c.getAll().prefix('/registry/').count())
    const rev = (await c.kv.range({ key: Buffer.from('/registry/'), limit: 1 })).header.revision
    expected = { keys: n, liveKeys: live, distinctKeys: n, revisionKeys: n + Math.ceil(n / 10) + Math.ceil(n / 20), etcdRevision: String(rev), buildSeconds: (Date.now() - t0) / 1000 }
  } finally {
    c.close()
    await stop()
  }
  keepDb(dir, dbFile)
  writeFileSync(sideFile, JSON.stringify(expected, null, 2) + '\n')
}

const timed = (args, shell) => timedCli(cache, cli, args, shell)

mkdirSync(cache, { recursive: true })
if (!existsSync(cli) && !process.argv.includes('--build-only')) throw new Error('run `npm run build` first')
const rows = []
for (const n of [small, big]) {
  const dbFile = join(cache, `db-keys-${n}.db`)
  const sideFile = join(cache, `db-keys-${n}.json`)
  if (process.argv.includes('--rebuild') || !existsSync(dbFile) || !existsSync(sideFile)) await build(n, dbFile, sideFile)
  const expected = JSON.parse(readFileSync(sideFile, 'utf8'))
  if (process.argv.includes('--build-only')) { console.log(JSON.stringify({ dbFile, ...expected })); continue }
  const st = timed(['db', 'status', dbFile, '-w', 'json'], '')
  const s = JSON.parse(st.stdout)
  const nd = timed(['db', 'keys', dbFile, 'key', '--limit', '0', '-w', 'ndjson'], '>/dev/null')
  const wc = timed(['db', 'keys', dbFile, 'key', '--limit', '0', '-w', 'ndjson'], '| wc -l')
  const lines = Number(wc.stdout.trim())
  rows.push({
    keys: n, dbBytes: statSync(dbFile).size, buildSeconds: expected.buildSeconds,
    statusSeconds: st.seconds, statusPeakRssMB: st.peakRssMB,
    liveKeys: s.keys.liveKeys, distinctKeys: s.keys.distinctKeys, revisions: s.keys.revisions,
    liveKeysEqualEtcd: s.keys.liveKeys === expected.liveKeys, distinctKeysExpected: s.keys.distinctKeys === expected.distinctKeys,
    revisionEqualEtcd: s.revision === expected.etcdRevision,
    keysNdjsonSeconds: nd.seconds, keysNdjsonPeakRssMB: nd.peakRssMB,
    keysNdjsonPipeSeconds: wc.seconds, keysNdjsonPipePeakRssMB: wc.peakRssMB, ndjsonLines: lines, linesEqualRevisions: lines === s.keys.revisions,
  })
}
if (process.argv.includes('--build-only')) process.exit(0)
const result = {
  node: process.version, loadavg: loadavg().map((x) => +x.toFixed(2)), rows,
  targetsMet: rows.every((r) => r.statusPeakRssMB < 200 && r.keysNdjsonPeakRssMB < 200 && r.keysNdjsonPipePeakRssMB < 200 &&
    r.liveKeysEqualEtcd && r.distinctKeysExpected && r.revisionEqualEtcd && r.linesEqualRevisions),
}
console.log(JSON.stringify(result, null, 2))
writeFileSync(join(cache, 'last-keys-result.json'), JSON.stringify(result, null, 2))
