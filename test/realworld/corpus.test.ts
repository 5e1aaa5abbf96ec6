/**
 * Issue 11, point 1: every dir of the real-world corpus (etcd 2.0–3.6, SOURCES.tsv) through `wal`,
 * `wal verify`, `snap`, `db status`, `db check` and `status` (-w json): the exit code each must
 * give (the table below), no internal error or stack trace, JSON on stdout whenever a command
 * gets that far, not a file changed, and `db status` equal to `etcdctl snapshot status` (3.4) on
 * every db etcdctl can open (run on a copy: etcdctl writes to a 0-byte file).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { hashTree } from '../support/tree-hash.js'
import { runInProcess, unpackCorpus } from './corpus.js'

const COMMANDS = [['wal'], ['wal', 'verify'], ['snap'], ['db', 'status'], ['db', 'check'], ['status']] as const
type Codes = [wal: number, verify: number, snap: number, dbStatus: number, dbCheck: number, status: number]

interface Expect {
  codes: Codes
  /** `status` JSON: state, the version guess and the source that decided it. */
  state: string
  guess: string | null
  decidedBy: string | null
  /** Finding codes `status` must report (others may appear). */
  findings?: string[]
}

// 3 = no member/wal (the corpus dropped files >= 4 MiB: most 3.x dirs keep their db only);
// status 4 on those: a db holding data with no WAL (etcd would start a brand-new member over it).
const NO_WAL_3X: Codes = [3, 3, 0, 0, 0, 4]
const E: Record<string, Expect> = {
  'Constantine-Marx__micro-serve__6f18837': { codes: NO_WAL_3X, state: 'no-wal', guess: '3.5', decidedBy: 'db cluster/clusterVersion', findings: ['db-without-wal'] },
  'DataManagementLab__lab23_wannadb_scale-up__98d3651': { codes: NO_WAL_3X, state: 'no-wal', guess: '3.5', decidedBy: 'db cluster/clusterVersion', findings: ['db-without-wal'] },
  'DonahueCZ__TikTok-E-commerce__4215fd7': { codes: NO_WAL_3X, state: 'no-wal', guess: '3.6', decidedBy: 'db meta/storageVersion', findings: ['db-without-wal'] },
  // 2.3 member: WAL only, by design no db; etcd 3.0 builds the v3 backend from it at start.
  'ETOgaosion__bamboo__7cbb68a': { codes: [0, 0, 0, 3, 3, 0], state: 'initialized', guess: '2.3', decidedBy: 'WAL v2 PUT /0/version', findings: ['v2-data-dir'] },
  'Emruz-Hossain__api-server__7041769': { codes: NO_WAL_3X, state: 'no-wal', guess: '3.3', decidedBy: 'db cluster/clusterVersion', findings: ['db-without-wal'] },
  // db, WAL and 0.tmp all 0 bytes.
  'RoutineLi__shopping-cart__448c4d5': { codes: [4, 4, 0, 4, 4, 4], state: 'initialized', guess: null, decidedBy: null },
  'WuShaoling__concertos__f5e60f3': { codes: NO_WAL_3X, state: 'no-wal', guess: '3.3', decidedBy: 'db cluster/clusterVersion', findings: ['db-without-wal'] },
  // Two 3.5 .snap files, no WAL, no db: not "empty".
  'YYDSXi__hraft__ca5d7d2__bin': { codes: [3, 3, 0, 3, 3, 4], state: 'no-wal', guess: '3.5', decidedBy: '.snap v2 store /0/version', findings: ['snap-without-wal'] },
  'Yansufeng__rubbish-cart__340297c': { codes: NO_WAL_3X, state: 'no-wal', guess: '3.2', decidedBy: 'db cluster/clusterVersion', findings: ['db-without-wal'] },
  'alextanhongpin__python-stock-service__6e574c8': { codes: NO_WAL_3X, state: 'no-wal', guess: '3.1', decidedBy: 'db cluster/clusterVersion', findings: ['db-without-wal'] },
  'apache__apisix__d97d594': { codes: NO_WAL_3X, state: 'no-wal', guess: '3.4', decidedBy: 'db cluster/clusterVersion', findings: ['db-without-wal'] },
  'fannyxyw__wasm-flashsale-easegress__11d1a4a': { codes: NO_WAL_3X, state: 'no-wal', guess: '3.5', decidedBy: 'db cluster/clusterVersion', findings: ['db-without-wal'] },
  // 2.3: five .snap files, the WAL not kept.
  'flybird119__weixin-golang__4f3bc3f': { codes: [3, 3, 0, 3, 3, 4], state: 'no-wal', guess: '2.3', decidedBy: '.snap v2 store /0/version', findings: ['snap-without-wal'] },
  'gsh3729__twitter_distributed_system__64cb1cf__infra0': { codes: NO_WAL_3X, state: 'no-wal', guess: '3.5', decidedBy: 'db cluster/clusterVersion', findings: ['db-without-wal'] },
  'gsh3729__twitter_distributed_system__64cb1cf__infra1': { codes: NO_WAL_3X, state: 'no-wal', guess: '3.5', decidedBy: 'db cluster/clusterVersion', findings: ['db-without-wal'] },
  'gsh3729__twitter_distributed_system__64cb1cf__infra2': { codes: NO_WAL_3X, state: 'no-wal', guess: '3.5', decidedBy: 'db cluster/clusterVersion', findings: ['db-without-wal'] },
  // 3.4 with its WAL and db: the one complete 3.x member.
  'hihif__FT_Transcendance__3e6e33d': { codes: [0, 0, 0, 0, 0, 0], state: 'initialized', guess: '3.4', decidedBy: 'db cluster/clusterVersion' },
  // bbolt with no buckets + member/wal.tmp/: a first start that crashed; nothing to lose, no version.
  'hihif__FT_Transcendance__3e6e33d__apigw': { codes: [3, 3, 0, 0, 0, 0], state: 'no-wal', guess: null, decidedBy: null, findings: ['wal-tmp-dir', 'never-started'] },
  // 2.2 with a .snap at 10001 and its WAL.
  'jteso__envoy__536f1d3': { codes: [0, 0, 0, 3, 3, 0], state: 'initialized', guess: '2.2', decidedBy: 'WAL v2 PUT /0/version', findings: ['v2-data-dir'] },
  'kiranp227__projecthub__9ba1fce': { codes: NO_WAL_3X, state: 'no-wal', guess: '3.4', decidedBy: 'db cluster/clusterVersion', findings: ['db-without-wal'] },
  'neildevas__CloudProject__6bf8ce4': { codes: [0, 0, 0, 3, 3, 0], state: 'initialized', guess: '2.2', decidedBy: 'WAL v2 PUT /0/version', findings: ['v2-data-dir'] },
  // The WAL is a git-lfs pointer (133 bytes of text).
  'rajahafify__jawab-ai__32e0bd6': { codes: [4, 4, 0, 0, 0, 4], state: 'initialized', guess: '3.5', decidedBy: 'db cluster/clusterVersion' },
  'supergiant__control__84814a2': { codes: [0, 0, 0, 3, 3, 0], state: 'initialized', guess: '2.2', decidedBy: 'WAL v2 PUT /0/version', findings: ['v2-data-dir'] },
  'wXwcoder__goakt-cluster-etcd__9631055': { codes: NO_WAL_3X, state: 'no-wal', guess: '3.6', decidedBy: 'db meta/storageVersion', findings: ['db-without-wal'] },
}

let corpus: ReturnType<typeof unpackCorpus>
let scratch: string
beforeAll(() => {
  corpus = unpackCorpus()
  scratch = mkdtempSync(join(tmpdir(), 'corpus-etcdctl-'))
})
afterAll(() => {
  corpus?.cleanup()
  if (scratch) rmSync(scratch, { recursive: true, force: true })
})

const run = promisify(execFile)

/** `etcdctl snapshot status -w json` on a copy of the db; null when etcdctl cannot open it. */
async function etcdctlStatus(db: string, name: string): Promise<{ hash: number; revision: number; totalKey: number; totalSize: number } | null> {
  const copy = join(scratch, `${name}.db`)
  copyFileSync(db, copy)
  try {
    const { stdout } = await run('etcdctl', ['snapshot', 'status', copy, '-w', 'json'], { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 30_000 })
    return JSON.parse(stdout)
  } catch {
    return null
  }
}

describe('real-world corpus (etcd 2.0–3.6)', () => {
  it('the table covers every dir of the corpus', () => {
    expect(corpus.dirs).toEqual(Object.keys(E).sort())
  })

  it('v2 PUT values are redacted by default like v3 values; etcd\'s own /0 records stay readable', async () => {
    const dir = join(corpus.root, 'jteso__envoy__536f1d3')
    const puts = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l)).filter((x) => x.request?.kind === 'v2' && x.request.method === 'PUT')
    const hidden = puts((await runInProcess(['wal', dir, '-w', 'ndjson'])).stdout)
    const user = hidden.filter((x) => x.request.path.startsWith('/1/'))
    expect(user.length).toBeGreaterThan(0)
    for (const x of user) expect(x.request.val).toMatchObject({ redacted: true, len: expect.any(Number), sha256: expect.any(String) })
    const own = hidden.filter((x) => x.request.path === '/0/version' || x.request.path.startsWith('/0/members/'))
    expect(own.length).toBeGreaterThan(0)
    for (const x of own) expect(typeof x.request.val).toBe('string')
    const shown = puts((await runInProcess(['wal', dir, '-w', 'ndjson', '--show-values'])).stdout).filter((x) => x.request.path.startsWith('/1/'))
    expect(shown.map((x) => typeof x.request.val)).toEqual(user.map(() => 'string'))
  }, 120_000)

  it('status on membership: the members of each source side by side (the 3-member 3.5 cluster)', async () => {
    const r = await runInProcess(['status', join(corpus.root, 'gsh3729__twitter_distributed_system__64cb1cf__infra0'), '-w', 'json'])
    const st = JSON.parse(r.stdout)
    expect(st.members.bySource).toHaveLength(3)
    for (const m of st.members.bySource) expect(m).toMatchObject({ wal: null, snap: null, db: 'voter' })
    expect(st.compatibility.verdicts.map((v: { verdict: string }) => v.verdict.split(':')[0])).toEqual(['cannot start', 'cannot start', 'cannot start', 'cannot start'])
  }, 120_000)

  for (const [name, want] of Object.entries(E)) {
    it(name, async () => {
      const dir = join(corpus.root, name)
      const before = hashTree(dir)
      const db = join(dir, 'member/snap/db')
      // etcdctl runs in parallel with our commands (it reads a copy).
      const ctl = existsSync(db) ? etcdctlStatus(db, name) : Promise.resolve(null)
      const got: number[] = []
      const outputs: Record<string, string> = {}
      for (const c of COMMANDS) {
        const r = await runInProcess([...c, dir, '-w', 'json'])
        got.push(r.code)
        const what = `${c.join(' ')} ${name}`
        expect(r.stderr, what).not.toMatch(/internal error|\n\s+at |uncaught/)
        if (r.code !== 0) expect(r.stderr, what).toMatch(/^Error: /m)
        // A command that produced a result printed it as JSON (exit 0, 4 and 5 may carry one).
        if (r.stdout.trim()) expect(() => JSON.parse(r.stdout), what).not.toThrow()
        outputs[c.join(' ')] = r.stdout
      }
      expect({ name, codes: got }).toEqual({ name, codes: want.codes })

      const st = JSON.parse(outputs.status!)
      expect(st.state).toBe(want.state)
      expect(st.version.etcdGuess).toBe(want.guess)
      expect(st.version.decidedBy).toBe(want.decidedBy)
      const codes = (st.findings as { code: string }[]).map((f) => f.code)
      expect(codes).toEqual(expect.arrayContaining(want.findings ?? []))

      const theirs = await ctl
      if (want.codes[3] === 0) {
        expect(theirs, `etcdctl snapshot status ${name}`).not.toBeNull()
        const ours = JSON.parse(outputs['db status']!)
        expect({ hash: ours.hash, revision: Number(ours.revision), totalKey: ours.totalKey, totalSize: ours.totalSize }).toEqual(theirs)
      }
      expect(hashTree(dir), `${name} unchanged`).toEqual(before)
    }, 120_000)
  }
})
