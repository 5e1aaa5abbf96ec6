#!/usr/bin/env node
// Builds the optional native digest (digest.c) with node-gyp, which npm puts on the PATH of its
// scripts (`npm run build` calls this). Skipped when the build is newer than its sources. A
// machine without a compiler or Node's headers still gets a working etcd-inspect: the build
// failure is one warning, and format/digest.ts falls back to Node's crypto (same output, slower).
// ETCD_INSPECT_NATIVE=require (CI) makes the failure an error instead.
import { spawnSync } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const built = join(here, 'build', 'Release', 'etcd_inspect_native.node')
const sources = ['digest.c', 'binding.gyp'].map((f) => join(here, f))
const required = process.env.ETCD_INSPECT_NATIVE === 'require'

if (process.env.ETCD_INSPECT_NATIVE === '0') process.exit(0)
if (existsSync(built) && sources.every((s) => statSync(s).mtimeMs <= statSync(built).mtimeMs)) process.exit(0)

// npm's own node-gyp: named by npm inside its scripts, else beside this node's npm
const bundled = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')
const gyp = process.env.npm_config_node_gyp ?? (existsSync(bundled) ? bundled : undefined)
const [cmd, args] = gyp ? [process.execPath, [gyp]] : ['node-gyp', []]
// Node's own headers (what npm is set to build against here) rather than a download
const prefix = join(dirname(process.execPath), '..')
const nodedir = process.env.npm_config_nodedir ?? (existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined)
const r = spawnSync(cmd, [...args, 'rebuild', `--directory=${here}`, ...(nodedir ? [`--nodedir=${nodedir}`] : [])], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' })
if (r.status === 0 && existsSync(built)) process.exit(0)
const why = r.error ? r.error.message : (r.stderr || r.stdout).trim().split('\n').filter((l) => /error/i.test(l)).slice(-3).join(' | ') || `node-gyp exited ${r.status}`
process.stderr.write(`etcd-inspect: the native digest was not built (${why}); values are hashed with Node's crypto instead (same output, slower)\n`)
process.exit(required ? 1 : 0)
