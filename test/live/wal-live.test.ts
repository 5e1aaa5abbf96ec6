/**
 * `etcd-inspect wal` on the data dir of a running etcd that is being written to: results are
 * consistent, the tail may be torn but is never reported as corruption, and the command changes
 * nothing (hashes taken with etcd frozen by SIGSTOP, so only our command could change a byte).
 */
import { afterAll, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { resolve } from 'node:path'
import { startEtcd, etcdctl, type EtcdMember } from '../support/etcd.js'
import { hashTree } from '../support/tree-hash.js'

const MAIN = resolve(__dirname, '../../dist/cli/main.js')

function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [MAIN, ...args], { maxBuffer: 512 * 1024 * 1024 }, (err, out, errOut) => {
      res({ code: err ? ((err as { code?: number }).code ?? 70) : 0, out, err: errOut })
    })
  })
}

interface Entry { index: string; term: string; kind: string; replaces?: unknown[] }

describe('live: read while etcd writes', () => {
  let m: EtcdMember | undefined
  afterAll(async () => {
    if (m) {
      try { process.kill(m.pid, 'SIGCONT') } catch {}
      await m.stop()
    }
  })

  it('consistent results, torn tail at worst, never corruption, nothing written', async () => {
    m = await startEtcd({ name: 'live', snapshotCount: 100 })
    const member = m
    let writing = true
    let written = 0
    const writer = async (w: number) => {
      for (let i = 0; writing; i++) {
        await etcdctl(member.clientURL, ['put', `/live/w${w}/${i}`, `value-${w}-${i}-${'x'.repeat(i % 300)}`])
        written++
      }
    }
    const writers = [writer(0), writer(1), writer(2)]
    while (written < 30) await new Promise((r) => setTimeout(r, 50))

    let lastSeen = 0n
    let memberId: string | undefined
    for (let run = 0; run < 4; run++) {
      const r = await cli(['wal', member.dataDir, '-w', 'ndjson'])
      expect([0, 5], r.err).toContain(r.code)
      const lines = r.out.trimEnd().split('\n').map((l) => JSON.parse(l) as { kind: string } & Record<string, unknown>)
      const summary = lines.at(-1) as unknown as { kind: string; memberId: string; summary: { end: string; lastIndex: string; errors: number } }
      expect(summary.kind).toBe('summary')
      expect(['clean', 'torn-tail']).toContain(summary.summary.end)
      expect(summary.summary.errors).toBe(0)
      expect(lines.filter((l) => l.kind === 'finding' && (l as { severity?: string }).severity === 'error')).toEqual([])
      memberId ??= summary.memberId
      expect(summary.memberId).toBe(memberId)
      // indexes never jump forward; a smaller or equal index must say what it replaced
      const entries = lines.filter((l) => l.kind === 'entry') as unknown as Entry[]
      for (let i = 1; i < entries.length; i++) {
        const prev = BigInt(entries[i - 1]!.index)
        const cur = BigInt(entries[i]!.index)
        expect(cur <= prev + 1n, `index ${cur} after ${prev}`).toBe(true)
        if (cur <= prev) expect(entries[i]!.replaces?.length).toBeGreaterThan(0)
      }
      const last = BigInt(summary.summary.lastIndex)
      expect(last >= lastSeen).toBe(true)
      lastSeen = last
      const v = await cli(['wal', 'verify', member.dataDir])
      expect([0, 5], v.out + v.err).toContain(v.code)
    }

    // Freeze etcd (its files stay open and locked), then hash, inspect, hash.
    process.kill(member.pid, 'SIGSTOP')
    try {
      const before = hashTree(member.dataDir)
      const r = await cli(['wal', member.dataDir, '-w', 'json'])
      expect([0, 5]).toContain(r.code)
      expect(hashTree(member.dataDir)).toEqual(before)
    } finally {
      process.kill(member.pid, 'SIGCONT')
    }

    writing = false
    await Promise.all(writers)
    await member.stop()
    const final = await cli(['wal', member.dataDir, '-w', 'json'])
    expect(final.code, final.err).toBe(0)
    const j = JSON.parse(final.out)
    expect(j.summary.end).toBe('clean')
    expect(BigInt(j.summary.lastIndex) >= lastSeen).toBe(true)
    expect(j.entries.filter((e: Entry & { request?: { kind: string } }) => e.request?.kind === 'put').length).toBeGreaterThanOrEqual(written)
  }, 120_000)
})
