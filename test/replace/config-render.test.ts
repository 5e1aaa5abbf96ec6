import { describe, expect, it } from 'vitest'
import { formatEnv, formatUnit, lineDiff, parseEnvFile, parseUnitFile, render, renderSettings } from '../../src/app/replace/config-render.js'

const old = `# etcd m3
ETCD_NAME=m3
ETCD_DATA_DIR=/var/lib/etcd/m3
ETCD_INITIAL_CLUSTER="m1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380,m3=https://10.0.0.3:2380"
ETCD_INITIAL_CLUSTER_STATE=new
ETCD_INITIAL_ADVERTISE_PEER_URLS=https://10.0.0.3:2380
ETCD_PEER_CERT_FILE=/etc/etcd/peer.crt
`

describe('config rendering', () => {
  it('parses env files (quotes, comments)', () => {
    const m = parseEnvFile(old)
    expect(m.get('ETCD_INITIAL_CLUSTER')).toBe('m1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380,m3=https://10.0.0.3:2380')
    expect(m.has('# etcd m3')).toBe(false)
  })

  it('renders existing + every current member + itself, keeping TLS settings', () => {
    const s = renderSettings({
      old: parseEnvFile(old), name: 'm3', peerURLs: ['https://10.0.0.3:2380'], dataDir: '/var/lib/etcd/m3',
      others: [{ name: 'm2', peerURLs: ['https://10.0.0.2:2380'] }, { name: 'm1', peerURLs: ['https://10.0.0.1:2380'] }],
    })
    expect(s.get('ETCD_INITIAL_CLUSTER')).toBe('m1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380,m3=https://10.0.0.3:2380')
    expect(s.get('ETCD_INITIAL_CLUSTER_STATE')).toBe('existing')
    expect(s.get('ETCD_PEER_CERT_FILE')).toBe('/etc/etcd/peer.crt')
    const env = formatEnv(s)
    expect(env).toContain('ETCD_INITIAL_CLUSTER_STATE=existing\n')
    expect(parseEnvFile(env)).toEqual(s)
    const diff = lineDiff(old, env, 'a', 'b')
    expect(diff).toContain('-ETCD_INITIAL_CLUSTER_STATE=new')
    expect(diff).toContain('+ETCD_INITIAL_CLUSTER_STATE=existing')
    expect(diff.startsWith('--- a\n+++ b\n')).toBe(true)
  })

  it('round-trips a classic systemd unit through its ExecStart flags', () => {
    const s = renderSettings({ old: new Map([['ETCD_CERT_FILE', '/etc/etcd/server.crt']]), name: 'x', peerURLs: ['https://10.0.0.9:2380'], dataDir: '/d', others: [] })
    const unit = formatUnit(s)
    expect(unit).toContain('--initial-cluster-state=existing')
    expect(unit).toContain('--initial-cluster=x=https://10.0.0.9:2380')
    expect(parseUnitFile(unit)).toEqual(s)
  })

  it('edits an env file in place: only the changed lines differ', () => {
    const s = renderSettings({ old: parseEnvFile(old), name: 'm3', peerURLs: ['https://10.0.0.3:2380'], dataDir: '/var/lib/etcd/m3', others: [{ name: 'm1', peerURLs: ['https://10.0.0.1:2380'] }, { name: 'm2', peerURLs: ['https://10.0.0.2:2380'] }] })
    const text = render('env', s, old)
    expect(text).toBe(old.replace('ETCD_INITIAL_CLUSTER_STATE=new', 'ETCD_INITIAL_CLUSTER_STATE=existing'))
    expect(lineDiff(old, text, 'a', 'b').split('\n').filter((l) => /^[-+][^-+]/.test(l))).toEqual(['-ETCD_INITIAL_CLUSTER_STATE=new', '+ETCD_INITIAL_CLUSTER_STATE=existing'])
  })
})
