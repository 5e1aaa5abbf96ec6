import { afterAll, describe, expect, it } from 'vitest'
import { startEtcd, etcdctl, type EtcdMember } from './support/etcd.js'

describe('real etcd harness', () => {
  let m: EtcdMember | undefined
  afterAll(async () => { await m?.stop() })
  it('starts Debian etcd 3.4 on loopback and stops it by PID', async () => {
    m = await startEtcd({ name: 'smoke', host: '127.0.0.1' })
    expect(m.clientURL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    await etcdctl(m.clientURL, ['put', 'a', 'b'])
    expect(await etcdctl(m.clientURL, ['get', 'a', '--print-value-only'])).toBe('b\n')
    const v = await etcdctl(m.clientURL, ['version'])
    expect(v).toMatch(/etcdctl version: 3\.4\./)
    await m.stop()
    expect(m.proc.exitCode !== null || m.proc.signalCode !== null).toBe(true)
  })
})
