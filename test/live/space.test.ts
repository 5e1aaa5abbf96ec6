/**
 * `db space` against a real etcd 3.4: per-prefix figures against etcd's own counts, and the
 * compact + defrag forecast against what etcd does: the revisions a `compact R` keeps are counted
 * exactly (the db read again after etcd compacted), and the data size after a real
 * `etcdctl compact` + `etcdctl defrag` is within 10 % of the forecast. The data dir is read while
 * etcd runs and must stay byte-identical.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { Etcd3 } from 'etcd3'
import { startEtcd, etcdctl, tempDir, type EtcdMember } from '../support/etcd.js'
import { hashTree } from '../support/tree-hash.js'
import { runCli } from '../support/cli.js'
import { parseJsonExact } from '../../src/format/backend/json.js'

let m: EtcdMember
let client: Etcd3
const json = (s: string): any => parseJsonExact(s)
const ctl = (args: string[]): Promise<string> => etcdctl(m.clientURL, args)

async function endpointStatus(): Promise<any> {
  return json(await ctl(['endpoint', 'status', '-w', 'json']))[0].Status
}

/** Waits until the backend committed everything (it commits every 100 ms) and the compaction finished. */
async function settle(compactRev?: bigint): Promise<void> {
  let last = ''
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 300))
    const s = JSON.stringify(await endpointStatus())
    const info = runCli(['db', m.dataDir, '-w', 'json'])
    const done = compactRev === undefined || BigInt(json(info.stdout).summary.compactRevision) === compactRev
    if (s === last && done) return
    last = s
  }
  throw new Error('etcd did not settle')
}

function space(args: string[] = []): any {
  const r = runCli(['db', 'space', m.dataDir, '-w', 'json', ...args])
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  return json(r.stdout)
}

const PODS = 1200
const DELETED = 150

describe('db space on a running etcd 3.4', () => {
  beforeAll(async () => {
    m = await startEtcd({ name: 'space', dataDir: join(tempDir(), 'space.etcd') })
    client = new Etcd3({ hosts: m.clientURL })
    // Pods with 4 revisions each, 250-300 byte values.
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < PODS; i += 100) {
        await Promise.all(Array.from({ length: 100 }, (_, j) =>
          client.put(`/registry/pods/ns-${(i + j) % 5}/pod-${i + j}`).value(randomBytes(250 + ((i + j) % 50)))))
      }
    }
    for (let i = 0; i < DELETED; i++) await client.delete().key(`/registry/pods/ns-${i % 5}/pod-${i}`)
    for (let i = 0; i < 3; i++) await client.put(`/registry/apiregistration.k8s.io/apiservices/v1.g${i}`).value('x'.repeat(400))
    const lease = client.lease(600, { autoKeepAlive: false })
    for (let i = 0; i < 20; i++) await lease.put(`/app/leased-${i}`).value(`v${i}`)
    await client.if('/app/leased-0', 'Value', '==', 'v0').then(client.put('/app/txn-a').value('a'), client.put('/app/txn-b').value('b')).commit()
    await settle()
  }, 240_000)
  afterAll(async () => {
    client?.close()
    await m?.stop()
  })

  it('prefixes, live keys and tombstones match what etcd holds; the data dir is not changed', async () => {
    const before = hashTree(m.dataDir)
    const s = space()
    expect(hashTree(m.dataDir)).toEqual(before)
    const count = BigInt(await client.getAll().count())
    expect(BigInt(s.totals.liveKeys)).toBe(count)
    const pods = s.prefixes.find((p: any) => p.prefix === '/registry/pods/')
    expect(pods).toMatchObject({ keys: PODS, liveKeys: PODS - DELETED, revisions: PODS * 4 + DELETED, tombstones: DELETED, historyRevisions: PODS * 3 + DELETED })
    expect(s.prefixes.find((p: any) => p.prefix === '/registry/apiregistration.k8s.io/apiservices/')).toMatchObject({ keys: 3, liveKeys: 3 })
    expect(s.prefixes.find((p: any) => p.prefix === '/app/')).toMatchObject({ keys: 22, liveKeys: 22 })
    expect(s.prefixes[0].prefix).toBe('/registry/pods/')
    expect(s.mostRevisions[0].revisions).toBe(5)
    expect(s.mostRevisions[0].deleted).toBe(true)
    expect(BigInt(s.revision)).toBe(BigInt((await endpointStatus()).header.revision))
    // etcd 3.4 reports dbSize as pgid * pageSize.
    expect(s.dataSize).toBe(Number((await endpointStatus()).dbSize))
    // Page accounting adds up.
    expect(s.pages.reachable + s.pages.free).toBe(s.pages.total)
    expect(s.sizeInUse).toBe(s.dataSize - s.pages.freeBytes)
  })

  it('the revisions a compaction at R keeps are the forecast, exactly; compact + defrag lands within 10 % of the forecast size', async () => {
    const rev = BigInt((await endpointStatus()).header.revision)
    const mid = rev - BigInt(PODS) - 100n
    const atMid = space(['--at-revision', String(mid)])
    expect(BigInt(atMid.forecast.atRevision)).toBe(mid)
    expect(atMid.forecast.keptRevisions).toBeLessThan(atMid.totals.revisions)
    await ctl(['compact', String(mid)])
    await settle(mid)
    const afterMid = space()
    expect(afterMid.totals.revisions).toBe(atMid.forecast.keptRevisions)
    expect(afterMid.totals.bytes).toBe(atMid.forecast.keptBytes)

    // Now the whole history: compact at the current revision and defragment.
    const s = space(['--quota-backend-bytes', String(2 ** 31)])
    expect(s.quota).toMatchObject({ quotaBackendBytes: 2 ** 31, used: s.dataSize, room: 2 ** 31 - s.dataSize })
    expect(s.forecast.keptRevisions).toBe(s.totals.liveKeys)
    await ctl(['compact', String(rev)])
    await settle(rev)
    await ctl(['defrag'])
    await settle()
    const real = Number((await endpointStatus()).dbSize)
    const after = space()
    expect(after.totals.revisions).toBe(s.forecast.keptRevisions)
    expect(after.dataSize).toBe(real)
    const err = Math.abs(real - s.forecast.bytes) / real
    console.log(`forecast ${s.forecast.bytes} (${s.forecast.pages} pages), real after compact+defrag ${real}: ${(err * 100).toFixed(1)} % off; before ${s.dataSize}`)
    expect(err).toBeLessThan(0.1)
    expect(s.dataSize).toBeGreaterThan(real * 2)
  }, 120_000)

  it('refuses a forecast revision outside the db (exit 2)', () => {
    const r = runCli(['db', 'space', m.dataDir, '--at-revision', '999999999'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--at-revision 999999999 is outside the revisions this db holds/)
  })
})
