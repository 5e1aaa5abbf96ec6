/**
 * `wal` output in every format streams: the JSON document written incrementally parses to the full
 * result, the table prints pages of rows while the log is still being read, and the compact
 * serialiser writes exactly what JSON.stringify with the replacer writes.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { rmSync } from 'node:fs'
import { runWal, streamWal, type WalStreamItem } from '../../src/app/wal.js'
import { renderWalStream } from '../../src/render/wal.js'
import { presentWalResult } from '../../src/render/wal-entry.js'
import { jsonReplacer, toJson, toJsonLine } from '../../src/render/json.js'
import type { Sink } from '../../src/render/output.js'
import { firstSegment, irrPut, writeWalDir } from '../support/wal-writer.js'
import { allDataDirs } from '../support/fixtures.js'

const temps: string[] = []
afterAll(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })))

function collect(): Sink & { text(): string; writes: number } {
  const parts: string[] = []
  return {
    writes: 0,
    write(s) {
      this.writes++
      parts.push(typeof s === 'string' ? s : Buffer.from(s).toString('utf8'))
    },
    text: () => parts.join(''),
  }
}

/** A log with an overwrite (replaced entries), uncommitted entries and a snapshot record. */
function overwriteLog(): string {
  const w = firstSegment()
  w.entry(1, 1, irrPut('a', '1')).entry(2, 2).entry(2, 3, irrPut('a', '1')).state(2, 1, 3)
  w.entry(2, 4, irrPut('b', '2')).entry(2, 5, irrPut('c', '3')).state(2, 1, 3)
  w.entry(3, 4, irrPut('b', 'new')).state(3, 1, 4)
  w.entry(3, 5, irrPut('d', '\u0000\u0001'))
  return writeWalDir([[0n, 0n, w.cut(4096)]], temps, 'wal-render-')
}

/** Many small entries across three segments. */
function bigLog(n: number): string {
  const w = firstSegment()
  const segs: [bigint, bigint, Uint8Array][] = []
  let first = 0n
  for (let i = 1; i <= n; i++) {
    w.entry(2, i, irrPut(`/registry/k/${i}`, `v${i}`))
    if (i % 500 === 0) w.state(2, 1, i)
    if (i === Math.floor(n / 3) || i === Math.floor((2 * n) / 3)) {
      segs.push([BigInt(segs.length), first, w.cut()])
      first = BigInt(i + 1)
      w.crcRecord().metadata().state(2, 1, i)
    }
  }
  segs.push([BigInt(segs.length), first, w.cut(1024)])
  return writeWalDir(segs, temps, 'wal-render-big-')
}

describe('wal output streams in every format', () => {
  it('json: the incrementally written document is the full result, replaced entries marked', async () => {
    for (const d of [overwriteLog(), bigLog(1200)]) {
      const sink = collect()
      await renderWalStream(streamWal(d, { markReplaced: true }), sink, 'json')
      const streamed = JSON.parse(sink.text())
      const full = JSON.parse(toJson(presentWalResult(runWal(d))))
      expect(streamed).toEqual(full)
      expect(sink.writes).toBeGreaterThanOrEqual(1)
    }
    const r = runWal(overwriteLog())
    expect(r.entries.filter((e) => e.replaced).map((e) => [e.index, e.term])).toEqual([[4n, 2n], [5n, 2n]])
  })
  it('json: a log without entries shown is still one document', async () => {
    const sink = collect()
    await renderWalStream(streamWal(overwriteLog(), { startIndex: 100n }), sink, 'json')
    const j = JSON.parse(sink.text())
    expect(j.entries).toEqual([])
    expect(j.summary.shown).toBe(0)
  })
  it('table: rows are written while the log is still being read, in aligned columns', async () => {
    const d = bigLog(6000)
    const sink = collect()
    let seen = 0
    let writtenEarly = ''
    function* spy(): Generator<WalStreamItem> {
      for (const it of streamWal(d, { markReplaced: true })) {
        if (it.kind === 'entry' && ++seen === 5500) writtenEarly = sink.text()
        yield it
      }
    }
    await renderWalStream(spy(), sink, 'table')
    // pages were out (in ~256 KiB writes) long before the last entry was decoded
    expect(writtenEarly.split('\n').filter((l) => /^ *\d+ +2 +normal/.test(l)).length).toBeGreaterThanOrEqual(512)
    const out = sink.text()
    const rows = out.split('\n').filter((l) => /^ *\d+ +2 +normal +put +key=/.test(l))
    expect(rows).toHaveLength(6000)
    // the columns line up across pages
    expect(new Set(rows.map((l) => l.indexOf('normal'))).size).toBe(1)
    expect(out.split('\n')[0]).toMatch(/^index +term +type +kind +detail$/)
    expect(out).toMatch(/end: clean/)
  })
  it('table and simple mark uncommitted and replaced entries', async () => {
    const d = overwriteLog()
    for (const format of ['table', 'simple'] as const) {
      const sink = collect()
      await renderWalStream(streamWal(d, { markReplaced: true }), sink, format)
      expect(sink.text()).toMatch(format === 'table' ? /4 +2 +normal \(uncommitted\) \(replaced\)/ : /^4 2 normal put uncommitted replaced/m)
    }
  })
  it('toJsonLine writes what JSON.stringify with the replacer writes', () => {
    const values: unknown[] = [
      { a: 1n, b: [1, undefined, () => 1, 2n ** 64n], c: undefined, d: 'quote " back \\ ctl \u0001 \ud800', e: NaN, f: -0, g: null, h: true },
      new Uint8Array([0, 255]), new Map([['k', 1n]]), new Set([1, 'x']), [new Date(0), { toJSON: () => 'j' }], 'plain', 3.5, [],
      { nested: { deeper: { arr: [{ x: 1n }] } }, bytes: { v: new Uint8Array([1]) } },
    ]
    for (const v of values) expect(toJsonLine(v)).toBe(JSON.stringify(v, jsonReplacer))
  })
  it('put values are classified as db keys classifies them, in every format, payload redacted', async () => {
    const single = allDataDirs().find((d) => d.fixture === 'single')!.dir
    const r = presentWalResult(runWal(single))
    const puts = r.entries.map((e) => e.request).filter((q) => q?.kind === 'put') as unknown as { key: string; value: Record<string, unknown>; valueClass: Record<string, unknown> }[]
    const pod = puts.find((p) => p.valueClass.kind === 'k8s-protobuf' && p.valueClass.objectKind === 'Pod')!
    expect(pod.valueClass).toMatchObject({ apiVersion: 'v1', namespace: 'default', name: 'pi-dqtsw' })
    expect(pod.value).toMatchObject({ redacted: true, type: 'k8s-protobuf' })
    expect(pod.value).not.toHaveProperty('hex')
    expect(puts.find((p) => p.valueClass.kind === 'k8s-encrypted')!.valueClass).toMatchObject({ provider: 'aescbc', version: 'v1' })
    expect(puts.some((p) => p.valueClass.kind === 'json' && p.valueClass.objectKind !== undefined)).toBe(true)
    expect(puts.some((p) => p.valueClass.kind === 'text')).toBe(true)
    for (const format of ['table', 'simple', 'ndjson'] as const) {
      const sink = collect()
      await renderWalStream(streamWal(single, { markReplaced: format !== 'ndjson' }), sink, format)
      const out = sink.text()
      if (format === 'ndjson') expect(out).toMatch(/"valueClass":\{"kind":"k8s-protobuf"[^}]*"objectKind":"Pod","name":"pi-dqtsw"[^}]*"namespace":"default"/)
      else {
        expect(out).toMatch(/value=<redacted len:\d+ sha256:[0-9a-f]+> k8s v1\/Pod default\/pi-dqtsw/)
        expect(out).toMatch(/encrypted aescbc:v1:/)
      }
    }
    // --show-values prints the payload; the class stays
    const shown = presentWalResult(runWal(single), { showValues: true }).entries.map((e) => e.request).find((q) => q?.kind === 'put' && (q.valueClass as { name?: string }).name === 'pi-dqtsw')!
    expect(shown.value).toHaveProperty('hex')
  })
})
