#!/usr/bin/env node
// bench/wal.mjs: WAL read performance, one run, ratios measured on the same machine (run `npm run build` first).
//
//   node bench/wal.mjs            # builds bench/.cache/wal6 once with real etcd (6 segments), then measures
//   BENCH_SEGMENTS=3 node bench/wal.mjs   # build a smaller cache (>= 3) if 6 takes too long
//
// Prints: raw sequential read MB/s, CRC-32C-only pass MB/s (the floor: every byte of every record is
// checksummed), `wal verify` MB/s, full decode entries/s (`wal -w ndjson` > /dev/null) and peak RSS
// for the first 3 segments vs all of them.
import { closeSync, existsSync, mkdirSync, openSync, readSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startEtcd } from './wal-etcd.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '..')
const cache = join(here, '.cache')
const SEGMENTS = Number(process.env.BENCH_SEGMENTS ?? 6)
const dataDir = join(cache, `wal${SEGMENTS}`)
const walDir = join(dataDir, 'member/wal')
const MAIN = join(root, 'dist/cli/main.js')
if (!existsSync(MAIN)) throw new Error('run `npm run build` first')

const segs = () => (existsSync(walDir) ? readdirSync(walDir).filter((n) => n.endsWith('.wal')).sort() : [])

async function build() {
  rmSync(dataDir, { recursive: true, force: true })
  mkdirSync(cache, { recursive: true })
  const { Etcd3 } = await import('etcd3')
  const { noop } = await import('cockatiel')
  const e = await startEtcd(dataDir, ['--quota-backend-bytes', String(8 * 1024 ** 3), '--auto-compaction-mode', 'revision', '--auto-compaction-retention', '20000', '--max-wals', '0'])
  const client = new Etcd3({ hosts: e.client, faultHandling: { host: () => noop, global: noop } })
  const t0 = Date.now()
  let n = 0
  // Mixed sizes like a Kubernetes cluster: mostly small objects, some bigger ones.
  const val = (i) => Buffer.alloc(i % 10 === 0 ? 1200 : 120 + (i % 97), 97 + (i % 26))
  const worker = async (w) => {
    while (segs().length <= SEGMENTS) {
      for (let j = 0; j < 200; j++) {
        const i = n++
        await client.put(`/registry/bench/w${w}/${i % 5000}`).value(val(i))
      }
    }
  }
  await Promise.all(Array.from({ length: 48 }, (_, w) => worker(w)))
  client.close()
  await e.stop()
  process.stderr.write(`built ${segs().length} segments with ${n} puts in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`)
}

if (segs().length < SEGMENTS + 1) await build()
if (process.argv.includes('--build-only')) process.exit(0)

/** A dir with the first k segments (symlinks), to compare peak RSS for k vs all segments. */
function subset(k) {
  const d = join(cache, `subset${k}`, 'member/wal')
  rmSync(join(cache, `subset${k}`), { recursive: true, force: true })
  mkdirSync(d, { recursive: true })
  for (const n of segs().slice(0, k)) symlinkSync(join(walDir, n), join(d, n))
  return join(cache, `subset${k}`)
}

const files = segs().map((n) => join(walDir, n))
const { readWalSummary, verifyWal } = await import(join(root, 'dist/app/wal.js'))
const { crc32cUpdate } = await import(join(root, 'dist/format/crc32c.js'))
const summary = readWalSummary(dataDir)
// bytes holding records (the zero tail of the last segment is never read by any of the passes below)
const used = summary.segments.map((s) => s.lastValidOffset)
const usedBytes = used.reduce((a, b) => a + b, 0)
const MB = 1e6
const buf = new Uint8Array(4 * 1024 * 1024)

function timeIt(fn, reps = 3) {
  let best = Infinity
  let out
  for (let r = 0; r < reps; r++) {
    const t = process.hrtime.bigint()
    out = fn()
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e9)
  }
  return { s: best, out }
}

const raw = timeIt(() => {
  let total = 0
  files.forEach((f, i) => {
    const fd = openSync(f, 'r')
    for (let off = 0; off < used[i]; ) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, used[i] - off), off)
      if (n <= 0) break
      off += n
      total += n
    }
    closeSync(fd)
  })
  return total
})
const crc = timeIt(() => {
  let c = 0
  files.forEach((f, i) => {
    const fd = openSync(f, 'r')
    for (let off = 0; off < used[i]; ) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, used[i] - off), off)
      if (n <= 0) break
      c = crc32cUpdate(c, buf.subarray(0, n))
      off += n
    }
    closeSync(fd)
  })
  return c
})
// The per-entry floor of the default ndjson: every record checksummed and every entry hashed once
// (redaction prints sha256 of each value; the record's bytes stand in for the value here), on one thread.
const { hash } = await import('node:crypto')
const { readFileSync } = await import('node:fs')
const hashFloor = timeIt(() => {
  let c = 0
  let n = 0
  files.forEach((f, i) => {
    const b = readFileSync(f)
    for (let off = 0; off + 8 <= used[i]; ) {
      const lo = b.readUInt32LE(off)
      const hi = b.readUInt32LE(off + 4)
      if (lo === 0 && hi === 0) break
      const top = hi >>> 24
      const len = lo + (hi & 0xffffff) * 2 ** 32
      const rec = b.subarray(off + 8, off + 8 + len)
      c = crc32cUpdate(c, rec)
      hash('sha256', rec, 'hex')
      n++
      off += 8 + len + (top & 0x80 ? top & 7 : 0)
    }
  })
  return n
}, 1)
const ver = timeIt(() => verifyWal(dataDir))
const sum = timeIt(() => readWalSummary(dataDir, { verifyCrc: false }))

function cliRun(dir, extra = []) {
  const t = process.hrtime.bigint()
  const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, MAIN, 'wal', dir, '-w', 'ndjson', ...extra], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' })
  const s = Number(process.hrtime.bigint() - t) / 1e9
  const rssKb = Number(r.stderr.trim().split('\n').at(-1))
  return { s, rssMB: rssKb / 1024, code: r.status }
}
const full = cliRun(dataDir)
const one = cliRun(dataDir, ['--threads', '1'])
const entries = summary.entryCount
const sub3 = subset(3)
const s3 = readWalSummary(sub3)
const r3 = cliRun(sub3)
const rv = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, MAIN, 'wal', 'verify', dataDir], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' })
const verifyRss = Number(rv.stderr.trim().split('\n').at(-1)) / 1024

const fmt = (x) => x.toFixed(0)
const lines = [
  `WAL: ${files.length} segments, ${(usedBytes / MB).toFixed(1)} MB of records, ${entries} entries (node ${process.version}, ${process.arch})`,
  `raw sequential read      ${fmt(usedBytes / MB / raw.s)} MB/s`,
  `CRC-32C only (floor)     ${fmt(usedBytes / MB / crc.s)} MB/s`,
  `wal verify (library)     ${fmt(usedBytes / MB / ver.s)} MB/s  (${(crc.s / ver.s * 100).toFixed(0)}% of the floor; target >= 50%)  verdict ${ver.out.verdict}`,
  `summary, no CRC          ${fmt(usedBytes / MB / sum.s)} MB/s  (${(sum.s * 1000).toFixed(0)} ms)`,
  `CRC + sha256 per record  ${fmt(hashFloor.out / hashFloor.s)} records/s on one thread (the floor of redacted output per core)`,
  `full decode -w ndjson    ${fmt(entries / full.s)} entries/s  (${full.s.toFixed(2)} s incl. process start, exit ${full.code}; target >= 1,000,000)`,
  `  same, --threads 1      ${fmt(entries / one.s)} entries/s  (${one.s.toFixed(2)} s, exit ${one.code}; workers: ${(one.s / full.s).toFixed(2)}x; peak RSS ${fmt(one.rssMB)} MB)`,
  `peak RSS ndjson          ${fmt(r3.rssMB)} MB for 3 segments (${s3.entryCount} entries), ${fmt(full.rssMB)} MB for ${files.length} (${((full.rssMB / r3.rssMB - 1) * 100).toFixed(1)}%; target < 150 MB, within 10%)`,
  `peak RSS wal verify      ${fmt(verifyRss)} MB for ${files.length} segments`,
]
console.log(lines.join('\n'))
writeFileSync(join(cache, 'last-run.txt'), lines.join('\n') + '\n')
