/**
 * Real etcd 3.4: our `db status` against etcd's own figures, equal and not approximate —
 * `etcdctl endpoint status -w json` (revision, raft index = consistent index, db size) on the db of
 * the running member, and `etcdctl snapshot status -w json` (hash, revision, totalKey, totalSize)
 * on a file saved by `etcdctl snapshot save`. Every command must leave the data dir byte-identical,
 * including while etcd runs on it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { copyFileSync, existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { startEtcd, etcdctl, tempDir, type EtcdMember } from '../support/etcd.js'
import { hashTree } from '../support/tree-hash.js'
import { runCli } from '../support/cli.js'
import { parseJsonExact } from '../../src/format/backend/json.js'

const ROOT_PW = 'rootpw-123'
let m: EtcdMember
let auth: string[] = []
const ctl = (args: string[]): Promise<string> => etcdctl(m.clientURL, [...auth, ...args])

async function quiesce(): Promise<Record<string, unknown>> {
  // The backend commits every 100 ms; wait until revision and raft index are stable and on disk.
  let last = ''
  for (let i = 0; i < 50; i++) {
    await new Promise((r) => setTimeout(r, 300))
    // Without --user: in 3.4 every authentication is a raft entry, which would move the raft index.
    const s = await etcdctl(m.clientURL, ['endpoint', 'status', '-w', 'json'])
    if (s === last) return (parseJsonExact(s) as Record<string, unknown>[])[0]!.Status as Record<string, unknown>
    last = s
  }
  throw new Error('etcd did not settle')
}

const json = (s: string): any => parseJsonExact(s)

describe('db against a running etcd 3.4', () => {
  let dataDir: string
  let learnerHex = ''
  let learnerSeen: any[] = []
  beforeAll(async () => {
    m = await startEtcd({ name: 'dblive', dataDir: join(tempDir(), 'dblive.etcd') })
    dataDir = m.dataDir
    for (let i = 0; i < 20; i++) await ctl(['put', `/registry/k${i % 7}`, `value-${i}`])
    await ctl(['del', '/registry/k3'])
    await ctl(['del', '/registry/k4'])
    const lease = await ctl(['lease', 'grant', '600'])
    const leaseId = /lease ([0-9a-f]+) granted/.exec(lease)![1]!
    await ctl(['put', '--lease', leaseId, '/leased', 'x'])
    await ctl(['lease', 'grant', '900'])
    // Compact at a revision in the middle of the history.
    const rev = BigInt(json(await ctl(['endpoint', 'status', '-w', 'json']))[0].Status.header.revision)
    await ctl(['compact', String(rev - 5n)])
    // A member change: add a learner (no quorum change in a 1-node cluster), then remove it.
    const add = await ctl(['member', 'add', 'learner1', '--learner', '--peer-urls', 'http://127.0.0.1:1'])
    learnerHex = /Member\s+([0-9a-f]+) added/.exec(add)![1]!
    // While it is a member, the db lists it as a learner (members bucket JSON `isLearner`).
    await ctl(['put', '/after-learner', 'x'])
    await quiesce()
    learnerSeen = json(runCli(['db', 'status', m.dataDir, '-w', 'json']).stdout).members
    await ctl(['member', 'remove', learnerHex])
    // Auth: root user and role, an extra user with a role, then enable.
    await ctl(['user', 'add', `root:${ROOT_PW}`])
    await ctl(['role', 'add', 'reader'])
    await ctl(['role', 'grant-permission', 'reader', 'read', '/registry/', '--prefix'])
    await ctl(['user', 'add', 'alice:alicepw'])
    await ctl(['user', 'grant-role', 'alice', 'reader'])
    await ctl(['auth', 'enable'])
    auth = ['--user', `root:${ROOT_PW}`]
    // End on a kv write, so the last applied entry is the one whose index the backend saved.
    await ctl(['put', '/final', 'done'])
  })
  afterAll(async () => { await m?.stop() })

  it('db status on the live db equals etcdctl endpoint status (revision, raft index, db size)', async () => {
    const st = await quiesce()
    const before = hashTree(dataDir)
    const r = runCli(['db', 'status', dataDir, '-w', 'json'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    const ours = json(r.stdout)
    expect(hashTree(dataDir)).toEqual(before)
    expect(ours.revision).toBe(String((st.header as any).revision))
    expect(ours.consistentIndex).toBe(String(st.raftIndex))
    expect(ours.consistentIndex).toBe(String(st.raftAppliedIndex))
    expect(ours.dataSize).toBe(Number(st.dbSize))
    expect(ours.live.moved).toBe(false)
    // Schema facts we wrote.
    expect(ours.compactRevision).not.toBe('0')
    expect(ours.leases).toHaveLength(2)
    expect(ours.auth.enabled).toBe(true)
    expect(ours.auth.users.map((u: any) => u.name).sort()).toEqual(['alice', 'root'])
    expect(JSON.stringify(ours.auth.users)).not.toMatch(/\$2a\$/) // no bcrypt hash anywhere
    expect(ours.auth.users.find((u: any) => u.name === 'alice').password).toBe('<redacted>')
    expect(ours.auth.roles.map((x: any) => x.name).sort()).toEqual(['reader', 'root'])
    expect(ours.removedMembers).toEqual([learnerHex])
    expect(learnerSeen.find((x: any) => x.id === learnerHex)).toMatchObject({ id: learnerHex, isLearner: true, peerURLs: ['http://127.0.0.1:1'], name: '' })
    const list = json(await ctl(['member', 'list', '-w', 'json']))
    const live = list.members[0]
    expect(ours.members).toHaveLength(1)
    expect(ours.members[0].id).toBe(BigInt(live.ID).toString(16))
    expect(ours.members[0]).not.toHaveProperty('idDecimal')
    expect(ours.members[0].name).toBe('dblive')
    expect(ours.members[0].peerURLs).toEqual(live.peerURLs)
    expect(ours.members[0].clientURLs).toEqual(live.clientURLs)
    expect(ours.members[0].isLearner).toBe(false)
    expect(ours.keys.liveKeys).toBe(8) // k0..k6 minus k3,k4, + /leased + /after-learner + /final
  })

  it('every db command leaves the data dir of the running etcd byte-identical', async () => {
    await quiesce()
    const before = hashTree(dataDir)
    const cmds = [
      ['db', dataDir], ['db', 'status', dataDir], ['db', 'check', dataDir], ['db', 'buckets', dataDir],
      ['db', 'keys', dataDir, 'key'], ['db', 'keys', dataDir, 'authUsers', '-w', 'json'], ['db', 'get', dataDir, 'meta', 'consistent_index'],
      ['db', 'keys', dataDir, 'key', '--limit', '0', '-w', 'ndjson'], ['db', 'keys', dataDir, 'meta', '--limit', '0', '-w', 'simple'],
    ]
    for (const c of cmds) {
      const r = runCli(c)
      expect({ c, code: r.code, stderr: r.stderr }).toEqual({ c, code: 0, stderr: '' })
    }
    expect(hashTree(dataDir)).toEqual(before)
  })

  it('db check on the live db is clean (freelist not persisted, as etcd writes on Linux)', async () => {
    await quiesce()
    const r = runCli(['db', 'check', dataDir, '-w', 'json'])
    expect(r.code).toBe(0)
    const c = json(r.stdout).check
    expect(c.ok).toBe(true)
    expect(c.freelistPersisted).toBe(false)
  })

  it('db status on an `etcdctl snapshot save` file equals etcdctl snapshot status', async () => {
    await quiesce()
    const dir = tempDir('db-snap-')
    const snap = join(dir, 'snapshot.db')
    await ctl(['snapshot', 'save', snap])
    expect(statSync(snap).size % 512).toBe(32)
    const before = hashTree(dir)
    const r = runCli(['db', 'status', snap, '-w', 'json'])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(hashTree(dir)).toEqual(before)
    const ours = json(r.stdout)
    expect(ours.snapshotTrailer.present).toBe(true)
    expect(ours.snapshotTrailer.verified.ok).toBe(true)
    // etcdctl 3.4 opens the file read-write (bbolt may commit a freelist): give it a copy.
    const copy = join(dir, 'copy.db')
    copyFileSync(snap, copy)
    const theirs = json(await etcdctl(m.clientURL, ['snapshot', 'status', copy, '-w', 'json']))
    expect({ hash: ours.hash, revision: ours.revision, totalKey: ours.totalKey, totalSize: ours.totalSize }).toEqual({
      hash: Number(theirs.hash), revision: String(theirs.revision), totalKey: Number(theirs.totalKey), totalSize: Number(theirs.totalSize),
    })
    // check on the snapshot verifies the trailer.
    const c = runCli(['db', 'check', snap, '-w', 'json'])
    expect(c.code).toBe(0)
    expect(json(c.stdout).snapshotTrailer.verified.ok).toBe(true)
    expect(existsSync(snap)).toBe(true)
  })

  it('reading while etcd writes never crashes and reports the view it read', async () => {
    let stop = false
    const writer = (async () => {
      let i = 0
      while (!stop) await ctl(['put', `/churn/${i++ % 50}`, 'x'.repeat(2000)])
    })()
    let ok = 0
    try {
      for (let i = 0; i < 5; i++) {
        const r = runCli(['db', 'status', m.dataDir, '-w', 'json'])
        expect(r.stderr).not.toMatch(/internal error|at .*\.js:\d+/)
        if (r.code === 0) {
          const s = json(r.stdout)
          expect(typeof s.live.moved).toBe('boolean')
          ok++
        } else {
          expect(r.code).toBe(4)
          expect(r.stderr.trim().split('\n')).toHaveLength(1)
        }
      }
    } finally {
      stop = true
      await writer
    }
    expect(ok).toBeGreaterThan(0)
  })

  it('streaming db keys while etcd writes: every line is a whole entry, at most one warning or error line', async () => {
    let stop = false
    const writer = (async () => {
      let i = 0
      while (!stop) await ctl(['put', `/churn-stream/${i++ % 50}`, 'y'.repeat(2000)])
    })()
    let ok = 0
    try {
      for (let i = 0; i < 4; i++) {
        const r = runCli(['db', 'keys', m.dataDir, 'key', '--limit', '0', '-w', 'ndjson'])
        expect(r.stderr).not.toMatch(/internal error|at .*\.js:\d+/)
        expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(1)
        if (r.code === 0) {
          const lines = r.stdout.trimEnd().split('\n')
          for (const l of lines) expect(JSON.parse(l).revision.main).toMatch(/^\d+$/)
          ok++
        } else {
          expect(r.code).toBe(4)
        }
      }
    } finally {
      stop = true
      await writer
    }
    expect(ok).toBeGreaterThan(0)
  })
})

describe('alarms written by a running etcd 3.4', () => {
  let e: EtcdMember | undefined
  afterAll(async () => { await e?.stop() })
  it('a NOSPACE alarm in the db equals etcdctl alarm list', async () => {
    e = await startEtcd({ name: 'dbalarm', dataDir: join(tempDir(), 'dbalarm.etcd'), extraArgs: ['--quota-backend-bytes', String(256 * 1024)] })
    const big = 'x'.repeat(100 * 1024)
    for (let i = 0; i < 20; i++) {
      try {
        await etcdctl(e.clientURL, ['put', `/fill/${i}`, big])
      } catch (err) {
        expect((err as Error).message).toMatch(/database space exceeded/)
        break
      }
    }
    const list = await etcdctl(e.clientURL, ['alarm', 'list'])
    const m = /memberID:(\d+) alarm:NOSPACE/.exec(list)
    expect(m).not.toBeNull()
    // The alarm is stored by the backend's next commit (100 ms batch interval).
    let s: any
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 200))
      const r = runCli(['db', 'status', e.dataDir, '-w', 'json'])
      expect(r.code).toBe(0)
      s = json(r.stdout)
      if (s.alarms.length > 0) break
    }
    expect(s.alarms).toEqual([{ memberId: BigInt(m![1]!).toString(16), alarm: 'NOSPACE' }])
  })
})
