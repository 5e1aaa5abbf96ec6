#!/usr/bin/env node
/** One measured bench command in its own process: `check` or `status` on a db; prints ms + peak RSS. */
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const [cmd, file] = process.argv.slice(2)
const app = await import(join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'app', 'db.js'))
const t0 = process.hrtime.bigint()
let extra = {}
if (cmd === 'check') {
  const r = app.dbCheck(file)
  extra = { ok: r.check.ok, freePages: r.check.freePages }
} else if (cmd === 'status') {
  const r = app.dbStatus(file)
  extra = { hash: r.hash, totalKey: r.totalKey, revision: String(r.revision) }
} else {
  throw new Error(`unknown command ${cmd}`)
}
const ms = Number(process.hrtime.bigint() - t0) / 1e6
console.log(JSON.stringify({ ms, maxRssKB: process.resourceUsage().maxRSS, ...extra }))
