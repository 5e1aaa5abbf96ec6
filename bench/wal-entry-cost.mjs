#!/usr/bin/env node
// bench/wal-entry-cost.mjs: where a worker's time goes per entry of `wal -w ndjson` (run `npm run build` first):
// one wal6 segment (bench/wal.mjs builds it) cut into 1 MiB chunks as the chunker cuts them, each layer added in turn, best of 5 rounds
// (the rounds alternate between the layers, so a busy moment of the machine hits all of them).

import { readFileSync, readdirSync } from 'node:fs'
import { hash } from 'node:crypto'
import { DigestBatch, nativeDigest } from '../dist/format/digest.js'
import { presentChunk } from '../dist/app/wal-fast.js'
import { EntryLineWriter, fastPut } from '../dist/render/wal-line.js'
import { matchPut, newPutShape } from '../dist/format/raft/put-shape.js'
const dir = new URL('./.cache/wal6/member/wal', import.meta.url).pathname
const name = readdirSync(dir).filter((n) => n.endsWith('.wal')).sort()[2]
const file = readFileSync(`${dir}/${name}`)
// whole frames of the first 48 MB, as the chunker would hand them (first chunk of the segment)
const CH = 1 << 20
const chunks = []
{ let off = 0; let first = true
  while (off < 48 << 20) {
    let end = off
    for (;;) { const lo = file.readUInt32LE(end); const hi = file.readUInt32LE(end + 4); if (lo === 0 && hi === 0) break; const top = hi >>> 24; const n = lo + (top & 0x80 ? top & 7 : 0); if (end + 8 + n - off > CH) break; end += 8 + n }
    chunks.push({ first, base: off, buf: new Uint8Array(file.buffer, file.byteOffset + off, end - off) })
    off = end; first = false
  } }
// the stored CRC before each chunk: run once with the real writer to learn crcEnd
let crc = 0
const jobs = chunks.map((c, id) => ({ id, segment: 0, file: `member/wal/${name}`, first: c.first, base: c.base, length: c.buf.length, crc: 0, commit: 1n << 60n, buf: c.buf }))
for (const j of jobs) { j.crc = crc; const w = new EntryLineWriter('ndjson'); w.begin(j.buf, j.file, undefined, j.length * 2); const o = presentChunk(j, j.buf, w); crc = o.crcEnd; if (o.irregular) throw new Error(o.irregular) }
// the output buffer is reused from chunk to chunk, as the workers reuse theirs
const OUT = new Uint8Array(4 << 20)
const variants = {
  'frame walk + CRC + header (sink takes raw at once)': (j) => presentChunk(j, j.buf, { raw: () => true, entry() {}, restart() {} }),
  '+ put match': (j) => { const p = newPutShape(); return presentChunk(j, j.buf, { raw: (s, e) => matchPut(j.buf, s, e, p), entry() {}, restart() {} }) },
  '+ key check and value scan (fastPut)': (j) => { const p = newPutShape(); const dv = new DataView(j.buf.buffer, j.buf.byteOffset, j.buf.byteLength); return presentChunk(j, j.buf, { raw: (s, e) => fastPut(dv, j.buf, s, e, p) !== null, entry() {}, restart() {} }) },
  '+ SHA-256 of the value (crypto.hash, one call)': (j) => { const p = newPutShape(); const dv = new DataView(j.buf.buffer, j.buf.byteOffset, j.buf.byteLength); return presentChunk(j, j.buf, { raw: (s, e) => { fastPut(dv, j.buf, s, e, p); hash('sha256', j.buf.subarray(p.valueStart, p.valueEnd), 'binary'); return true }, entry() {}, restart() {} }) },
  '+ SHA-256 of the value (format/digest.ts DigestBatch, one call a chunk)': (j) => { const p = newPutShape(); const dv = new DataView(j.buf.buffer, j.buf.byteOffset, j.buf.byteLength); const d = new DigestBatch(); const r = presentChunk(j, j.buf, { raw: (s, e) => { fastPut(dv, j.buf, s, e, p); d.add(p.valueStart, p.valueEnd, 0); return true }, entry() {}, restart() {} }); d.fill(j.buf, OUT); return r },
  'full line writer (what a worker does)': (j) => { const w = new EntryLineWriter('ndjson'); w.begin(j.buf, j.file, OUT, j.length * 2); const r = presentChunk(j, j.buf, w); w.take(); return r },
}
let entries = 0
for (const j of jobs) entries += presentChunk(j, j.buf, { raw: () => true, entry() {}, restart() {} }).entries
console.log(`${name}: ${chunks.length} chunks, ${entries} entries; native addon: ${nativeDigest ? 'yes' : 'no (ETCD_INSPECT_NATIVE=0 or not built)'}`)
const best = {}
for (let r = 0; r < 5; r++) for (const [k, f] of Object.entries(variants)) {
  const t = process.hrtime.bigint(); for (const j of jobs) f(j); best[k] = Math.min(best[k] ?? Infinity, Number(process.hrtime.bigint() - t))
}
for (const [k, ns] of Object.entries(best)) console.log(`${(ns / entries).toFixed(0).padStart(6)} ns/entry  ${k}`)
