/**
 * `compare` of dirs that hold a db but no WAL (issue 13): the real-world corpus's three members of
 * one 3.5 cluster (gsh3729 infra0-2) kept only member/snap/db. Such a dir has no member identity,
 * but its db opens, so it is hashed and compared: the offline hash must equal what real etcd 3.4
 * answers to `etcdctl endpoint hashkv --rev R` after `etcdctl snapshot restore` of that db (restore
 * rewrites meta and membership, never the `key` bucket HashKV covers). Beside member dirs, a
 * db-only dir is compared with the reference group but never becomes the restore source.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { copyFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { allocate, etcdctl, startEtcd, stopAll, tempDir, type EtcdMember } from '../support/etcd.js'
import { hashTree } from '../support/tree-hash.js'
import { runInProcess, unpackCorpus } from './corpus.js'

const INFRA = [0, 1, 2].map((i) => `gsh3729__twitter_distributed_system__64cb1cf__infra${i}`)

interface Row { dataDir: string; role: string; state: string; hash: number | null; revision: string | null; hashNote: string | null }

/** A dir holding only a copy of `db` (no WAL), as a restored or salvaged copy looks. */
function dbOnlyCopy(db: string): string {
  const d = join(tempDir('compare-dbonly-'), 'copy.etcd')
  mkdirSync(join(d, 'member/snap'), { recursive: true })
  copyFileSync(db, join(d, 'member/snap/db'))
  return d
}

describe('compare: dirs with a db but no WAL are hashed and compared', () => {
  let corpus: ReturnType<typeof unpackCorpus>
  let etcd: EtcdMember | undefined
  beforeAll(() => { corpus = unpackCorpus() })
  afterAll(async () => {
    await stopAll([etcd])
    corpus?.cleanup()
  })

  it('the three db-only members of one cluster: each hashed, CONSISTENT; the hash is real etcd\'s hashkv of the restored db', async () => {
    const dirs = INFRA.map((n) => join(corpus.root, n))
    const before = dirs.map((d) => hashTree(d))
    const r = await runInProcess(['compare', ...dirs, '-w', 'json'])
    expect(r.stderr).toBe('')
    const j = JSON.parse(r.stdout) as { verdict: string; hash: { revision: string; agree: boolean }; members: Row[]; restore: unknown }
    expect(j.members.map((m) => m.role)).toEqual(['no-wal', 'no-wal', 'no-wal'])
    for (const m of j.members) expect(m.hash).toEqual(expect.any(Number))
    expect(j.verdict).toBe('CONSISTENT')
    expect(r.code).toBe(0)
    expect(j.hash.agree).toBe(true)
    expect(j.members.map((m) => m.state)).toEqual(['consistent', 'consistent', 'consistent'])
    // The default revision: the lowest current revision of the dbs.
    expect(j.hash.revision).toBe(j.members.map((m) => BigInt(m.revision!)).reduce((a, b) => (b < a ? b : a)).toString())
    // No restore plan: without a WAL no dir says which member it is.
    expect(j.restore).toBeNull()
    expect(dirs.map((d) => hashTree(d))).toEqual(before)

    // Real etcd: restore infra0's db (a copy) and ask it.
    const a = await allocate('infra0')
    const restored = join(tempDir('compare-restored-'), 'infra0.etcd')
    const copy = join(tempDir('compare-dbcopy-'), 'db')
    copyFileSync(join(dirs[0]!, 'member/snap/db'), copy)
    await etcdctl(a.clientURL, ['snapshot', 'restore', copy, '--skip-hash-check', '--name', 'infra0', '--initial-cluster', `infra0=${a.peerURL}`,
      '--initial-advertise-peer-urls', a.peerURL, '--data-dir', restored])
    etcd = await startEtcd({ name: 'infra0', host: a.host, clientPort: a.clientPort, peerPort: a.peerPort, dataDir: restored, initialCluster: `infra0=${a.peerURL}` })
    const out = JSON.parse(await etcdctl(etcd.clientURL, ['endpoint', 'hashkv', '--rev', j.hash.revision, '-w', 'json'])) as { HashKV: { hash: number } }[]
    expect(j.members[0]!.hash).toBe(out[0]!.HashKV.hash)
    await etcd.stop()
    etcd = undefined
  }, 120_000)

  it('beside member dirs: a db-only copy of a member\'s db is consistent with it; the source stays a member', async () => {
    const copy = dbOnlyCopy('fixtures/cluster3/m1/member/snap/db')
    const r = await runInProcess(['compare', 'fixtures/cluster3/m1', 'fixtures/cluster3/m2', copy, '-w', 'json'])
    const j = JSON.parse(r.stdout) as { verdict: string; members: Row[]; restore: { source: string } | null }
    expect(j.members.map((m) => [m.role, m.state])).toEqual([['member', 'consistent'], ['member', 'consistent'], ['no-wal', 'consistent']])
    expect(j.members[2]!.hash).toBe(j.members[0]!.hash)
    expect(j.verdict).toBe('CONSISTENT')
    expect(r.code).toBe(0)
    expect(j.restore?.source).toMatch(/fixtures\/cluster3\/m[12]$/)
  })

  it('beside member dirs: a db-only dir with other data is DIVERGED (exit 40), with the first differing revision', async () => {
    const other = join(corpus.root, INFRA[0]!)
    const r = await runInProcess(['compare', 'fixtures/cluster3/m1', 'fixtures/cluster3/m2', other, '--rev', '40', '-w', 'json'])
    const j = JSON.parse(r.stdout) as { verdict: string; members: (Row & { divergence: { firstRevision: string | null } | null })[]; restore: { source: string } | null }
    expect(j.members.map((m) => [m.role, m.state])).toEqual([['member', 'consistent'], ['member', 'consistent'], ['no-wal', 'diverged']])
    expect(j.members[2]!.hash).not.toBe(j.members[0]!.hash)
    expect(j.members[2]!.divergence?.firstRevision).toEqual(expect.any(String))
    expect(j.verdict).toBe('DIVERGED')
    expect(r.code).toBe(40)
    expect(j.restore?.source).toMatch(/fixtures\/cluster3\/m[12]$/)
    const t = await runInProcess(['compare', 'fixtures/cluster3/m1', other, '--rev', '40'])
    expect(t.stdout).toMatch(/NO-WAL, DIVERGED at \d+/)
  })
})
