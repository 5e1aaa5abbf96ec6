/**
 * `etcd-inspect db …` as a process: exit codes, one-line errors without stack traces, output
 * formats, redaction, and byte-identical files after every command.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { runCli, REPO_ROOT } from '../support/cli.js'
import { hashTree } from '../support/tree-hash.js'
import { sharedTestdata } from '../support/shared-testdata.js'
import { fixture } from '../support/fixtures.js'

const temps: string[] = []
afterAll(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })))

const K8S = sharedTestdata('k8s')
const K8S_DB = join(K8S, 'db')
const SINGLE = join(REPO_ROOT, 'fixtures/single/data')
const SNAP = join(REPO_ROOT, 'fixtures/single/snapshot.db')

function noTrace(stderr: string): void {
  expect(stderr).not.toMatch(/\n\s+at /)
  expect(stderr.trimEnd().split('\n').length).toBeLessThanOrEqual(1)
}

describe('db CLI', () => {
  it('every command leaves the fixture data dir, the snapshot and the shared db byte-identical', () => {
    const trees = [SINGLE, join(REPO_ROOT, 'fixtures/single'), K8S]
    const before = trees.map(hashTree)
    const cmds = [
      ['db', SINGLE], ['db', 'status', SINGLE], ['db', 'check', SINGLE], ['db', 'buckets', SINGLE],
      ['db', 'keys', SINGLE, 'key', '--limit', '5'], ['db', 'keys', SINGLE, 'authUsers'], ['db', 'get', SINGLE, 'meta', 'consistent_index'],
      ['db', 'status', SNAP, '-w', 'json'], ['db', 'check', SNAP],
      ['db', K8S_DB, '-w', 'json'], ['db', 'keys', K8S_DB, 'key', '--show-values', '-w', 'simple'], ['db', 'status', K8S_DB, '-w', 'simple'],
    ]
    for (const c of cmds) {
      const r = runCli(c)
      expect({ c, code: r.code, stderr: r.stderr }).toEqual({ c, code: 0, stderr: '' })
    }
    expect(trees.map(hashTree)).toEqual(before)
  })

  it('db keys key -w simple: revisions, keys and classification; values redacted unless --show-values', () => {
    const r = runCli(['db', 'keys', K8S_DB, 'key', '-w', 'simple'])
    expect(r.code).toBe(0)
    expect(r.stdout).toBe([
      '4_0\t"/registry/namespaces/default"\t<redacted len:126 sha256:b3fad0fabd25615d> k8s v1/Namespace default',
      '82702_0\t"/registry/pods/default/pi-dqtsw"\t<redacted len:1576 sha256:c1fdda6c4489595f> k8s v1/Pod default/pi-dqtsw',
      '82703_0\t"/registry/jobs/default/pi"\t<redacted len:638 sha256:ab04a3b9c27658f7> k8s batch/v1/Job default/pi',
      '232274_0\t"compact_rev_key"\t<redacted len:6 sha256:5c2eceb37e28a55e> text',
      '',
    ].join('\n'))
    const shown = runCli(['db', 'keys', K8S_DB, 'key', '--prefix', '000000000003', '--hex', '--show-values', '-w', 'simple'])
    expect(shown.stdout).toBe('232274_0\t"compact_rev_key"\t"231840" text\n')
    const lim = runCli(['db', 'keys', K8S_DB, 'key', '--limit', '1', '-w', 'json'])
    const j = JSON.parse(lim.stdout)
    expect(j.entries).toHaveLength(1)
    expect(j.more).toBe(true)
    expect(j.entries[0].kv.createRevision).toBe('4')
  })

  it('db status -w json: the documented contract, 64-bit values as strings, IDs in hex', () => {
    const r = runCli(['db', 'status', SNAP, '-w', 'json'])
    expect(r.code).toBe(0)
    const j = JSON.parse(r.stdout)
    // Ground truth recorded from etcd's own tools when the fixture was generated.
    const m = fixture('single').manifest as any
    const ep = m.etcdctl['endpoint status -w json'][0].Status
    const st = m.snapshotDb.status
    expect(j).toMatchObject({
      revision: String(st.revision), compactRevision: String(m.compactRevision), consistentIndex: String(ep.raftAppliedIndex), term: null,
      hash: st.hash, totalKey: st.totalKey, totalSize: st.totalSize, removedMembers: [],
      members: [{ id: m.memberId, name: 'single', peerURLs: m.members[0].peerURLs, clientURLs: m.members[0].clientURLs, isLearner: false }],
    })
    expect(typeof j.hash).toBe('number')
    expect(j.members[0].id).toMatch(/^[0-9a-f]{1,16}$/)
    expect(BigInt('0x' + j.members[0].id)).toBe(BigInt(m.etcdctl['member list -w json'].members[0].ID))
    expect(j.members[0]).not.toHaveProperty('idDecimal')
    expect(r.stdout).not.toMatch(/\$2a\$/)
  })

  it('db get: a revision in `key`, a meta integer', () => {
    const r = runCli(['db', 'get', K8S_DB, 'key', '82702', '-w', 'json'])
    expect(r.code).toBe(0)
    const e = JSON.parse(r.stdout).entry
    expect(e.revision).toEqual({ main: '82702', sub: '0', tombstone: false })
    expect(e.kv.valueClass).toMatchObject({ objectKind: 'Pod', name: 'pi-dqtsw' })
    expect(e.kv.value.redacted).toBe(true)
    const ci = runCli(['db', 'get', K8S_DB, 'meta', 'consistent_index', '-w', 'simple'])
    expect(ci.stdout).toMatch(/^decoded: 698493$/m)
  })

  it('exit codes: 2 usage, 3 input, 4 corruption — one line, no stack trace', () => {
    const usage = [
      ['db', 'keys', K8S_DB, 'key', '--limit', 'x'],
      ['db', 'keys', K8S_DB, 'key', '--value-format', 'base64'],
      ['db', 'status', K8S_DB, '-w', 'yaml'],
      ['db'],
    ]
    for (const c of usage) {
      const r = runCli(c)
      expect({ c, code: r.code }).toEqual({ c, code: 2 })
      noTrace(r.stderr)
    }
    const missing = runCli(['db', 'status', '/nonexistent/dir'])
    expect(missing.code).toBe(3)
    expect(missing.stderr).toBe('Error: /nonexistent/dir: no such file or directory (check the path (a data dir, its member/ dir or its wal/ dir))\n')
    const empty = mkdtempSync(join(tmpdir(), 'db-cli-'))
    temps.push(empty)
    const notDir = runCli(['db', empty])
    expect(notDir.code).toBe(3)
    expect(notDir.stderr).toBe(`Error: ${empty}: no bbolt db found (looked for member/snap/db, snap/db, db) (pass an etcd data dir (the --data-dir of the member) or the db file itself)\n`)
    const notFound = runCli(['db', 'get', K8S_DB, 'meta', 'nokey'])
    expect(notFound.code).toBe(3)
    // A bucket the db does not hold is an input error (the argument does not fit the file).
    const noBucket = runCli(['db', 'keys', K8S_DB, 'nope'])
    expect(noBucket.code).toBe(3)
    expect(noBucket.stderr).toMatch(/^Error: .*: bucket "nope" not found \(buckets in this db: alarm, auth, /)
    noTrace(noBucket.stderr)
    noTrace(notFound.stderr)
    const garbage = join(empty, 'garbage.db')
    writeFileSync(garbage, Buffer.alloc(8192, 0x41))
    const g = runCli(['db', 'check', garbage])
    expect(g.code).toBe(4)
    expect(g.stderr).toBe(`Error: ${garbage}@16: bbolt: not a bbolt file: no meta page has the magic 0xed0cdaed (found 0x41414141 at offset 16) (pass the \`db\` file of a data dir (member/snap/db) or a file saved by \`etcdctl snapshot save\`)\n`)
  })

  it('db check exit code: 4 on the shared db whose meta names a leaf page as freelist', () => {
    const r = runCli(['db', 'check', K8S_DB])
    expect(r.code).toBe(4)
    expect(r.stdout).toMatch(/^error: \S+\/db@8200: bad-page-type: bbolt: page 2: type leaf \(flags 0x2\), expected freelist \(referenced by meta 1 freelist\)$/m)
    const ok = runCli(['db', 'check', SINGLE])
    expect(ok.code).toBe(0)
    const pages = (fixture('single').manifest as any).dbSize / 4096
    expect(ok.stdout).toMatch(new RegExp(`^OK: \\d+ reachable pages, \\d+ free pages of ${pages} \\(freelist not persisted`, 'm'))
  })
})
