/**
 * `etcd-inspect certs` through the built CLI: exit codes 0 / 45 / 46 / 2, the four output formats,
 * etcd flag names instead of --config, and that the audited files are not changed.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { writeFileSync } from 'node:fs'
import { runCli } from '../support/cli.js'
import { hashTree } from '../support/tree-hash.js'
import { member, runbookCa, type Member } from './pki.js'
import type { Ca } from '../support/tls.js'

let ca: Ca
let clean: Member
let bad: Member
beforeAll(async () => {
  ca = await runbookCa()
  ;[clean, bad] = await Promise.all([member({ ca }), member({ ca, server: { eku: 'serverAuth' }, client: { days: 5 } })])
})

const env = { ETCDCTL_ENDPOINTS: '', ETCDCTL_CERT: '', ETCDCTL_KEY: '', ETCDCTL_CACERT: '' }

describe('certs CLI', () => {
  it('exit 0 on the runbook set, with the verdict line; the files are not changed', async () => {
    const before = hashTree(clean.dir)
    const r = runCli(['certs', '--config', clean.env, '--cert', clean.client.cert, '--key', clean.client.key, '--cacert', clean.ca], { env })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/verdict: OK \(0 errors, 0 warnings\)\n$/)
    const row = r.stdout.split('\n').find((l) => l.includes(clean.server.cert))!
    expect(row.split('│').map((c) => c.trim()).slice(1, 6)).toEqual(['server', clean.server.cert, '0', 'O=etcd-inspect tests, CN=server', 'ec P-256'])
    expect(hashTree(clean.dir)).toEqual(before)
  })

  it('exit 45 with warnings only, 46 with an error; JSON is the whole result', () => {
    const w = runCli(['certs', '--config', clean.env, '--cert', bad.client.cert, '--key', bad.client.key, '-w', 'json'], { env })
    expect(w.code).toBe(45)
    const j = JSON.parse(w.stdout)
    expect(j.verdict).toBe('WARNINGS')
    expect(j.findings.map((f: { code: string }) => f.code)).toEqual(['cert-expiring'])
    expect(j.counts).toEqual({ errors: 0, warnings: 1, info: 0 })
    const e = runCli(['certs', '--config', bad.env, '-w', 'json'], { env })
    expect(e.code).toBe(46)
    expect(JSON.parse(e.stdout).findings.map((f: { code: string; severity: string }) => `${f.severity}:${f.code}`)).toEqual(['error:eku-client-auth-missing'])
  })

  it('simple and ndjson', () => {
    const s = runCli(['certs', '--config', bad.env, '-w', 'simple'], { env })
    expect(s.stdout.split('\n')).toEqual([
      expect.stringMatching(/^error, eku-client-auth-missing, \S+server\.pem, server certificate .* without clientAuth/),
      'verdict: ERRORS (1 error, 0 warnings)', '',
    ])
    const n = runCli(['certs', '--config', bad.env, '-w', 'ndjson'], { env })
    const lines = n.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string })
    expect(lines.map((l) => l.type)).toEqual(['certificate', 'certificate', 'certificate', 'certificate', 'key', 'key', 'finding', 'summary'])
    expect(n.code).toBe(46)
  })

  it('etcd flag names without --config; a bare --client-cert-auth means true', () => {
    const args = ['certs', '--cert-file', bad.server.cert, '--key-file', bad.server.key, '--trusted-ca-file', bad.ca, '--advertise-client-urls', 'https://127.0.0.1:2379', '-w', 'json']
    const off = runCli(args, { env })
    expect(JSON.parse(off.stdout).findings.map((f: { code: string; severity: string }) => `${f.severity}:${f.code}`)).toEqual(['warning:client-cert-auth-off', 'warning:eku-client-auth-missing'])
    expect(off.code).toBe(45)
    const on = runCli([...args, '--client-cert-auth'], { env })
    expect(JSON.parse(on.stdout).findings.map((f: { code: string; severity: string }) => `${f.severity}:${f.code}`)).toEqual(['error:eku-client-auth-missing'])
    expect(on.code).toBe(46)
  })

  it('usage errors: nothing to audit, --cert without --key, a bad --warn-days; a missing --config is exit 3', () => {
    for (const args of [[], ['--cert', clean.client.cert], ['--config', clean.env, '--warn-days', 'soon']]) {
      const r = runCli(['certs', ...args], { env })
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
    }
    const r = runCli(['certs', '--config', '/nonexistent/etcd.env'], { env })
    expect(r.code).toBe(3)
    expect(r.stderr).toBe("Error: config file /nonexistent/etcd.env does not exist (pass the target member's env file or unit with --config)\n")
  })

  it('a damaged certificate is a finding naming the file and byte offset', () => {
    const f = `${bad.dir}/damaged.pem`
    writeFileSync(f, '-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAK\n-----END CERTIFICATE-----\n')
    const r = runCli(['certs', '--cert-file', f, '-w', 'json'], { env })
    expect(r.code).toBe(46)
    const j = JSON.parse(r.stdout)
    const hit = j.findings.find((x: { code: string }) => x.code === 'cert-undecodable')
    expect(hit).toMatchObject({ severity: 'error', file: f, offset: 0 })
    expect(hit.detail).toBe(`ETCD_CERT_FILE ${f}@0: DER Certificate declares 401 bytes, 6 left in its parent`)
  })
})
