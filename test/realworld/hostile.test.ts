/**
 * Issue 11, point 8: hostile file-system objects in a data dir get one clear error line naming
 * the path and a non-zero exit, never a hang, an internal error or a verdict that hides them.
 * Permission cases run the CLI as an unprivileged user (setpriv to nobody): root ignores modes.
 * Every spawn has a timeout, so a command blocked on a FIFO fails the test instead of hanging it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CLI } from '../support/cli.js'
import { sharedTestdata } from '../support/shared-testdata.js'
import { unpackCorpus } from './corpus.js'
import { freePort } from '../support/etcd.js'
import { hashTree } from '../support/tree-hash.js'
import { runPrinted } from '../replace/helpers.js'

/** The corpus' one complete 3.4 member (WAL + db). */
const BASE = 'hihif__FT_Transcendance__3e6e33d'
const SEG = 'member/wal/0000000000000000-0000000000000000.wal'

let root: string
let corpus: ReturnType<typeof unpackCorpus>
beforeAll(() => {
  corpus = unpackCorpus()
  root = mkdtempSync(join(tmpdir(), 'hostile-'))
  chmodSync(root, 0o755)
})
afterAll(() => {
  corpus?.cleanup()
  if (root) {
    spawnSync('chmod', ['-R', 'u+rwx', root])
    rmSync(root, { recursive: true, force: true })
  }
})

/** A fresh copy of the base member under `name`, world-readable. */
function member(name: string): string {
  const d = join(root, name)
  cpSync(join(corpus.root, BASE), d, { recursive: true })
  spawnSync('chmod', ['-R', 'a+rX', d])
  return d
}

const isRoot = process.getuid?.() === 0
/** Runs the CLI (as nobody when `unprivileged` and we are root), with a timeout against hangs. */
function cli(args: string[], unprivileged = false): { code: number | null; stdout: string; stderr: string; timedOut: boolean } {
  const cmd = unprivileged && isRoot
    ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, ...args]
    : [process.execPath, CLI, ...args]
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', timeout: 60_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, timedOut: r.error !== undefined && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT' }
}

function oneLine(r: { stderr: string }, ...needles: (string | RegExp)[]): void {
  expect(r.stderr).not.toMatch(/internal error|\n\s+at /)
  const errs = r.stderr.trimEnd().split('\n').filter((l) => l.startsWith('Error: '))
  expect(errs.length).toBeGreaterThanOrEqual(1)
  for (const n of needles) expect(errs.join('\n')).toMatch(n)
}

describe('hostile file-system objects', () => {
  it('a FIFO in place of the db: db status, db check and status refuse it (exit 3) instead of blocking', () => {
    const d = member('fifo-db')
    rmSync(join(d, 'member/snap/db'))
    expect(spawnSync('mkfifo', [join(d, 'member/snap/db')]).status).toBe(0)
    for (const c of [['db', 'status'], ['db', 'check'], ['status']]) {
      const r = cli([...c, d, '-w', 'json'])
      expect(r.timedOut, c.join(' ')).toBe(false)
      expect({ c, code: r.code }).toEqual({ c, code: 3 })
      oneLine(r, `${d}/member/snap/db: is a FIFO (named pipe), not a regular file`)
    }
  }, 240_000)

  it('a FIFO in place of a WAL segment: wal, wal verify and status refuse it (exit 3)', () => {
    const d = member('fifo-wal')
    rmSync(join(d, SEG))
    expect(spawnSync('mkfifo', [join(d, SEG)]).status).toBe(0)
    for (const c of [['wal'], ['wal', 'verify'], ['status']]) {
      const r = cli([...c, d, '-w', 'json'])
      expect(r.timedOut, c.join(' ')).toBe(false)
      expect({ c, code: r.code }).toEqual({ c, code: 3 })
      oneLine(r, `${d}/${SEG}: is a FIFO (named pipe), not a regular file`)
    }
  }, 240_000)

  it('an unreadable member/wal: status, snap and wal verify exit 3 naming it (as nobody)', () => {
    const d = member('wal-000')
    chmodSync(join(d, 'member/wal'), 0o000)
    for (const c of [['status'], ['snap'], ['wal', 'verify']]) {
      const r = cli([...c, d, '-w', 'json'], true)
      expect({ c, code: r.code }).toEqual({ c, code: 3 })
      oneLine(r, `${d}/member/wal: permission denied`)
    }
  }, 240_000)

  it('an unreadable member/ never looks empty: status exits 3 naming it (as nobody)', () => {
    const d = member('member-000')
    chmodSync(join(d, 'member'), 0o000)
    const r = cli(['status', d, '-w', 'json'], true)
    expect(r.code).toBe(3)
    expect(r.stdout).not.toMatch(/"empty"/)
    oneLine(r, `${d}/member: permission denied`)
    const db = cli(['db', 'status', d], true)
    expect(db.code).toBe(3)
    oneLine(db, `${d}/member/snap/db: permission denied`)
  }, 240_000)

  it('check as nobody on a db it cannot read: UNKNOWN/OFFLINE_UNREADABLE (exit 30), and the status it prints, run as printed (as nobody), names the file (exit 3)', async () => {
    const d = member('db-000')
    const db = join(d, 'member/snap/db')
    chmodSync(db, 0o000)
    // The verdict is offline (decided before the cluster's answers count): a closed loopback port.
    const port = await freePort('127.0.0.1')
    const before = hashTree(d)
    const r = cli(['check', d, '--endpoints', `http://127.0.0.1:${port}`, '-w', 'json'], true)
    expect(r.code, r.stderr).toBe(30)
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /)
    const v = JSON.parse(r.stdout)
    expect([v.verdict, v.subReason]).toEqual(['UNKNOWN', 'OFFLINE_UNREADABLE'])
    expect(v.reason).toBe(`the data dir could not be read completely: ${db}: permission denied (cannot open)`)
    expect(v.commands).toEqual([`etcd-inspect status ${d}`])
    const s = await runPrinted(v.commands[0], {}, 60_000, { asNobody: true })
    expect(s.code).toBe(3)
    expect(s.stderr.trimEnd().split('\n')).toHaveLength(1)
    oneLine(s, `${db}: permission denied`)
    expect(s.stderr).toMatch(/run as the etcd user or root/)
    expect(hashTree(d)).toEqual(before)
  }, 240_000)

  it('a directory where the db should be: status and db status exit 3 naming it', () => {
    const d = member('db-dir')
    rmSync(join(d, 'member/snap/db'))
    mkdirSync(join(d, 'member/snap/db'))
    const r = cli(['status', d, '-w', 'json'])
    expect(r.code).toBe(3)
    oneLine(r, `${d}/member/snap/db: is a directory`)
    expect(JSON.parse(r.stdout).integrity.db.status).toBe('unavailable')
    const s = cli(['db', 'status', d])
    expect(s.code).toBe(3)
    oneLine(s, `${d}/member/snap/db: is a directory`)
  }, 240_000)

  it('member/wal as a plain file: status and snap say so (exit 3)', () => {
    const d = member('wal-file')
    rmSync(join(d, 'member/wal'), { recursive: true })
    writeFileSync(join(d, 'member/wal'), 'not a dir\n')
    for (const c of [['status'], ['snap']]) {
      const r = cli([...c, d])
      expect({ c, code: r.code }).toEqual({ c, code: 3 })
      oneLine(r, `${d}/member/wal: is a file, not a directory`)
    }
  }, 240_000)

  it('db check names the file and byte offset of each finding on stdout and sums them up on stderr (exit 4)', () => {
    const db = join(sharedTestdata('k8s'), 'db')
    const r = cli(['db', 'check', db])
    expect(r.code).toBe(4)
    expect(r.stdout).toMatch(new RegExp(`^error: ${db.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}@8200: bad-page-type: `, 'm'))
    oneLine(r, /structural error\(s\), first at .*db@8200: bad-page-type/)
    const j = JSON.parse(cli(['db', 'check', db, '-w', 'json']).stdout)
    expect(j.check.findings[0]).toMatchObject({ file: db, offset: 8200, code: 'bad-page-type' })
  }, 240_000)

  it('db keys exits 4 when damage hides the key bucket, 3 for a bucket the db never had', () => {
    const d = member('hidden-key')
    const db = join(d, 'member/snap/db')
    // Shorten the root bucket's leaf so that it lists only the buckets before `key`: a damaged
    // root page no structural check can tell from a db without those buckets.
    const buf = readFileSync(db)
    const meta = (i: number): { root: number; txid: bigint } => ({ root: Number(buf.readBigUInt64LE(i * 4096 + 16 + 16)), txid: buf.readBigUInt64LE(i * 4096 + 16 + 48) })
    const m = meta(0).txid > meta(1).txid ? meta(0) : meta(1)
    const off = m.root * 4096
    const count = buf.readUInt16LE(off + 10)
    expect(count).toBeGreaterThan(6)
    buf.writeUInt16LE(5, off + 10)
    writeFileSync(db, buf)
    const r = cli(['db', 'keys', d, 'key'])
    expect(r.code).toBe(4)
    oneLine(r, new RegExp(`${db}@${off}: bucket "key" not found, yet this is an etcd db`))
    const none = cli(['db', 'keys', d, 'nope'])
    expect(none.code).toBe(3)
    oneLine(none, /bucket "nope" not found/)
  }, 240_000)
})
