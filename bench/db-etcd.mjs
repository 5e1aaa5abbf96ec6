/**
 * Shared by bench/db.mjs and bench/db-keys.mjs: command-line flags, and a throwaway single-member
 * etcd 3.4 on free 127.0.0.1 ports that writes a db once into bench/.cache/.
 */
import { spawn, spawnSync } from 'node:child_process'
import { createServer } from 'node:net'
import { mkdirSync, openSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'

/** The value after `name` on the command line, else `dflt`. */
export const arg = (name, dflt) => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : dflt
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)) })
  })
}

/**
 * Starts etcd on an empty `<dir>/data`, logging to `logPath`; `flags` go before the common tail.
 * Returns its client URL and `stop()` (SIGTERM, then waits for the exit); a SIGKILL at process
 * exit covers a build that throws.
 */
export async function startBuildEtcd(dir, logPath, flags) {
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const cp = await freePort()
  let pp = await freePort()
  while (pp === cp) pp = await freePort()
  const client = `http://127.0.0.1:${cp}`
  const peer = `http://127.0.0.1:${pp}`
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD')))
  const log = openSync(logPath, 'w')
  const etcd = spawn('etcd', [
    '--name', 'bench', '--data-dir', join(dir, 'data'),
    '--listen-client-urls', client, '--advertise-client-urls', client,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `bench=${peer}`,
    '--quota-backend-bytes', String(8 * 1024 ** 3), ...flags,
    '--snapshot-count', '100000', '--logger', 'zap', '--log-outputs', 'stderr',
  ], { stdio: ['ignore', log, log], env })
  const killEtcd = () => { try { process.kill(etcd.pid, 'SIGKILL') } catch {} }
  process.on('exit', killEtcd)
  return {
    client,
    async stop() {
      etcd.kill('SIGTERM')
      await new Promise((r) => etcd.once('exit', r))
      process.off('exit', killEtcd)
    },
  }
}

/** Moves the stopped member's db to `dbFile` and removes the rest of `dir`. */
export function keepDb(dir, dbFile) {
  renameSync(join(dir, 'data', 'member', 'snap', 'db'), dbFile)
  rmSync(dir, { recursive: true, force: true })
}

/**
 * Runs `fn(i)` for every i in [0, n) with `step` as etcd txns of `batch` operations, `workers` txns
 * in flight, with a progress line on stderr.
 */
export async function loadInTxns(c, { n, step, batch, workers, label, t0 }, op) {
  const idx = []
  for (let i = 0; i < n; i += step) idx.push(i)
  let next = 0
  let done = 0
  const worker = async () => {
    while (next < idx.length) {
      const part = idx.slice(next, next + batch)
      next += batch
      await c.kv.txn({ compare: [], success: part.map(op) })
      done += part.length
      process.stderr.write(`\rbuilding ${n}: ${label} ${done}/${idx.length} (${((Date.now() - t0) / 1000).toFixed(0)} s)`)
    }
  }
  await Promise.all(Array.from({ length: workers }, worker))
}

/** Runs the CLI `cli` under /usr/bin/time: { seconds, peakRssMB, stdout }. `shell` is a suffix like `>/dev/null`. */
export function timedCli(cache, cli, args, shell = '') {
  const tfile = join(cache, 'time.out')
  const q = (s) => `'${s.replace(/'/g, `'\\''`)}'`
  const cmd = `/usr/bin/time -f '%e %M' -o ${q(tfile)} ${q(process.execPath)} ${q(cli)} ${args.map(q).join(' ')} ${shell}`
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8', maxBuffer: 256 << 20 })
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed (${r.status}): ${r.stderr}`)
  const [sec, kb] = readFileSync(tfile, 'utf8').trim().split('\n').pop().split(' ').map(Number)
  return { seconds: sec, peakRssMB: +(kb / 1024).toFixed(1), stdout: r.stdout }
}

/** The Kubernetes-like key of bench object i: `/registry/pods/ns-XXX/pod-NNNNNNNN`. */
export const podKey = (i) => `/registry/pods/ns-${String(i % 500).padStart(3, '0')}/pod-${String(i).padStart(8, '0')}`

/**
 * Starts etcd on `<dir>/data` (as startBuildEtcd) and writes `sizeMb` of `valueKb` values with
 * distinct bytes (nothing compresses or dedups anywhere), then stops it. The data dir stays.
 */
export async function buildValues(dir, logPath, sizeMb, valueKb) {
  const { Etcd3 } = await import('etcd3')
  const { client, stop } = await startBuildEtcd(dir, logPath, ['--max-request-bytes', String(2 * 1024 * 1024)])
  const c = new Etcd3({ hosts: client })
  try {
    for (let i = 0; ; i++) {
      try { await c.put('bench/ready').value('1'); break } catch (e) { if (i > 100) throw e; await new Promise((r) => setTimeout(r, 200)) }
    }
    const value = Buffer.alloc(valueKb * 1024)
    const n = Math.ceil((sizeMb * 1024 * 1024) / value.length)
    const t0 = Date.now()
    for (let i = 0; i < n; i++) {
      value.writeUInt32LE(i, 0)
      for (let j = 4; j < value.length; j += 4096) value.writeUInt32LE((i * 2654435761 + j) >>> 0, j)
      await c.put(`/bench/key-${String(i).padStart(6, '0')}`).value(value)
      if (i % 100 === 0) process.stderr.write(`\rbuilding: ${i}/${n} values (${((Date.now() - t0) / 1000).toFixed(0)} s)`)
    }
    process.stderr.write('\n')
  } finally {
    c.close()
    await stop()
  }
}
