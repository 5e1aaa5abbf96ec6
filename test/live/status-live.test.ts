/**
 * Real etcd 3.4 with a small --snapshot-count: `status` and `snap` on its data dir while it runs
 * (IN_USE from /proc/locks, files byte-identical before and after) and after it stopped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { startEtcd, etcdctl, type EtcdMember } from '../support/etcd.js'
import { hashTree } from '../support/tree-hash.js'
import { parseJsonBig } from '../../src/format/snap/json-big.js'

const CLI = 'dist/cli/main.js'
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Hash the tree until two hashes 300 ms apart agree (etcd has flushed its last batch). */
async function quiescentHash(dir: string): Promise<ReturnType<typeof hashTree>> {
  let prev = hashTree(dir)
  for (let i = 0; i < 30; i++) {
    await sleep(300)
    const next = hashTree(dir)
    if (JSON.stringify(next) === JSON.stringify(prev)) return next
    prev = next
  }
  throw new Error(`${dir} kept changing`)
}

describe('status and snap on a running etcd, then stopped', () => {
  let m: EtcdMember
  let memberHex: string
  let clusterHex: string
  beforeAll(async () => {
    m = await startEtcd({ name: 'live', host: '127.0.0.1', snapshotCount: 10 })
    for (let i = 0; i < 40; i++) await etcdctl(m.clientURL, ['put', `k${i}`, `v${i}`])
    // etcdctl prints uint64 IDs as bare JSON numbers: parse them exactly.
    const out = parseJsonBig(await etcdctl(m.clientURL, ['endpoint', 'status', '-w', 'json'])) as { Status: { header: { member_id: bigint; cluster_id: bigint } } }[]
    memberHex = out[0]!.Status.header.member_id.toString(16)
    clusterHex = out[0]!.Status.header.cluster_id.toString(16)
  })
  afterAll(async () => {
    await m?.stop()
  })

  it('while running: IN_USE via /proc/locks, members from the db, .snap cadence; not a byte changed', async () => {
    const before = await quiescentHash(m.dataDir)
    const s = cli('status', m.dataDir, '-w', 'json')
    expect(s.stderr).not.toMatch(/\n\s+at /)
    const st = JSON.parse(s.stdout)
    expect(st.inUse.checked).toBe(true)
    expect(st.inUse.held).toBe(true)
    const dbLock = st.inUse.locks.find((l: { file: string }) => l.file.endsWith('member/snap/db'))
    expect(dbLock).toMatchObject({ lockClass: 'FLOCK', access: 'WRITE', pid: m.pid, command: 'etcd' })
    // etcd 3.4 takes OFD locks on the WAL segments it writes; the holder is found through /proc/<pid>/fd.
    const walLock = st.inUse.locks.find((l: { file: string }) => l.file.endsWith('.wal'))
    expect(walLock).toMatchObject({ lockClass: 'OFDLCK', pid: m.pid, command: 'etcd' })
    expect(st.findings.map((f: { code: string }) => f.code)).toContain('in-use')
    expect(st.members.db.map((x: { idHex: string; name: string }) => [x.idHex, x.name])).toEqual([[memberHex, 'live']])
    expect(BigInt(st.consistentIndex)).toBeGreaterThan(40n)
    // The offline evidence of `check` must stay well under its 1 s budget.
    expect(st.elapsedMs).toBeLessThan(500)

    const sn = cli('snap', m.dataDir, '-w', 'json', '--snapshot-count', '10')
    expect(sn.status).toBe(0)
    const snap = JSON.parse(sn.stdout)
    expect(snap.snapshots.length).toBeGreaterThanOrEqual(3)
    for (const f of snap.snapshots) {
      expect(f).toMatchObject({ status: 'ok', crc: 'ok', term: '2', error: null })
      expect(f.confState.voters).toEqual([memberHex])
      expect(f.v2store.members.map((x: { idHex: string }) => x.idHex)).toEqual([memberHex])
      expect(f.v2store.clusterVersion).toBe('3.4.0')
    }
    expect(snap.cadence.consistentWithCount).toBe(true)
    expect(BigInt(snap.cadence.minDistance)).toBeGreaterThanOrEqual(11n)
    expect(snap.db.size).toBeGreaterThan(0)
    expect(hashTree(m.dataDir)).toEqual(before)
    void clusterHex
  })

  it('after stop: no locks, same snapshots, still read-only', async () => {
    const running = JSON.parse(cli('snap', m.dataDir, '-w', 'json').stdout)
    await m.stop()
    const before = hashTree(m.dataDir)
    const st = JSON.parse(cli('status', m.dataDir, '-w', 'json').stdout)
    expect(st.inUse).toEqual({ checked: true, held: false, locks: [] })
    expect(st.findings.map((f: { code: string }) => f.code)).not.toContain('in-use')
    const stopped = JSON.parse(cli('snap', m.dataDir, '-w', 'json').stdout)
    expect(stopped.snapshots.map((s: { file: string }) => s.file)).toEqual(running.snapshots.map((s: { file: string }) => s.file))
    expect(hashTree(m.dataDir)).toEqual(before)
  })
})
