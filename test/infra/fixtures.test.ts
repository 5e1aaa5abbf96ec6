import { afterAll, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import {
  FIXTURES_DIR, SEGMENT_SIZE, allDataDirs, extractMultiseg, fixture, listFixtures, materialize, type DataDirManifest,
} from '../support/fixtures.js'
import { hashTree } from '../support/tree-hash.js'
import { etcdctl, startEtcd, type EtcdMember } from '../support/etcd.js'

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
const WAL_NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/
const SNAP_NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/
const HEX_ID = /^[1-9a-f][0-9a-f]{0,15}$/

function filesUnder(root: string, rel = ''): string[] {
  return readdirSync(join(root, rel)).sort().flatMap((n) => {
    const r = rel ? `${rel}/${n}` : n
    return statSync(join(root, r)).isDirectory() ? filesUnder(root, r) : [r]
  })
}

/** Independent frame walk: offset after the last frame (stops at a zero length word or EOF). */
function framesEnd(buf: Buffer): number {
  let off = 0
  while (off + 8 <= buf.length) {
    const w = buf.readBigUInt64LE(off)
    if (w === 0n) break
    const len = Number(w & 0xffffffffffffffn)
    const pad = w >> 63n ? Number((w >> 56n) & 7n) : 0
    off += 8 + len + pad
  }
  return off
}

/** etcd's member ID: first 8 bytes (BE) of SHA-1(sorted peer URLs ‖ token) for bootstrap members. */
function memberIdOf(peerURLs: string[], token: string): string {
  const h = createHash('sha1').update(Buffer.from([...peerURLs].sort().join('') + token)).digest()
  return h.readBigUInt64BE(0).toString(16)
}
/** etcd's cluster ID: first 8 bytes (BE) of SHA-1(sorted member IDs as 8-byte BE). */
function clusterIdOf(ids: string[]): string {
  const sorted = ids.map((i) => BigInt('0x' + i)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  const b = Buffer.alloc(8 * sorted.length)
  sorted.forEach((id, i) => b.writeBigUInt64BE(id, 8 * i))
  return createHash('sha1').update(b).digest().readBigUInt64BE(0).toString(16)
}

function checkDataDir(dir: string, m: DataDirManifest): void {
  // the committed files are exactly the MANIFEST's, byte for byte
  expect(filesUnder(dir)).toEqual(m.files.map((f) => f.path).sort())
  for (const f of m.files) {
    const buf = readFileSync(join(dir, f.path))
    expect(buf.length, f.path).toBe(f.size)
    expect(sha256(buf), f.path).toBe(f.sha256)
  }
  expect(existsSync(join(dir, 'member/wal'))).toBe(true)
  expect(existsSync(join(dir, 'member/snap/db'))).toBe(true)
  // files named as etcd names them
  const wals = readdirSync(join(dir, 'member/wal')).filter((n) => n.endsWith('.wal')).sort()
  expect(wals.length).toBeGreaterThan(0)
  expect(wals).toEqual(m.walSegments.map((w) => w.file))
  wals.forEach((w, i) => {
    const [, seq, index] = WAL_NAME.exec(w)!
    expect(BigInt('0x' + seq)).toBe(BigInt(i))
    if (i === 0) expect(index).toBe('0'.repeat(16))
    expect(BigInt('0x' + index!).toString()).toBe(m.walSegments[i]!.index)
  })
  for (const n of readdirSync(join(dir, 'member/wal'))) expect(n).toMatch(/^([0-9a-f]{16}-[0-9a-f]{16}\.wal|\d\.tmp)$/)
  for (const n of readdirSync(join(dir, 'member/snap'))) expect(n).toMatch(/^(db|[0-9a-f]{16}-[0-9a-f]{16}\.snap)$/)
  const snaps = readdirSync(join(dir, 'member/snap')).filter((n) => SNAP_NAME.test(n)).sort()
  expect(snaps).toEqual(m.snapFiles.map((s) => s.file))
  for (const s of m.snapFiles) {
    const [, term, index] = SNAP_NAME.exec(s.file)!
    expect(BigInt('0x' + term!).toString()).toBe(s.term)
    expect(BigInt('0x' + index!).toString()).toBe(s.index)
  }
  // segment sizes: the last one trimmed from 64,000,000 bytes, zeros only dropped
  wals.forEach((w, i) => {
    const f = m.files.find((x) => x.path === `member/wal/${w}`)!
    const buf = readFileSync(join(dir, f.path))
    const end = framesEnd(buf)
    expect(end, w).toBe(f.recordsEnd)
    expect(end, w).toBeGreaterThan(0)
    if (i === wals.length - 1) {
      expect(f.kind).toBe('wal-last-segment-trimmed')
      expect(f.originalSize).toBe(SEGMENT_SIZE)
      expect(m.walSegments[i]!.size).toBe(SEGMENT_SIZE)
      expect(f.size).toBeLessThan(f.originalSize)
      expect(f.size % 4096).toBe(0)
      expect(f.size).toBeGreaterThanOrEqual(end + 8)
      expect(buf.subarray(end).every((b) => b === 0)).toBe(true)
    } else {
      expect(f.size).toBe(f.originalSize)
      expect(f.size).toBeGreaterThanOrEqual(SEGMENT_SIZE)
      expect(end).toBe(f.size)
    }
  })
  for (const t of m.walTmpFiles) expect(statSync(join(dir, 'member/wal', t.file)).size).toBe(0)
  expect(m.memberId).toMatch(HEX_ID)
  expect(m.clusterId).toMatch(HEX_ID)
}

describe('committed fixtures', () => {
  it('are discovered: single, cluster3, multiseg', () => {
    const names = listFixtures().map((f) => f.name)
    expect(names).toEqual(expect.arrayContaining(['single', 'cluster3', 'multiseg']))
    expect(fixture('single').dataDirs.data).toBe(join(FIXTURES_DIR, 'single', 'data'))
    expect(Object.keys(fixture('cluster3').dataDirs).sort()).toEqual(['m1', 'm2', 'm3', 'm3-removed', 'm4'])
  })

  for (const d of allDataDirs()) {
    it(`${d.fixture}/${d.key} matches its MANIFEST (names, sizes, hashes, trimmed last segment)`, () => {
      checkDataDir(d.dir, d.manifest)
    })
  }

  it('keep the committed size small', () => {
    let total = 0
    for (const f of filesUnder(FIXTURES_DIR)) total += statSync(join(FIXTURES_DIR, f)).size
    expect(total).toBeLessThan(3_000_000)
  })
})

describe('fixtures/single ground truth', () => {
  const f = fixture('single')
  const m = f.manifest as Record<string, any>

  it('has IDs that etcd derives from the peer URL and token', () => {
    expect(m.memberId).toBe(memberIdOf([m.flags.peerURL], m.flags.initialClusterToken))
    expect(m.clusterId).toBe(clusterIdOf([m.memberId]))
    expect(m.members).toHaveLength(1)
    expect(m.members[0].id).toBe(m.memberId)
    expect(m.etcdctl['member list -w simple']).toContain(`${m.memberId}, started, single,`)
  })

  it('has revisions, keys, leases and snapshots consistent with each other', () => {
    const rev = BigInt(m.revision)
    const compact = BigInt(m.compactRevision)
    expect(compact).toBeGreaterThan(0n)
    expect(compact).toBeLessThan(rev)
    expect(m.keyCount).toBe(m.keys.length)
    expect(m.kvs.map((kv: any) => kv.key)).toEqual(m.keys)
    for (const kv of m.kvs) expect(BigInt(kv.modRevision)).toBeLessThanOrEqual(rev)
    expect(m.keys).toEqual(expect.arrayContaining(['/registry/pods/default/pi-dqtsw', '/registry/jobs/default/pi', '/registry/secrets/default/db-credentials', '/demo/binary', '/lease/long']))
    expect(m.keys).not.toContain('/del/one')
    expect(m.keys).not.toContain('/lease/short')
    const pod = m.kvs.find((kv: any) => kv.key === '/registry/pods/default/pi-dqtsw')
    expect(pod.valueSha256).toBe(sha256(readFileSync('/work/shared/testdata/k8s/pod.value.bin')))
    expect(m.leases).toHaveLength(1)
    expect(m.leases[0].keys).toEqual(['/lease/long'])
    expect(m.kvs.find((kv: any) => kv.key === '/lease/long').lease).toBe(m.leases[0].id)
    const snaps = m.dataDirs.data.snapFiles
    expect(snaps.length).toBeGreaterThanOrEqual(3)
    expect(BigInt(snaps.at(-1).index)).toBeLessThanOrEqual(BigInt(m.raftIndex))
    // 3.4 snapshots when applied - last snapshot > snapshot-count
    for (let i = 1; i < snaps.length; i++) expect(BigInt(snaps[i].index) - BigInt(snaps[i - 1].index)).toBe(BigInt(m.flags.snapshotCount + 1))
  })

  it('has a snapshot.db with a valid SHA-256 trailer and the etcdctl snapshot status figures', () => {
    const buf = readFileSync(join(f.dir, 'snapshot.db'))
    expect(buf.length).toBe(m.snapshotDb.size)
    expect(buf.length % 512).toBe(32)
    expect(sha256(buf.subarray(0, buf.length - 32))).toBe(buf.subarray(buf.length - 32).toString('hex'))
    expect(m.snapshotDb.revision).toBe(m.revision)
    expect(m.snapshotDb.totalSize).toBe(buf.length - 32)
    expect(m.snapshotDb.totalKey).toBeGreaterThan(m.keyCount)
  })
})

describe('fixtures/cluster3 ground truth', () => {
  const m = fixture('cluster3').manifest as Record<string, any>
  const ev = (step: string) => m.events.find((e: any) => e.step === step)

  it('records the bootstrap IDs etcd derives, the removal, the re-add and the promoted learner', () => {
    const boot = ev('bootstrap')
    for (const b of boot.members) expect(b.id).toBe(memberIdOf([b.peerURL], m.flags.initialClusterToken))
    expect(m.clusterId).toBe(clusterIdOf(boot.members.map((b: any) => b.id)))
    const old = boot.members.find((b: any) => b.name === 'm3')
    expect(ev('remove').id).toBe(old.id)
    expect(m.removedMembers).toEqual([old.id])
    const add = ev('add')
    expect(add.id).not.toBe(old.id)
    expect(add.peerURL).toBe(old.peerURL)
    const ids = m.members.map((x: any) => x.id).sort()
    expect(ids).toEqual([boot.members[0].id, boot.members[1].id, add.id, ev('add-learner').id].sort())
    expect(m.members.every((x: any) => x.isLearner === false)).toBe(true)
    expect(m.dataDirs['m3-removed'].memberId).toBe(old.id)
    expect(m.dataDirs.m3.memberId).toBe(add.id)
    expect(m.dataDirs.m4.memberId).toBe(ev('promote').id)
    for (const e of m.endpoints) expect(e.clusterId).toBe(m.clusterId)
    for (const d of Object.values(m.dataDirs) as any[]) expect(d.clusterId).toBe(m.clusterId)
  })
})

describe('materialize()', () => {
  it('copies single into a temp dir; fullSize pads the last segment back to 64,000,000 zero-tailed bytes', () => {
    const f = fixture('single')
    const before = hashTree(f.dir)
    const trimmed = materialize('single')
    const full = materialize('single', { fullSize: true })
    try {
      expect(trimmed.dataDir.startsWith(FIXTURES_DIR)).toBe(false)
      const seg = f.manifest.dataDirs.data!.files.find((x) => x.kind === 'wal-last-segment-trimmed')!
      const committed = readFileSync(join(f.dataDirs.data!, seg.path))
      expect(statSync(join(trimmed.dataDir, seg.path)).size).toBe(seg.size)
      const padded = readFileSync(join(full.dataDir, seg.path))
      expect(padded.length).toBe(SEGMENT_SIZE)
      expect(padded.subarray(0, committed.length).equals(committed)).toBe(true)
      expect(padded.subarray(committed.length).every((b) => b === 0)).toBe(true)
      expect(framesEnd(padded)).toBe(seg.recordsEnd)
      expect(statSync(full.dataDir).mode & 0o777).toBe(0o700)
      expect(existsSync(join(full.root, 'snapshot.db'))).toBe(true)
    } finally {
      trimmed.cleanup()
      full.cleanup()
    }
    expect(existsSync(trimmed.root)).toBe(false)
    expect(hashTree(f.dir)).toEqual(before)
  })

  describe('a full-size copy of single is a data dir etcd 3.4 starts from', () => {
    let e: EtcdMember | undefined
    afterAll(async () => { await e?.stop() })
    it('serves the MANIFEST revision, keys and lease', async () => {
      const mat = materialize('single', { fullSize: true })
      const m = mat.manifest as Record<string, any>
      e = await startEtcd({ name: 'single', dataDir: mat.dataDir })
      const status = await etcdctl(e.clientURL, ['endpoint', 'status', '-w', 'json'])
      expect(status).toContain(`"revision":${m.revision},`)
      const keys = await etcdctl(e.clientURL, ['get', '', '--prefix', '--keys-only', '-w', 'json'])
      expect(keys).toContain(`"count":${m.keyCount}`)
      expect(await etcdctl(e.clientURL, ['member', 'list', '-w', 'simple'])).toContain(`${m.memberId}, started, single,`)
      expect(await etcdctl(e.clientURL, ['lease', 'list'])).toContain(m.leases[0].id)
      await expect(etcdctl(e.clientURL, ['get', '/demo/hello', `--rev=${BigInt(m.compactRevision) - 1n}`])).rejects.toThrow(/compacted/)
      await e.stop()
      mat.cleanup()
    })
  })
})

describe('extractMultiseg()', () => {
  it('extracts a WAL with at least two full 64,000,000-byte segments matching the MANIFEST', () => {
    const f = fixture('multiseg')
    expect(f.archived).toBe(true)
    const archive = readFileSync(join(f.dir, f.manifest.archive!.file))
    expect(sha256(archive)).toBe(f.manifest.archive!.sha256)
    expect(archive.length).toBeLessThan(2_000_000)
    const x = extractMultiseg()
    try {
      const dm = f.manifest.dataDirs.data!
      expect(filesUnder(x.dataDir)).toEqual(dm.files.map((y) => y.path).sort())
      const wals = dm.walSegments
      expect(wals.length).toBeGreaterThanOrEqual(3)
      for (const w of wals.slice(0, -1)) expect(statSync(join(x.dataDir, 'member/wal', w.file)).size).toBeGreaterThanOrEqual(SEGMENT_SIZE)
      expect(statSync(join(x.dataDir, 'member/wal', wals.at(-1)!.file)).size).toBe(SEGMENT_SIZE)
      for (const file of dm.files) {
        const buf = readFileSync(join(x.dataDir, file.path))
        expect(sha256(buf), file.path).toBe(file.sha256)
        if (file.path.endsWith('.wal')) expect(framesEnd(buf), file.path).toBe(file.recordsEnd)
      }
      // each later segment is named after the first index it expects, seq + 1
      wals.forEach((w, i) => expect(BigInt(w.seq)).toBe(BigInt(i)))
      expect(BigInt(wals[1]!.index)).toBeGreaterThan(0n)
    } finally {
      x.cleanup()
    }
  })
})
