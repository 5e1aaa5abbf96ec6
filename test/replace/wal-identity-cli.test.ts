import { describe, expect, it } from 'vitest'
import { mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { checkWalIdentity, readWalIdentity, walSegmentPaths } from '../../src/app/wal.js'
import { UnsafeOperationError } from '../../src/errors.js'
import { identifyDataDir } from '../../src/app/replace/steps.js'
import { planOptionsFrom } from '../../src/cli/commands/replace.js'
import { walName } from '../../src/format/wal/segment-name.js'
import { tempDir } from '../support/etcd.js'
import { metadata, WalWriter } from '../support/wal-writer.js'

/** A data dir whose WAL segments head with (member, cluster) each; segments are chained like etcd's. */
function dataDir(ids: [bigint, bigint][]): string {
  const d = tempDir('walid-')
  mkdirSync(join(d, 'member', 'wal'), { recursive: true })
  const w = new WalWriter()
  ids.forEach(([node, cluster], i) => {
    w.crcRecord().metadata(node, cluster)
    if (i === 0) w.snapshot(0, 0)
    w.state(1, 1, i).entry(1, i + 1)
    writeFileSync(join(d, 'member', 'wal', walName(BigInt(i), BigInt(i))), w.cut(64))
  })
  return d
}

describe('data dir identity from the WAL metadata record, through the checked reader', () => {
  const node = 0xfedcba9876543210n
  const cluster = 0x1234567890abcdefn
  it('reads member and cluster ID (u64 above 2^53) from the first segment', () => {
    const d = dataDir([[node, cluster]])
    expect(readWalIdentity(d)).toMatchObject({ memberId: node, clusterId: cluster, memberIdHex: 'fedcba9876543210', clusterIdHex: '1234567890abcdef' })
  })
  it('no WAL: undefined', () => {
    const d = tempDir('walid2-')
    expect(walSegmentPaths(d)).toEqual([])
    expect(readWalIdentity(d)).toBeUndefined()
  })
  it('a metadata record that fails its CRC identifies nothing (the old header read trusted it)', () => {
    const d = dataDir([[node, cluster]])
    const seg = walSegmentPaths(d)[0]!
    const b = readFileSync(seg)
    // the metadata record's data holds the node ID varint: change one of its bytes, keep the frame
    const at = b.indexOf(Buffer.from([0x08, 0x90, 0xe4]))
    expect(at).toBeGreaterThan(0)
    b[at + 1] = 0x91
    writeFileSync(seg, b)
    expect(readWalIdentity(d)).toBeUndefined()
  })
  // The CRC record of the first segment (chain 0) is 08 04 10 00 + 4 pad bytes: the metadata frame starts at 16.
  const META_AT = 16
  it('a damaged head is a problem with file and offset, and replace refuses it (plan and the archive step)', async () => {
    const flipped = dataDir([[node, cluster]])
    const seg = walSegmentPaths(flipped)[0]!
    const b = readFileSync(seg)
    b[b.indexOf(Buffer.from([0x08, 0x90, 0xe4])) + 1] = 0x91
    writeFileSync(seg, b)
    expect(checkWalIdentity(flipped)).toEqual({ problem: expect.objectContaining({ code: 'crc-mismatch', file: seg, offset: META_AT, severity: 'error' }) })
    for (const opts of [{ headers: true }, { quick: true }]) {
      const e = await identifyDataDir(flipped, opts).then(() => undefined, (x: unknown) => x)
      expect(e).toBeInstanceOf(UnsafeOperationError)
      expect((e as UnsafeOperationError).code).toBe('data-dir-head-damaged')
      expect((e as Error).message).toContain(`${seg} at offset ${META_AT}: wal: crc mismatch`)
    }
    // cut inside the metadata frame: a short frame is an error at its offset, never clamped, never a torn tail
    const cut = dataDir([[node, cluster]])
    const seg2 = walSegmentPaths(cut)[0]!
    truncateSync(seg2, META_AT + 12)
    expect(checkWalIdentity(cut).problem).toMatchObject({ code: 'missing-metadata', file: seg2, offset: META_AT, detail: expect.stringMatching(/runs past the end of the file: 4 bytes left, before the metadata record/) })
    await expect(identifyDataDir(cut, { headers: true })).rejects.toThrow(`${seg2} at offset ${META_AT}: `)
    // only the second segment's head is damaged: a quick look (first head) identifies, the plan (every head) refuses
    const second = dataDir([[node, cluster], [node, cluster]])
    const seg3 = walSegmentPaths(second)[1]!
    truncateSync(seg3, 5)
    expect(readWalIdentity(second)?.memberIdHex).toBe('fedcba9876543210')
    expect(checkWalIdentity(second, { allSegments: true }).problem).toMatchObject({ code: 'bad-frame', file: seg3, offset: 0 })
    await expect(identifyDataDir(second, { headers: true })).rejects.toThrow(`${seg3} at offset 0: wal: partial length word`)
  })
  it('segments that disagree: undefined for the plan (every head), the first one for a quick look', async () => {
    const d = dataDir([[node, cluster], [node + 1n, cluster]])
    expect(readWalIdentity(d)?.memberIdHex).toBe('fedcba9876543210')
    expect(readWalIdentity(d, { allSegments: true })).toBeUndefined()
    const same = dataDir([[node, cluster], [node, cluster]])
    expect(await identifyDataDir(same, { headers: true })).toMatchObject({ memberIdHex: 'fedcba9876543210', clusterIdHex: '1234567890abcdef', source: 'wal-header', inUse: false })
    expect(await identifyDataDir(d, { quick: true })).toMatchObject({ memberIdHex: 'fedcba9876543210', source: 'wal-header' })
  })
  it('heads with the same IDs but other bytes disagree too (etcd compares metadata byte for byte, links.ts metadataConflict)', () => {
    // the second head's metadata decodes to the same member and cluster, with an unknown field appended
    const d = tempDir('walid-')
    mkdirSync(join(d, 'member', 'wal'), { recursive: true })
    const w = new WalWriter()
    w.crcRecord().metadata(node, cluster).snapshot(0, 0).state(1, 1, 0).entry(1, 1)
    writeFileSync(join(d, 'member', 'wal', walName(0n, 0n)), w.cut(64))
    w.crcRecord().add(1, Uint8Array.from([...metadata(node, cluster), 0x18, 0x01])).state(1, 1, 1).entry(1, 2)
    writeFileSync(join(d, 'member', 'wal', walName(1n, 2n)), w.cut(64))
    expect(readWalIdentity(d)?.memberIdHex).toBe('fedcba9876543210')
    expect(readWalIdentity(join(d), { allSegments: true })).toBeUndefined()
  })
})

describe('replace CLI options', () => {
  it('normalises flags into PlanOptions (connection from the shared etcdctl flags)', () => {
    const o = planOptionsFrom({ config: '/etc/default/etcd', stopCmd: 'systemctl stop etcd', startCmd: 'systemctl start etcd', stallTimeout: '90s', force: true, endpoints: '127.0.0.1:2379', cacert: '/ca' } as never, {})
    expect(o).toMatchObject({ configPath: '/etc/default/etcd', force: true, stallTimeoutMs: 90000, control: { kind: 'commands', stopCmd: 'systemctl stop etcd', startCmd: 'systemctl start etcd' } })
    expect(o.connection.endpoints).toEqual(['https://127.0.0.1:2379'])
    expect(o.connection).not.toHaveProperty('password')
  })

  it('requires a way to stop and start the target', () => {
    expect(() => planOptionsFrom({ config: '/x' }, {})).toThrow('pass --stop-cmd and --start-cmd, or --systemd-unit')
    expect(() => planOptionsFrom({ stopCmd: 'a', startCmd: 'b' }, {})).toThrow('--config is required')
    expect(planOptionsFrom({ config: '/x', systemdUnit: 'etcd.service' }, {}).control).toEqual({ kind: 'systemd', unit: 'etcd.service' })
  })
})
