/**
 * Everything the native addon speeds up, with it turned off (ETCD_INSPECT_NATIVE=0, as on a machine
 * where it could not be built): Node's crypto and the JS CRC-32C give the same digits and verdicts,
 * and the parallel `wal` still prints what the reader prints, also where a deferred CRC check fails
 * and the chunk is walked again record by record. The variable is read when src/native/addon.ts
 * loads, so this file imports the sources only after setting it (vitest runs each file in a fresh
 * module graph).
 */
import { afterAll, describe, expect, it } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const before = process.env.ETCD_INSPECT_NATIVE
process.env.ETCD_INSPECT_NATIVE = '0'
const { native } = await import('../../src/native/addon.js')
const { DigestBatch, nativeDigest, sha256Prefix } = await import('../../src/format/digest.js')
const { crc32cBatch, crc32cView } = await import('../../src/format/crc32c.js')
const { streamWal } = await import('../../src/app/wal.js')
const { streamWalParallel } = await import('../../src/app/wal-parallel.js')
const { renderWalStream } = await import('../../src/render/wal.js')
const { extractMultiseg } = await import('../support/fixtures.js')

const temps: string[] = []
afterAll(() => {
  temps.forEach((t) => rmSync(t, { recursive: true, force: true }))
  if (before === undefined) delete process.env.ETCD_INSPECT_NATIVE
  else process.env.ETCD_INSPECT_NATIVE = before
})

const sha16 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex').slice(0, 16)
const src = randomBytes(20_000)

describe('with the native addon off', () => {
  it('is off, and the digests and CRC batches come from Node crypto and the JS loop', () => {
    expect(native).toBeNull()
    expect(nativeDigest).toBe(false)
    const out = new Uint8Array(40)
    for (const n of [0, 1, 55, 56, 64, 300]) {
      expect(sha256Prefix(src.subarray(3, 3 + n))).toBe(sha16(src.subarray(3, 3 + n)))
      const one = new DigestBatch()
      one.add(3, 3 + n, 2)
      one.fill(src, out)
      expect(Buffer.from(out.subarray(2, 18)).toString('latin1')).toBe(sha16(src.subarray(3, 3 + n)))
    }
    const b = new DigestBatch()
    b.add(10, 250, 0)
    b.add(0, 0, 16)
    b.fill(src, out)
    expect(Buffer.from(out.subarray(0, 32)).toString('latin1')).toBe(sha16(src.subarray(10, 250)) + sha16(new Uint8Array(0)))
    const dv = new DataView(src.buffer, src.byteOffset, src.byteLength)
    const jobs = new Int32Array(4 * 3)
    let prev = 5
    for (let i = 0; i < 3; i++) {
      const c = crc32cView(prev, dv, 100 * i, 100 * i + 90)
      jobs.set([100 * i, 100 * i + 90, prev | 0, c | 0], 4 * i)
      prev = c
    }
    expect(crc32cBatch(src, jobs, 3)).toBe(-1)
    jobs[4 * 2 + 3]! ^= 1
    expect(crc32cBatch(src, jobs, 3)).toBe(2)
  })

  it('the parallel wal prints what the reader prints, on a clean log and after a flipped byte', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wal-native-off-'))
    temps.push(dir)
    cpSync(extractMultiseg({ shared: true }).dataDir, dir, { recursive: true })
    const text = async (items: Parameters<typeof renderWalStream>[0]) => {
      const parts: string[] = []
      await renderWalStream(items, { write: (b: string | Uint8Array) => void parts.push(typeof b === 'string' ? b : Buffer.from(b).toString('utf8')) }, 'ndjson')
      return parts.join('')
    }
    const both = async () => {
      const run = await streamWalParallel(dir, {}, { threads: 2, force: true, chunkBytes: 16 * 1024 })
      expect(run).not.toBeNull()
      return { par: await text(run!.items), reader: await text(streamWal(dir, {})), resumedAt: run!.resumedAt }
    }
    const clean = await both()
    expect(clean.par).toBe(clean.reader)
    expect(clean.resumedAt).toBeUndefined()
    const wal = join(dir, 'member/wal')
    const f = join(wal, readdirSync(wal).filter((n) => n.endsWith('.wal')).sort()[0]!)
    const b = readFileSync(f)
    b[40_000] ^= 0x01
    writeFileSync(f, b)
    const bad = await both()
    expect(bad.par).toBe(bad.reader)
    expect(bad.resumedAt?.segment).toBe(0)
    expect(bad.resumedAt!.skip).toBeGreaterThan(0)
  })
})
