import { describe, expect, it } from 'vitest'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { readWalIdentity, walSegmentPaths } from '../../src/app/wal.js'
import { identifyDataDir } from '../../src/app/replace/steps.js'
import { planOptionsFrom } from '../../src/cli/commands/replace.js'
import { walName } from '../../src/format/wal/segment-name.js'
import { tempDir } from '../support/etcd.js'
import { WalWriter } from '../support/wal-writer.js'

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
  it('segments that disagree: undefined for the plan (every head), the first one for a quick look', async () => {
    const d = dataDir([[node, cluster], [node + 1n, cluster]])
    expect(readWalIdentity(d)?.memberIdHex).toBe('fedcba9876543210')
    expect(readWalIdentity(d, { allSegments: true })).toBeUndefined()
    const same = dataDir([[node, cluster], [node, cluster]])
    expect(await identifyDataDir(same, { headers: true })).toMatchObject({ memberIdHex: 'fedcba9876543210', clusterIdHex: '1234567890abcdef', source: 'wal-header', inUse: false })
    expect(await identifyDataDir(d, { quick: true })).toMatchObject({ memberIdHex: 'fedcba9876543210', source: 'wal-header' })
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
