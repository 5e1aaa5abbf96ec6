#!/usr/bin/env node
// bench/wal-native.mjs: is native CRC-32C faster per WAL record than ours? (issue 10 point 7: use native
// code only if a measurement shows it faster per record). Records are taken from the first segment of
// the bench logs (node bench/wal.mjs builds them). The digest needs no such test: sha256 already runs
// in OpenSSL (node:crypto). The native candidate is not a dependency; install it beside the repo:
//
//   npm i --prefix /tmp/native @node-rs/crc32 && NATIVE_DIR=/tmp/native node bench/wal-native.mjs
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '..')
const { crc32cUpdate, crc32cRange } = await import(join(root, 'dist/format/crc32c.js'))
const dir = process.env.NATIVE_DIR ?? '/tmp/native'
const req = createRequire(join(dir, 'package.json'))
let native
try {
  native = req('@node-rs/crc32').crc32c
} catch {
  console.log(`@node-rs/crc32 not found under ${dir}: npm i --prefix ${dir} @node-rs/crc32`)
  process.exit(1)
}

/** [start, end) of every record's data in the first segment of a bench log. */
function records(name) {
  const wal = join(here, '.cache', name, 'member/wal')
  if (!existsSync(wal)) return null
  const b = readFileSync(join(wal, readdirSync(wal).filter((n) => n.endsWith('.wal')).sort()[0]))
  const out = []
  for (let off = 0; off + 8 <= b.length; ) {
    const lo = b.readUInt32LE(off)
    const hi = b.readUInt32LE(off + 4)
    if (lo === 0 && hi === 0) break
    const len = lo + (hi & 0xffffff) * 2 ** 32
    out.push([off + 8, off + 8 + len])
    off += 8 + len + (hi >>> 31 ? (hi >>> 24) & 7 : 0)
  }
  return { b, out }
}

function ns(fn, n) {
  let best = Infinity
  for (let r = 0; r < 5; r++) {
    const t = process.hrtime.bigint()
    fn()
    best = Math.min(best, Number(process.hrtime.bigint() - t))
  }
  return best / n
}

for (const name of readdirSync(join(here, '.cache')).filter((n) => /^wal(\d+|big\d+)$/.test(n))) {
  const r = records(name)
  if (!r) continue
  const { b, out } = r
  const bytes = out.reduce((a, [s, e]) => a + e - s, 0)
  let x = 0
  for (const [s, e] of out) if (native(b.subarray(s, e), x) !== crc32cUpdate(x, b.subarray(s, e))) throw new Error('native and JS CRC-32C differ')
  const js = ns(() => { for (const [s, e] of out) x = crc32cUpdate(x, b.subarray(s, e)) }, out.length)
  const range = ns(() => { for (const [s, e] of out) x = crc32cRange(x, b, s, e) }, out.length)
  const nat = ns(() => { for (const [s, e] of out) x = native(b.subarray(s, e), x) }, out.length)
  console.log(`${name}: ${out.length} records, ${(bytes / out.length).toFixed(0)} B mean: crc-32 (subarray) ${js.toFixed(0)} ns, crc32cRange ${range.toFixed(0)} ns, @node-rs/crc32 ${nat.toFixed(0)} ns per record`)
}
