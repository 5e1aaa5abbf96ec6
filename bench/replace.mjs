#!/usr/bin/env node
/**
 * bench/replace.mjs — wall time of a full in-place member replacement (`etcd-inspect replace
 * apply`) on a local 3-member TLS cluster holding ~100 MB, split by step, beside a scripted
 * etcdctl baseline doing the same runbook in the same run (snapshot save, stop, member remove,
 * mv data dir, member add --learner, rewrite env, start, wait for catch-up, promote, health).
 * Target: etcd-inspect <= 1.5x the baseline.
 *
 *   npm run build && node bench/replace.mjs [--mb 100] [--rounds 1] [--keep] [--cli <other build's dist/cli/main.js>]
 *
 * Loopback only (127.0.0.1-3), free ports, members stopped by PID at the end.
 */
import { execFileSync, execFile } from 'node:child_process'
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, renameSync, chmodSync, existsSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Etcd3 } from 'etcd3'
import { noop } from 'cockatiel'

const execFileP = promisify(execFile)
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const argv = process.argv.slice(2)
const opt = (n, d) => { const i = argv.indexOf(`--${n}`); return i >= 0 ? argv[i + 1] : d }
// --cli <dist/cli/main.js of another build>: measure an older build against the same baseline.
const CLI = opt('cli', join(ROOT, 'dist', 'cli', 'main.js'))
const MB = Number(opt('mb', '100'))
const ROUNDS = Number(opt('rounds', '1'))
const KEEP = argv.includes('--keep')
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

const freePort = (host) => new Promise((res, rej) => { const s = createServer(); s.on('error', rej); s.listen(0, host, () => { const p = s.address().port; s.close(() => res(p)) }) })

function pki(dir) {
  const o = (a) => execFileSync('openssl', a, { cwd: dir, stdio: 'pipe' })
  o(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '3650', '-subj', '/CN=bench-ca'])
  const issue = (name, sans, eku) => {
    o(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`])
    writeFileSync(join(dir, `${name}.ext`), `${sans ? `subjectAltName=${sans}\n` : ''}extendedKeyUsage=${eku}\n`)
    o(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '365', '-out', `${name}.crt`, '-extfile', `${name}.ext`])
    return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) }
  }
  return { ca: join(dir, 'ca.crt'), client: issue('client', '', 'clientAuth'), member: (n, ip) => issue(n, `IP:${ip},IP:127.0.0.1`, 'serverAuth,clientAuth') }
}

function envText(m, initialCluster, state, ca) {
  return [
    `ETCD_NAME=${m.name}`, `ETCD_DATA_DIR=${m.dataDir}`, `ETCD_LISTEN_CLIENT_URLS=${m.clientURL}`, `ETCD_ADVERTISE_CLIENT_URLS=${m.clientURL}`,
    `ETCD_LISTEN_PEER_URLS=${m.peerURL}`, `ETCD_INITIAL_ADVERTISE_PEER_URLS=${m.peerURL}`, `ETCD_INITIAL_CLUSTER=${initialCluster}`,
    `ETCD_INITIAL_CLUSTER_STATE=${state}`, 'ETCD_INITIAL_CLUSTER_TOKEN=bench', 'ETCD_LOGGER=zap', 'ETCD_LOG_OUTPUTS=stderr', 'ETCD_QUOTA_BACKEND_BYTES=4294967296',
    `ETCD_TRUSTED_CA_FILE=${ca}`, `ETCD_CERT_FILE=${m.cert}`, `ETCD_KEY_FILE=${m.key}`, 'ETCD_CLIENT_CERT_AUTH=true',
    `ETCD_PEER_TRUSTED_CA_FILE=${ca}`, `ETCD_PEER_CERT_FILE=${m.cert}`, `ETCD_PEER_KEY_FILE=${m.key}`, 'ETCD_PEER_CLIENT_CERT_AUTH=true',
  ].join('\n') + '\n'
}

function scripts(dir, m) {
  const pid = join(dir, `${m.name}.pid`)
  const start = join(dir, `${m.name}-start.sh`)
  const stop = join(dir, `${m.name}-stop.sh`)
  writeFileSync(start, `#!/bin/sh\nif [ -f ${pid} ] && kill -0 "$(cat ${pid})" 2>/dev/null; then exit 0; fi\nenv -i PATH="$PATH" sh -c 'set -a; . ${m.envFile}; set +a; exec etcd' >>${join(dir, m.name + '.log')} 2>&1 </dev/null &\necho $! > ${pid}\n`)
  writeFileSync(stop, `#!/bin/sh\n[ -f ${pid} ] || exit 0\np=$(cat ${pid}); kill -TERM "$p" 2>/dev/null || { rm -f ${pid}; exit 0; }\ni=0; while kill -0 "$p" 2>/dev/null; do i=$((i+1)); [ $i -gt 100 ] && kill -KILL "$p"; sleep 0.1; done\nrm -f ${pid}\n`)
  chmodSync(start, 0o755); chmodSync(stop, 0o755)
  return { start, stop, pid }
}

const base = mkdtempSync(join(tmpdir(), 'bench-replace-'))
mkdirSync(join(base, 'pki'))
const P = pki(join(base, 'pki'))
const members = []
for (let i = 1; i <= 3; i++) {
  const host = `127.0.0.${i}`
  const c = P.member(`m${i}`, host)
  members.push({ name: `m${i}`, host, clientURL: `https://${host}:${await freePort(host)}`, peerURL: `https://${host}:${await freePort(host)}`, dataDir: join(base, `m${i}.etcd`), envFile: join(base, `m${i}.env`), ...c })
}
const initialCluster = members.map((m) => `${m.name}=${m.peerURL}`).join(',')
for (const m of members) { writeFileSync(m.envFile, envText(m, initialCluster, 'new', P.ca)); m.scripts = scripts(base, m) }
const eps = members.map((m) => m.clientURL)
const tlsArgs = ['--cacert', P.ca, '--cert', P.client.cert, '--key', P.client.key]
const ctl = async (args, ep = eps) => (await execFileP('etcdctl', ['--endpoints', Array.isArray(ep) ? ep.join(',') : ep, ...tlsArgs, '--command-timeout', '60s', ...args], { env: { ...process.env, ETCDCTL_API: '3' }, maxBuffer: 64 << 20 })).stdout

function cleanup() { for (const m of members) { try { process.kill(Number(readFileSync(m.scripts.pid, 'utf8')), 'SIGKILL') } catch {} } }
// A failed run keeps its temp dir (logs) only with --keep: ~1-3 GB otherwise stay behind in /tmp.
process.on('exit', (code) => { if (code !== 0 && !KEEP) { try { rmSync(base, { recursive: true, force: true }) } catch {} } })
process.on('exit', cleanup)

async function healthy(ep, ms = 60000) {
  const end = Date.now() + ms
  for (;;) { try { await ctl(['endpoint', 'health'], ep); return } catch (e) { if (Date.now() > end) throw e } await sleep(200) }
}

for (const m of members) execFileSync('sh', [m.scripts.start])
for (const m of members) await healthy(m.clientURL)

// Load ~MB megabytes: 100 KiB values, 8 concurrent puts.
const client = new Etcd3({ hosts: eps, credentials: { rootCertificate: readFileSync(P.ca), certChain: readFileSync(P.client.cert), privateKey: readFileSync(P.client.key) }, faultHandling: { host: () => noop, global: noop } })
const value = Buffer.alloc(100 * 1024, 'x')
const n = Math.ceil((MB * 1024 * 1024) / value.length)
const tl = Date.now()
for (let i = 0; i < n; i += 8) await Promise.all(Array.from({ length: Math.min(8, n - i) }, (_, j) => client.put(`bench/${String(i + j).padStart(6, '0')}`).value(value)))
client.close()
const statusJson = JSON.parse((await ctl(['endpoint', 'status', '-w', 'json'])).replace(/"(cluster_id|member_id|leader|revision|raft_term)":(\d+)/g, '"$1":"$2"'))
const dbMB = (statusJson[0].Status.dbSize / 1048576).toFixed(0)
console.error(`loaded ${n} x 100 KiB in ${((Date.now() - tl) / 1000).toFixed(1)}s; db ${dbMB} MB`)

const memberIdOf = async (name) => {
  const j = JSON.parse((await ctl(['member', 'list', '-w', 'json'])).replace(/"ID":(\d+)/g, '"ID":"$1"'))
  const m = j.members.find((x) => x.name === name || (x.peerURLs ?? []).includes(members.find((y) => y.name === name).peerURL))
  return m ? { id: BigInt(m.ID).toString(16), learner: !!m.isLearner, name: m.name } : undefined
}

/** The etcdctl runbook, step by step. */
async function baseline(m) {
  const t = {}
  const step = async (k, fn) => { const s = Date.now(); await fn(); t[k] = Date.now() - s }
  const others = eps.filter((e) => e !== m.clientURL)
  // The script has to look the old ID up before it can remove it (etcdctl member list).
  let old
  await step('plan', async () => { old = await memberIdOf(m.name) })
  await step('snapshot', async () => { await ctl(['snapshot', 'save', join(base, `baseline-${Date.now()}.db`)], others[0]) })
  await step('stop-member', async () => { execFileSync('sh', [m.scripts.stop]) })
  await step('remove-member', async () => { await ctl(['member', 'remove', old.id], others) })
  await step('archive-data-dir', async () => { renameSync(m.dataDir, `${m.dataDir}.baseline-${Date.now()}`) })
  await step('add-learner', async () => {
    for (let i = 0; ; i++) { try { await ctl(['member', 'add', m.name, '--learner', `--peer-urls=${m.peerURL}`], others); break } catch (e) { if (i > 40) throw e; await sleep(500) } }
  })
  await step('write-config', async () => { writeFileSync(m.envFile, readFileSync(m.envFile, 'utf8').replace(/ETCD_INITIAL_CLUSTER_STATE=.*/, 'ETCD_INITIAL_CLUSTER_STATE=existing')) })
  await step('start-member', async () => { execFileSync('sh', [m.scripts.start]); for (;;) { try { await ctl(['endpoint', 'status'], m.clientURL); break } catch { await sleep(200) } } })
  await step('wait-caught-up', async () => {
    for (;;) {
      const j = JSON.parse((await ctl(['endpoint', 'status', '-w', 'json'])).replace(/"(cluster_id|member_id|leader|revision|raft_term)":(\d+)/g, '"$1":"$2"'))
      const me = j.find((x) => x.Endpoint === m.clientURL)
      const lead = j.find((x) => x.Status.header.member_id === x.Status.leader)
      if (me && lead && me.Status.raftAppliedIndex + 10 >= lead.Status.raftIndex) break
      await sleep(300)
    }
  })
  await step('promote-learner', async () => {
    const nm = await memberIdOf(m.name)
    for (let i = 0; ; i++) { try { await ctl(['member', 'promote', nm.id], others); break } catch (e) { if (i > 200) throw e; await sleep(500) } }
  })
  await step('verify', async () => { await ctl(['endpoint', 'health']) })
  return t
}

async function tool(m) {
  const state = join(base, 'state')
  const common = ['--endpoints', eps.join(','), ...tlsArgs]
  // One process: apply builds the plan (the same preflight as `replace plan`) and runs it.
  const s = Date.now()
  const r = await execFileP(process.execPath, [CLI, 'replace', 'apply', ...common, '--config', m.envFile, '--state-dir', state, '--stop-cmd', m.scripts.stop, '--start-cmd', m.scripts.start, '--yes', '-w', 'json'], { maxBuffer: 64 << 20 })
  const total = Date.now() - s
  const res = JSON.parse(r.stdout)
  const t = {}
  for (const st of res.steps) t[st.kind] = st.ms
  // Process start + preflight/plan: everything outside the steps.
  t.plan = total - Object.values(t).reduce((a, x) => a + x, 0)
  t.total = total
  return t
}

const rows = []
/**
 * Each round leaves ~700 MB of the bench's own scratch in its temp dir (the baseline's snapshot
 * and moved dir, etcd-inspect's snapshot and archive): unless --keep, remove them once the round
 * is measured so that a shared machine's /tmp does not fill up. Only files of this bench's temp dir.
 */
function scratch() {
  if (KEEP) return
  for (const n of readdirSync(base)) if (/^baseline-\d+\.db$|\.etcd\.(baseline-\d+|removed-[0-9a-f]+-\d{8}T\d{6}Z)$/.test(n)) rmSync(join(base, n), { recursive: true, force: true })
  rmSync(join(base, 'state', 'snapshots'), { recursive: true, force: true })
}
const settle = async () => { await healthy(eps); await sleep(5500) } // etcd accepts the next add only after 5 s of full connectivity
for (let round = 0; round < ROUNDS; round++) {
  // Each run replaces a member that holds the full data set (m3 by etcdctl, m2 by etcd-inspect);
  // the order alternates so neither side always runs on a freshly settled cluster.
  let b, o
  if (round % 2 === 0) { b = await baseline(members[2]); await settle(); o = await tool(members[1]); await settle() }
  else { o = await tool(members[1]); await settle(); b = await baseline(members[2]); await settle() }
  b.total = Object.values(b).reduce((a, x) => a + x, 0)
  scratch()
  rows.push({ round, first: round % 2 === 0 ? 'etcdctl' : 'etcd-inspect', baseline: b, tool: o })
}

const kinds = ['plan', 'snapshot', 'move-leader', 'stop-member', 'remove-member', 'archive-data-dir', 'add-learner', 'write-config', 'start-member', 'wait-caught-up', 'promote-learner', 'verify', 'total']
const fmt = (v) => (v === undefined ? '-' : (v / 1000).toFixed(2))
console.log(`replace bench: 3-member TLS cluster on loopback, db ${dbMB} MB (${n} x 100 KiB values)`)
for (const r of rows) {
  console.log(`round ${r.round} (${r.first} first)`)
  console.log(`${'step'.padEnd(18)} ${'etcdctl (s)'.padStart(12)} ${'etcd-inspect (s)'.padStart(17)}`)
  for (const k of kinds) if (r.baseline[k] !== undefined || r.tool[k] !== undefined) console.log(`${k.padEnd(18)} ${fmt(r.baseline[k]).padStart(12)} ${fmt(r.tool[k]).padStart(17)}`)
  console.log(`ratio etcd-inspect / etcdctl: ${(r.tool.total / r.baseline.total).toFixed(2)} (target <= 1.50)`)
}
const ratios = rows.map((r) => r.tool.total / r.baseline.total)
const exPlan = rows.map((r) => (r.tool.total - (r.tool.plan ?? 0)) / (r.baseline.total - (r.baseline.plan ?? 0)))
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2 }
console.log(`ratios: ${ratios.map((x) => x.toFixed(2)).join(' / ')} (median ${med(ratios).toFixed(2)}); steps only, without plan rows: ${exPlan.map((x) => x.toFixed(2)).join(' / ')}`)
writeFileSync(join(base, 'result.json'), JSON.stringify(rows, null, 2))
cleanup()
if (!KEEP) rmSync(base, { recursive: true, force: true })
else console.error(`kept ${base}`)
process.exit(0)
