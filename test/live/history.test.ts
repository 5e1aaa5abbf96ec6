/**
 * `history` and `db get … key <key> --rev R` against a real etcd 3.4: puts, a lease, a txn (both
 * branches in the WAL, one taken), a delete and a re-create, a compaction, and requests made by an
 * authenticated user. `db get --rev` must equal `etcdctl get --rev` at every revision; the history
 * must list every revision the db holds joined to the WAL request that made it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { startEtcd, etcdctl, tempDir, type EtcdMember } from '../support/etcd.js'
import { hashTree } from '../support/tree-hash.js'
import { REPO_ROOT, runCli } from '../support/cli.js'
import { parseJsonExact } from '../../src/format/backend/json.js'

let m: EtcdMember
let auth: string[] = []
const json = (s: string): any => parseJsonExact(s)
const ctl = (args: string[]): Promise<string> => etcdctl(m.clientURL, [...auth, ...args])
const b64 = (s: string): string => Buffer.from(s).toString('base64')
let compactAt = 0n
let lastRev = 0n
let leaseHex = ''

async function rev(): Promise<bigint> {
  return BigInt(json(await etcdctl(m.clientURL, ['endpoint', 'status', '-w', 'json']))[0].Status.header.revision)
}

async function settle(): Promise<void> {
  let last = ''
  for (let i = 0; i < 60; i++) {
    await new Promise((r) => setTimeout(r, 300))
    const s = await etcdctl(m.clientURL, ['endpoint', 'status', '-w', 'json'])
    // The backend commits every 100 ms: stable status and stable db.
    const ci = String(json(runCli(['db', m.dataDir, '-w', 'json']).stdout).summary.consistentIndex)
    if (s + ci === last) return
    last = s + ci
  }
  throw new Error('etcd did not settle')
}

function history(args: string[]): any {
  const r = runCli(['history', m.dataDir, ...args, '-w', 'json'])
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  return json(r.stdout)
}

describe('history and db get --rev on a running etcd 3.4', () => {
  beforeAll(async () => {
    m = await startEtcd({ name: 'hist', dataDir: join(tempDir(), 'hist.etcd') })
    const step = (s: string) => process.env.DEBUG_HIST && console.log(new Date().toISOString(), s)
    await ctl(['put', '/h/a', 'v1'])
    await ctl(['put', '/h/b', 'b1'])
    const lease = await ctl(['lease', 'grant', '600'])
    leaseHex = /lease ([0-9a-f]+) granted/.exec(lease)![1]!
    await ctl(['put', '/h/a', 'v2', '--lease', leaseHex])
    // Compacting here drops v1 from the db; its WAL request stays.
    compactAt = await rev()
    await ctl(['compact', String(compactAt)])
    // Success branch taken: /h/a = v3, /h/b deleted; the failure branch would have put "never".
    await etcdctl(m.clientURL, ['txn'], undefined, 'value("/h/a") = "v2"\n\nput /h/a v3\ndel /h/b\n\nput /h/a never\n\n')
    // A txn whose compare fails: only the failure branch's put happens.
    await etcdctl(m.clientURL, ['txn'], undefined, 'value("/h/a") = "nope"\n\nput /h/a ignored\n\nput /h/c c1\n\n')
    await ctl(['del', '/h/a'])
    await ctl(['put', '/h/a', 'v4'])
    await ctl(['user', 'add', 'root:rootpw'])
    await ctl(['auth', 'enable'])
    auth = ['--user', 'root:rootpw']
    await ctl(['put', '/h/a', 'v5'])
    lastRev = await rev()
    step('settle')
    await settle()
    step('settled')
  }, 120_000)
  afterAll(async () => { await m?.stop() })

  it('db get key <key> --rev R equals etcdctl get --rev R at every revision; the data dir is not changed', async () => {
    // etcdctl with --user authenticates through raft (a WAL write): ask etcd first, then hash.
    const etcdSays = new Map<bigint, any>()
    for (let r = compactAt; r <= lastRev; r++) etcdSays.set(r, json(await ctl(['get', '/h/a', '--rev', String(r), '-w', 'json'])))
    await settle()
    const before = hashTree(m.dataDir)
    for (let r = compactAt; r <= lastRev; r++) {
      const theirs = etcdSays.get(r)
      const res = runCli(['db', 'get', m.dataDir, 'key', '/h/a', '--rev', String(r), '--show-values', '-w', 'json'])
      expect(res.stderr).toBe('')
      const ours = json(res.stdout)
      if (!theirs.kvs) {
        expect(ours.kv, `revision ${r}`).toBeNull()
        continue
      }
      const kv = theirs.kvs[0]
      expect({ rev: r, key: ours.kv.key.text, create: BigInt(ours.kv.createRevision), mod: BigInt(ours.kv.modRevision), version: BigInt(ours.kv.version),
        lease: BigInt('0x' + ours.kv.lease), value: b64(ours.kv.value.text) })
        .toEqual({ rev: r, key: '/h/a', create: BigInt(kv.create_revision), mod: BigInt(kv.mod_revision), version: BigInt(kv.version), lease: BigInt(kv.lease ?? 0), value: kv.value })
    }
    expect(hashTree(m.dataDir)).toEqual(before)
  }, 60_000)

  it('refuses a compacted or future revision like etcd (exit 2)', async () => {
    const c = runCli(['db', 'get', m.dataDir, 'key', '/h/a', '--rev', String(compactAt - 1n)])
    expect(c.code).toBe(2)
    expect(c.stderr).toMatch(/has been compacted/)
    await expect(ctl(['get', '/h/a', '--rev', String(compactAt - 1n)])).rejects.toThrow(/compacted/)
    const f = runCli(['db', 'get', m.dataDir, 'key', '/h/a', '--rev', String(lastRev + 5n)])
    expect(f.code).toBe(2)
    expect(f.stderr).toMatch(/future revision/)
  })

  it('history lists every revision of the key joined with the WAL request that made it, oldest first', () => {
    const before = hashTree(m.dataDir)
    const h = history(['/h/a'])
    expect(hashTree(m.dataDir)).toEqual(before)
    expect(h.source).toBe('scan')
    const revs = h.events.filter((e: any) => e.revision).map((e: any) => e.revision)
    // v1 was compacted away (its WAL request stays); v2, v3, the tombstone, v4, v5 are in the db.
    expect(revs.map((r: any) => r.tombstone ? 'del' : BigInt(r.version))).toEqual([2n, 3n, 'del', 1n, 2n])
    const mains = revs.map((r: any) => BigInt(r.main))
    expect([...mains].sort((a, b) => (a < b ? -1 : 1))).toEqual(mains)
    // Values are redacted by default: digest and class only.
    expect(revs[0].value.redacted).toBe(true)
    expect(revs[0].value.text).toBeUndefined()
    expect(revs[0].valueClass).toBe('text')
    // etcdctl prints leases %016x; results carry IDs unpadded (format/ids.ts): compare the numbers.
    expect(BigInt('0x' + revs[0].lease)).toBe(BigInt('0x' + leaseHex))
    expect(revs[0].lease).toMatch(/^[1-9a-f][0-9a-f]{0,15}$/)
    // Every db revision is joined with its WAL request; WAL indexes increase with revisions.
    const joined = h.events.filter((e: any) => e.revision)
    for (const e of joined) {
      expect(e.wal, e.revision.revision).toBeDefined()
      expect(e.wal.applied).toBe(true)
      expect(e.wal.committed).toBe(true)
      expect(e.wal.requestId).toMatch(/^[0-9a-f]+$/)
    }
    const idx = joined.map((e: any) => BigInt(e.wal.index))
    expect([...idx].sort((a, b) => (a < b ? -1 : 1))).toEqual(idx)
    const v3 = joined[1]
    expect(v3.wal).toMatchObject({ request: 'txn', op: 'put', txn: { branch: 'success', op: 0, compares: 1, success: 2, failure: 1 } })
    expect(joined[2].wal).toMatchObject({ op: 'deleteRange', request: 'deleteRange' })
    expect(joined[4].wal.username).toBe('root')
    // WAL requests without a revision: v1 (compacted), the failure branches, the ignored put.
    const lone = h.events.filter((e: any) => !e.revision)
    expect(lone.length).toBe(3)
    expect(lone[0].note).toMatch(/compacted/)
    expect(lone.filter((e: any) => e.wal.txn).map((e: any) => e.wal.txn.branch).sort()).toEqual(['failure', 'success'])
    // Oldest first overall: the compacted v1 request comes before v2.
    expect(BigInt(lone[0].wal.index)).toBeLessThan(BigInt(joined[0].wal.index))
  })

  it('--show-values prints values; --prefix covers every key under the prefix', () => {
    const h = history(['/h/a', '--show-values'])
    expect(h.events.filter((e: any) => e.revision && !e.revision.tombstone).map((e: any) => e.revision.value.text)).toEqual(['v2', 'v3', 'v4', 'v5'])
    const p = history(['/h/', '--prefix'])
    const keys = new Set(p.events.map((e: any) => e.key.text))
    expect([...keys].sort()).toEqual(['/h/a', '/h/b', '/h/c'])
    const b = p.events.filter((e: any) => e.key.text === '/h/b' && e.revision)
    // b1 was put before the compaction, then deleted by the txn: b1 stays (newest at the compaction), then the tombstone.
    expect(b.map((e: any) => e.revision.tombstone)).toEqual([false, true])
    expect(b[1].wal).toMatchObject({ request: 'txn', op: 'deleteRange', txn: { branch: 'success', op: 1 } })
    const c = p.events.filter((e: any) => e.key.text === '/h/c')
    expect(c.length).toBe(1)
    expect(c[0].wal.txn.branch).toBe('failure')
    expect(c[0].revision.version).toBe('1')
  })

  it('index: history through the LMDB index equals the scan; a changed db is not read through the old index', async () => {
    const state = tempDir('space-index-')
    const before = hashTree(m.dataDir)
    const built = runCli(['index', m.dataDir, '--state-dir', state, '-w', 'json'])
    expect(built.stderr).toBe('')
    const b = json(built.stdout)
    expect(b).toMatchObject({ reused: false, reason: 'new' })
    expect(b.indexPath.startsWith(state)).toBe(true)
    expect(b.wal.requests).toBeGreaterThan(0)
    expect(hashTree(m.dataDir)).toEqual(before)
    const strip = (h: any) => ({ ...h, source: undefined, elapsedMs: undefined, wal: { ...h.wal, source: undefined } })
    for (const args of [['/h/a'], ['/h/', '--prefix'], ['/h/c']]) {
      const viaIndex = history([...args, '--state-dir', state])
      expect(viaIndex.source).toBe('index')
      expect(viaIndex.wal.source).toBe('index')
      expect(strip(viaIndex)).toEqual(strip(history([...args, '--state-dir', state, '--no-index'])))
    }
    const at = json(runCli(['db', 'get', m.dataDir, 'key', '/h/a', '--rev', String(lastRev - 1n), '--state-dir', state, '-w', 'json']).stdout)
    expect(at.source).toBe('index')
    expect(at.kv).toEqual(json(runCli(['db', 'get', m.dataDir, 'key', '/h/a', '--rev', String(lastRev - 1n), '-w', 'json']).stdout).kv)
    expect(json(runCli(['index', m.dataDir, '--state-dir', state, '-w', 'json']).stdout)).toMatchObject({ reused: true })
    // The WAL pass in a worker thread (what a WAL of 64 MiB or more gets) builds the same index.
    const state2 = tempDir('space-index-')
    // The compiled build: from the sources the pool runs every job in this thread (workers/pool.ts).
    const { buildIndex } = await import(join(REPO_ROOT, 'dist', 'app', 'index.js')) as typeof import('../../src/app/index.js')
    const viaWorker = await buildIndex(m.dataDir, { stateDir: state2, walWorker: 'always' })
    expect(viaWorker.walWorker).toBe(true)
    const same = { indexPath: '', seconds: 0, dbSeconds: 0, walSeconds: 0, walWorker: undefined }
    expect({ ...viaWorker, ...same }).toEqual({ ...json(built.stdout), ...same })
    for (const args of [['/h/a'], ['/h/', '--prefix']]) {
      const h2 = history([...args, '--state-dir', state2])
      expect([h2.source, h2.wal.source]).toEqual(['index', 'index'])
      expect(strip(h2)).toEqual(strip(history([...args, '--state-dir', state])))
    }
    // The db moves on: the old index must not be used.
    await ctl(['put', '/h/a', 'v6'])
    await settle()
    const after = history(['/h/a', '--state-dir', state])
    expect(after.source).toBe('scan')
    expect(after.notes.join(' ')).toMatch(/built for another state of this db/)
    expect(after.events.filter((e: any) => e.revision).length).toBe(6)
    expect(json(runCli(['index', m.dataDir, '--state-dir', state, '-w', 'json']).stdout)).toMatchObject({ reused: false, reason: 'the db changed' })
    expect(history(['/h/a', '--state-dir', state]).source).toBe('index')
  }, 60_000)
})
