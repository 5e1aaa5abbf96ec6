import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { openFile } from '../../src/io/byte-source.js'
import { BoltFile } from '../../src/format/bbolt/file.js'
import { bucket, iterate } from '../../src/format/bbolt/walk.js'
import { readSummary, readDetails } from '../../src/format/backend/schema.js'
import { snapshotStatus } from '../../src/format/backend/hash.js'
import { decodeRevision, encodeRevision, revisionLabel } from '../../src/format/backend/revision.js'
import { decodeEntry, parseKeyArg } from '../../src/format/backend/entry.js'
import { parseJsonExact, toBigInt } from '../../src/format/backend/json.js'
import { decodeMember } from '../../src/format/backend/members.js'
import { decodeConfState } from '../../src/format/backend/meta-keys.js'
import { readDbSummary } from '../../src/app/db-summary.js'
import { DecodeError } from '../../src/errors.js'
import { sharedTestdata } from '../support/shared-testdata.js'

const K8S_DB = join(sharedTestdata('k8s'), 'db')
const enc = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'utf8'))

describe('revision keys', () => {
  it('decodes main/sub and tombstones (big-endian)', () => {
    const k = Uint8Array.from(Buffer.from('000000000001430e5f0000000000000000', 'hex'))
    expect(decodeRevision(k)).toEqual({ main: 82702n, sub: 0n, tombstone: false })
    expect(decodeRevision(encodeRevision(5n, 2n, true))).toEqual({ main: 5n, sub: 2n, tombstone: true })
    expect(revisionLabel(decodeRevision(encodeRevision(5n, 2n, true)))).toBe('5_2t')
  })
  it('rejects wrong lengths, separators and markers', () => {
    expect(() => decodeRevision(new Uint8Array(16), 'db', 100)).toThrowError(/^db@100: mvcc: revision key 0{32} is not BE64\(main\) '_' BE64\(sub\) \[\+ 't'\] \(16 bytes\)$/)
    const bad = encodeRevision(1n)
    bad[8] = 0x2d
    expect(() => decodeRevision(bad)).toThrow(DecodeError)
    const t = encodeRevision(1n, 0n, true)
    t[17] = 0x78
    expect(() => decodeRevision(t)).toThrow(DecodeError)
  })
})

describe('exact JSON', () => {
  it('keeps uint64 member IDs and confState voters exact', () => {
    const j = parseJsonExact('{"id":3422665156528897914,"voters":[18446744073709551615,1],"s":"12345678901234567890","f":1.5}') as any
    expect(toBigInt(j.id)).toBe(3422665156528897914n)
    expect(j.voters.map(toBigInt)).toEqual([18446744073709551615n, 1n])
    expect(j.s).toBe('12345678901234567890')
    expect(j.f).toBe(1.5)
    const m = decodeMember('2f7fbfd36802ff7a', enc('{"id":3422665156528897914,"peerURLs":["https://kubernetes-master:2380"],"name":"default","isLearner":true}'), 'db', 0)
    expect(m).toEqual({ id: 0x2f7fbfd36802ff7an, idHex: '2f7fbfd36802ff7a', name: 'default', peerURLs: ['https://kubernetes-master:2380'], clientURLs: [], isLearner: true })
    expect(decodeConfState(enc('{"voters":[3422665156528897914],"auto_leave":false}'), 'db', 0).voters).toEqual(['2f7fbfd36802ff7a'])
  })
})

describe('the shared Kubernetes db (etcd 3.2 era, FORMATS §5.2 / §6.4)', () => {
  it('meta pages and the summary', () => {
    const s = readDbSummary(K8S_DB)
    expect(s.pageSize).toBe(4096)
    expect(s.pgid).toBe(5n)
    expect(s.txid).toBe(3n)
    expect(s.metaIndex).toBe(1)
    expect(s.metaReason).toBe('meta 1 has the higher txid (3 > 2) and a valid checksum')
    expect(s.consistentIndex).toBe(0xaa87dn)
    expect(s.compactRevision).toBe(241828n)
    expect(s.scheduledCompactRevision).toBe(241828n)
    expect(s.revision).toBe(232274n)
    expect(s.clusterVersion).toBe('3.2.0')
    expect(s.term).toBeUndefined()
    expect(s.schemaVersion).toBe('3.4 or older')
    expect(s.members).toEqual([{ id: 3422665156528897914n, idHex: '2f7fbfd36802ff7a', name: 'default', peerURLs: ['https://kubernetes-master:2380'], clientURLs: ['http://localhost:2379'], isLearner: false }])
    expect(s.buckets).toEqual(['alarm', 'auth', 'authRoles', 'authUsers', 'cluster', 'key', 'lease', 'members', 'members_removed', 'meta'])
  })
  it('meta 0 matches the FORMATS §5.2 example bytes', () => {
    const src = openFile(K8S_DB)
    try {
      const f = BoltFile.open(src)
      const m0 = f.choice.metas[0]
      expect([m0.root, m0.sequence, m0.freelist, m0.pgid, m0.txid, m0.checksum]).toEqual([4n, 0n, 2n, 5n, 2n, 0x39fdd0b4dec548can])
      expect(m0.error).toBeNull()
      // 9 of 10 buckets are inline; `alarm` is header 16 + empty page header 16.
      const names = ['alarm', 'auth', 'authRoles', 'authUsers', 'cluster', 'lease', 'members', 'members_removed', 'meta']
      for (const n of names) expect(bucket(f, n)!.bucket.kind).toBe('inline')
      expect(bucket(f, 'alarm')!.valueSize).toBe(32)
      expect(bucket(f, 'key')!.bucket.kind).toBe('page')
    } finally {
      src.close()
    }
  })
  it('key bucket entries decode with value classification; values redacted by default', () => {
    const src = openFile(K8S_DB)
    try {
      const f = BoltFile.open(src)
      const es = [...iterate(f, bucket(f, 'key')!.bucket)].map((e) => decodeEntry('key', e))
      expect(es.map((e) => e.revision!.main)).toEqual([4n, 82702n, 82703n, 232274n])
      const pod = es[1]!.kv!
      expect(pod.key.text).toBe('/registry/pods/default/pi-dqtsw')
      expect([pod.createRevision, pod.modRevision, pod.version, pod.lease]).toEqual([82648n, 82702n, 5n, '0'])
      expect(pod.value.redacted).toBe(true)
      expect(pod.value.text).toBeUndefined()
      expect(pod.valueClass).toEqual({ kind: 'k8s-protobuf', apiVersion: 'v1', objectKind: 'Pod', namespace: 'default', name: 'pi-dqtsw', generateName: 'pi-', uid: 'a4adc7ca-5b56-11e7-8d4b-42010a800002', creationTimestamp: 1498581334n })
      expect(es[2]!.kv!.valueClass).toMatchObject({ objectKind: 'Job', namespace: 'default', name: 'pi' })
      expect(es[0]!.kv!.valueClass).toMatchObject({ objectKind: 'Namespace', name: 'default' })
      const shown = decodeEntry('key', [...iterate(f, bucket(f, 'key')!.bucket)][3]!, { showValues: true })
      expect(shown.kv!.value.text).toBe('231840')
      const d = readDetails(f)
      expect(d.auth.enabled).toBe(false)
      expect(d.auth.revision).toBe(1n)
      const { status, keys } = snapshotStatus(f)
      expect(status.totalKey).toBe(10)
      expect(status.totalSize).toBe(20480)
      expect(status.revision).toBe(232274n)
      expect(keys).toEqual({ revisions: 4, tombstones: 0, firstRevision: 4n, lastRevision: 232274n, liveKeys: 4, distinctKeys: 4 })
    } finally {
      src.close()
    }
  })
  it('command-line keys: revisions, hex and text', () => {
    expect(Buffer.from(parseKeyArg('key', '82702')!).toString('hex')).toBe('000000000001430e5f0000000000000000')
    expect(Buffer.from(parseKeyArg('key', '5_2t')!).toString('hex')).toBe('00000000000000055f000000000000000274')
    expect(Buffer.from(parseKeyArg('meta', 'term')!).toString()).toBe('term')
    expect(Buffer.from(parseKeyArg('meta', '0x6162')!).toString()).toBe('ab')
    expect(parseKeyArg('meta', 'zz', true)).toBeNull()
  })
})

describe('fast CRC-32C', () => {
  it('equals crc-32 at every alignment and length, chained', async () => {
    const { crc32cUpdateJs } = await import('../../src/format/backend/crc32c-fast.js')
    const { crc32cUpdate } = await import('../../src/format/crc32c.js')
    expect(crc32cUpdateJs(0, enc('123456789'))).toBe(0xe3069283)
    const b = new Uint8Array(5000)
    for (let i = 0; i < b.length; i++) b[i] = (i * 131 + 7) & 0xff
    for (const off of [0, 1, 2, 3, 5]) {
      for (const len of [0, 1, 3, 15, 16, 17, 31, 64, 1000, 4000]) {
        const x = b.subarray(off, off + len)
        expect(crc32cUpdateJs(0xdeadbeef, x)).toBe(crc32cUpdate(0xdeadbeef, x))
      }
    }
  })
})

describe('CRC-32C combine and the parallel hasher', () => {
  it('crc(A ‖ B) = combine(crc(A), crc(B), len(B))', async () => {
    const { crc32cUpdateJs, crc32cCombine } = await import('../../src/format/backend/crc32c-fast.js')
    const b = new Uint8Array(300000)
    for (let i = 0; i < b.length; i++) b[i] = (i * 7919) & 0xff
    for (const cut of [0, 1, 4096, 123457, 299999, 300000]) {
      const a = b.subarray(0, cut)
      const c = b.subarray(cut)
      expect(crc32cCombine(crc32cUpdateJs(0, a), crc32cUpdateJs(0, c), c.length)).toBe(crc32cUpdateJs(0, b))
    }
  })
  it('db status with worker threads gives the same hash as on one thread (big values, multiseg fixture)', async () => {
    const { dbStatus } = await import('../../src/app/db.js')
    const { extractMultiseg, fixture } = await import('../support/fixtures.js')
    const x = extractMultiseg()
    const dir = join(x.root, (fixture('multiseg').manifest as any).dataDirs.data.path)
    const one = dbStatus(dir, undefined, { threads: 0 })
    const two = dbStatus(dir, undefined, { threads: 2 })
    expect(one.hashThreads).toBe(0)
    expect(two.hashThreads).toBe(2)
    expect(two.hash).toBe(one.hash)
    expect(two.keys).toEqual(one.keys)
    expect(two.totalKey).toBe(one.totalKey)
  })
})
