import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resolveConnectionOptions, withClients } from '../../src/cluster/connection.js'
import { memberList } from '../../src/cluster/members.js'
import { probePeer } from '../../src/cluster/peer-probe.js'
import { etcdctl, freePort, startEtcd, type EtcdMember } from '../support/etcd.js'

describe('peer stream probe against a real etcd', () => {
  let m: EtcdMember
  beforeAll(async () => { m = await startEtcd({ name: 'p1', host: '127.0.0.3' }) })
  afterAll(async () => { await m?.stop() })

  it('410 for a removed member ID, 404 for an unknown one', async () => {
    const o = resolveConnectionOptions({ endpoints: m.clientURL }, {})
    await withClients(o, async (f) => {
      const c = f.forEndpoint(m.clientURL)
      const peer = `http://127.0.0.7:${await freePort('127.0.0.7')}`
      await etcdctl(m.clientURL, ['member', 'add', 'gone', `--peer-urls=${peer}`, '--learner'])
      const list = await memberList(c)
      const self = list.members.find((x) => x.name === 'p1')!
      const gone = list.members.find((x) => x.peerURLs.includes(peer))!
      await etcdctl(m.clientURL, ['member', 'remove', gone.idHex])
      const r = await probePeer(m.peerURL, self.id, list.header.clusterId, gone.id, o, f.tls)
      expect(r).toMatchObject({ status: 410, removed: true })
      const u = await probePeer(m.peerURL, self.id, list.header.clusterId, 0x1234n, o, f.tls)
      expect(u).toMatchObject({ status: 404, removed: false })
    })
  })
})
