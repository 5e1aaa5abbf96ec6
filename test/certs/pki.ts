/**
 * Member TLS dirs for the `certs` tests, built with the shared openssl CA helper
 * (test/support/tls.ts): the runbook's cfssl profiles reproduced with openssl — CA RSA 2048;
 * server, peer and client ECDSA P-256; server and peer: signing, key encipherment, server auth,
 * client auth; client: signing, key encipherment, client auth; every member's address in hosts —
 * copied the way an operator lays them out on a member (ca.pem beside the member's files, keys
 * 0600, the CA key elsewhere), with the ETCD_* env file that names them.
 */
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '../support/etcd.js'
import { issueCert, newCa, type Ca, type CertOptions, type Profile } from '../support/tls.js'

/** The runbook's member addresses (the hosts list of every certificate). */
export const HOSTS = ['127.0.0.1', '127.0.0.2', '127.0.0.3']

/** The cfssl CA: `cfssl gencert -initca` with an RSA 2048 key (basicConstraints CA:TRUE, keyCertSign, cRLSign; 5 years). */
export function runbookCa(name = 'etcd-runbook-ca'): Promise<Ca> {
  return newCa(name, tempDir('certs-ca-'), { keyAlg: 'rsa-2048', keyUsage: 'critical,keyCertSign,cRLSign', days: 1825 })
}

/** A certificate from one of the runbook's profiles (EC P-256; signing = digitalSignature; cfssl's 8760h expiry). */
export function runbookCert(ca: Ca, profile: Profile, dir: string, o: CertOptions = {}): ReturnType<typeof issueCert> {
  return issueCert(ca, profile, { dir, ips: HOSTS, dns: ['localhost'], keyUsage: 'critical,digitalSignature,keyEncipherment', days: 365, ...o })
}

export interface Member {
  dir: string
  ca: string
  server: { cert: string; key: string }
  peer: { cert: string; key: string }
  client: { cert: string; key: string }
  /** ETCD_* env file naming them (member 127.0.0.1). */
  env: string
  settings: Record<string, string>
}

export interface MemberOptions {
  ca?: Ca
  server?: CertOptions
  peer?: CertOptions
  client?: CertOptions
  /** ETCD_* settings to add or override (an empty value removes the line). */
  settings?: Record<string, string>
  host?: string
}

/** A member's TLS dir in the runbook's layout, plus its env file. */
export async function member(o: MemberOptions = {}): Promise<Member> {
  const ca = o.ca ?? (await runbookCa())
  const dir = tempDir('certs-member-')
  const made = join(dir, 'issued')
  mkdirSync(made)
  const [server, peer, client] = await Promise.all([
    runbookCert(ca, 'server', made, o.server),
    runbookCert(ca, 'peer', made, o.peer),
    runbookCert(ca, 'client', made, o.client),
  ])
  const pki = join(dir, 'pki')
  mkdirSync(pki)
  const put = (from: string, name: string, mode: number): string => {
    const to = join(pki, name)
    copyFileSync(from, to)
    chmodSync(to, mode)
    return to
  }
  const m: Member = {
    dir: pki,
    ca: put(ca.cert, 'ca.pem', 0o644),
    server: { cert: put(server!.cert, 'server.pem', 0o644), key: put(server!.key, 'server-key.pem', 0o600) },
    peer: { cert: put(peer!.cert, 'peer.pem', 0o644), key: put(peer!.key, 'peer-key.pem', 0o600) },
    client: { cert: put(client!.cert, 'client.pem', 0o644), key: put(client!.key, 'client-key.pem', 0o600) },
    env: join(dir, 'etcd.env'),
    settings: {},
  }
  const host = o.host ?? '127.0.0.1'
  const s: Record<string, string> = {
    ETCD_NAME: 'm1', ETCD_DATA_DIR: join(dir, 'data'),
    ETCD_LISTEN_CLIENT_URLS: `https://${host}:2379`, ETCD_ADVERTISE_CLIENT_URLS: `https://${host}:2379`,
    ETCD_LISTEN_PEER_URLS: `https://${host}:2380`, ETCD_INITIAL_ADVERTISE_PEER_URLS: `https://${host}:2380`,
    ETCD_TRUSTED_CA_FILE: m.ca, ETCD_CERT_FILE: m.server.cert, ETCD_KEY_FILE: m.server.key, ETCD_CLIENT_CERT_AUTH: 'true',
    ETCD_PEER_TRUSTED_CA_FILE: m.ca, ETCD_PEER_CERT_FILE: m.peer.cert, ETCD_PEER_KEY_FILE: m.peer.key, ETCD_PEER_CLIENT_CERT_AUTH: 'true',
    ...o.settings,
  }
  for (const [k, v] of Object.entries(s)) if (v === '') delete s[k]
  m.settings = s
  writeEnv(m)
  return m
}

/** (Re)writes the member's env file from `m.settings`. */
export function writeEnv(m: Member): void {
  writeFileSync(m.env, Object.entries(m.settings).map(([k, v]) => `${k}=${v}`).join('\n') + '\n')
}
