/**
 * Streamed `db keys -w ndjson|simple`: the same lines as the collecting path, the limit honoured,
 * nothing collected, and back-pressure: the producer waits for the output to drain instead of
 * running ahead of it.
 */
import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { runCli, REPO_ROOT } from '../support/cli.js'
import { hashTree } from '../support/tree-hash.js'
import { dbKeys, streamDbKeys } from '../../src/app/db.js'
import { keysLineWriter, lineWriter, renderDbKeys } from '../../src/render/db.js'
import { memorySink, streamSink } from '../../src/render/output.js'
import type { DecodedEntry } from '../../src/format/backend/entry.js'

const SINGLE = join(REPO_ROOT, 'fixtures/single/data')

describe('streamed db keys', () => {
  it('-w ndjson and -w simple stream the same lines the collecting renderer gives, for every bucket', async () => {
    for (const bucket of ['key', 'meta', 'members', 'authUsers', 'lease']) {
      for (const w of ['ndjson', 'simple'] as const) {
        const want = renderDbKeys(dbKeys(SINGLE, bucket, { limit: 0 }), w)
        const sink = memorySink()
        const out = keysLineWriter(bucket, w, sink, 100)
        const r = await streamDbKeys(SINGLE, bucket, { limit: 0 }, out.entry)
        await out.end()
        expect({ bucket, w, text: sink.text() }).toEqual({ bucket, w, text: want })
        expect(r.count).toBe(want.split('\n').length - 1)
        expect(r.more).toBe(false)
        expect(r.live.consistent).toBe(true)
      }
    }
  })

  it('the CLI streams --limit 0 (every revision) and stops at --limit n with more: true', async () => {
    const before = hashTree(SINGLE)
    const all = runCli(['db', 'keys', SINGLE, 'key', '--limit', '0', '-w', 'ndjson'])
    expect({ code: all.code, stderr: all.stderr }).toEqual({ code: 0, stderr: '' })
    expect(all.stdout).toBe(renderDbKeys(dbKeys(SINGLE, 'key', { limit: 0 }), 'ndjson'))
    const lines = all.stdout.trimEnd().split('\n')
    expect(lines.length).toBeGreaterThan(200)
    const two = runCli(['db', 'keys', SINGLE, 'key', '--limit', '2', '-w', 'ndjson'])
    expect(two.stdout).toBe(lines.slice(0, 2).join('\n') + '\n')
    const def = runCli(['db', 'keys', SINGLE, 'key', '-w', 'simple'])
    expect(def.stdout).toBe(renderDbKeys(dbKeys(SINGLE, 'key'), 'simple'))
    const seen: DecodedEntry[] = []
    const r = await streamDbKeys(SINGLE, 'key', { limit: 2 }, (e) => { seen.push(e) })
    expect({ count: r.count, more: r.more, n: seen.length }).toEqual({ count: 2, more: true, n: 2 })
    expect(hashTree(SINGLE)).toEqual(before)
  })

  it('usage errors are thrown before anything is written', async () => {
    const emitted: DecodedEntry[] = []
    await expect(streamDbKeys(SINGLE, 'nope', {}, (e) => { emitted.push(e) })).rejects.toThrow(/bucket "nope" not found/)
    await expect(streamDbKeys(SINGLE, 'key', { limit: -1 }, (e) => { emitted.push(e) })).rejects.toThrow(/--limit/)
    expect(emitted).toHaveLength(0)
  })

  it('back-pressure: with a slow consumer the producer never runs more than one chunk ahead', async () => {
    let consumedLines = 0
    let producedLines = 0
    let maxAhead = 0
    let writes = 0
    const slow = new Writable({
      highWaterMark: 16,
      write(chunk: Buffer, _enc, cb) {
        writes++
        setTimeout(() => { consumedLines += chunk.toString().split('\n').length - 1; cb() }, 1)
      },
    })
    // 256-byte chunks: about one entry per write, and every write fills the 16-byte buffer.
    const out = keysLineWriter('key', 'ndjson', streamSink(slow), 256)
    const r = await streamDbKeys(SINGLE, 'key', { limit: 0 }, (e) => {
      producedLines++
      maxAhead = Math.max(maxAhead, producedLines - consumedLines)
      return out.entry(e)
    })
    await out.end()
    await new Promise<void>((resolve) => slow.end(resolve))
    expect(consumedLines).toBe(r.count)
    expect(writes).toBeGreaterThan(100)
    // One chunk may be in flight (a few lines at most), never the whole listing.
    expect(maxAhead).toBeLessThanOrEqual(3)
  })

  it('lineWriter joins lines into chunks and hands the sink promise back', async () => {
    const chunks: string[] = []
    let release: () => void = () => {}
    const w = lineWriter({ write: (s) => { chunks.push(s as string); return new Promise<void>((r) => { release = r }) } }, 12)
    expect(w.line('abc')).toBeUndefined()
    expect(w.line('defgh')).toBeUndefined()
    const p = w.line('ij') // 4 + 6 + 3 bytes >= 12: flushed
    expect(p).toBeInstanceOf(Promise)
    expect(chunks).toEqual(['abc\ndefgh\nij\n'])
    release()
    await p
    w.line('k')
    const end = w.end()
    expect(chunks).toEqual(['abc\ndefgh\nij\n', 'k\n'])
    release()
    await end
    expect(w.end()).toBeUndefined()
  })
})
