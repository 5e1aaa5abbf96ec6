import { describe, expect, it } from 'vitest'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { readDirIdentity, walSegments } from '../../src/app/replace/wal-identity.js'
import { planOptionsFrom } from '../../src/cli/commands/replace.js'
import { tempDir } from '../support/etcd.js'

function varint(v: bigint): number[] {
  const out: number[] = []
  while (v >= 0x80n) { out.push(Number(v & 0x7fn) | 0x80); v >>= 7n }
  out.push(Number(v))
  return out
}

/** One WAL frame: u64 LE length word (padded to 8 bytes, pad count in the top byte) + record. */
function frame(rec: number[]): Buffer {
  const pad = (8 - (rec.length % 8)) % 8
  const word = BigInt(rec.length) | (pad ? (0x80n | BigInt(pad)) << 56n : 0n)
  const h = Buffer.alloc(8)
  h.writeBigUInt64LE(word)
  return Buffer.concat([h, Buffer.from(rec), Buffer.alloc(pad)])
}

function record(type: number, data?: number[]): number[] {
  const r = [0x08, ...varint(BigInt(type)), 0x10, 0x00]
  if (data) r.push(0x1a, ...varint(BigInt(data.length)), ...data)
  return r
}

describe('data dir identity from the WAL metadata record', () => {
  it('reads member and cluster ID (u64 above 2^53) from the first segment', () => {
    const d = tempDir('walid-')
    mkdirSync(join(d, 'member', 'wal'), { recursive: true })
    const node = 0xfedcba9876543210n
    const cluster = 0x1234567890abcdefn
    const meta = [0x08, ...varint(node), 0x10, ...varint(cluster)]
    writeFileSync(join(d, 'member', 'wal', '0000000000000000-0000000000000000.wal'), Buffer.concat([frame(record(4)), frame(record(1, meta)), Buffer.alloc(64)]))
    expect(readDirIdentity(d)).toMatchObject({ memberId: node, clusterId: cluster, memberIdHex: 'fedcba9876543210', clusterIdHex: '1234567890abcdef' })
  })

  it('no WAL: undefined', () => {
    const d = tempDir('walid2-')
    expect(walSegments(d)).toEqual([])
    expect(readDirIdentity(d)).toBeUndefined()
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
