/**
 * A db that changes while it is read (what a running etcd does): the txid re-check at the end,
 * and the retry on a newer view when a read failed because pages moved underneath.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { withDb, dbStatus } from '../../src/app/db.js'
import { readSummary } from '../../src/format/backend/schema.js'
import { DecodeError } from '../../src/errors.js'
import { buildDb, metaPage } from '../support/bbolt-writer.js'

const dir = mkdtempSync(join(tmpdir(), 'db-moving-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const entries = Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, value: `v${i}` }))

/** A small db (meta txid 3) written to `name` in the temp dir. */
function dbFile(name: string): { d: ReturnType<typeof buildDb>; p: string } {
  const d = buildDb([{ name: 'b', entries }])
  const p = join(dir, name)
  writeFileSync(p, d.bytes)
  return { d, p }
}

/** "etcd commits": rewrites the file with a new meta of `txid` in slot txid % 2, as bbolt does. */
function commit(d: ReturnType<typeof buildDb>, p: string, txid: bigint): void {
  const index = Number(txid % 2n) as 0 | 1
  const newer = Buffer.from(d.bytes)
  newer.set(metaPage({ pageSize: 4096, index, root: d.rootPage, pgid: d.pgid, txid }), index * 4096)
  writeFileSync(p, newer)
}

describe('reading a db that moves on', () => {
  it('reports live.moved when a newer meta was committed during the read', () => {
    const { d, p } = dbFile('moved.db')
    const r = withDb(p, (f) => {
      commit(d, p, 4n)
      return readSummary(f).buckets
    })
    expect(r.result).toEqual(['b'])
    expect(r.db.live).toEqual({ txid: 3n, txidAtEnd: 4n, moved: true, consistent: true, retries: 0 })
  })
  it('starts over when the txid advanced by 2 or more (pages of the view may have been reused)', () => {
    const { d, p } = dbFile('moved2.db')
    let calls = 0
    const r = withDb(p, (f) => {
      calls++
      if (calls === 1) commit(d, p, 5n)
      return f.meta.txid
    })
    expect(calls).toBe(2)
    expect(r.result).toBe(5n)
    expect(r.db.live).toEqual({ txid: 5n, txidAtEnd: 5n, moved: false, consistent: true, retries: 1 })
  })
  it('retries on the new view when a read failed and the txid moved', () => {
    const { d, p } = dbFile('retry.db')
    let calls = 0
    const r = withDb(p, (f) => {
      calls++
      if (calls === 1) {
        commit(d, p, 4n)
        throw new DecodeError(f.file, 8192, 'page-id-mismatch', 'bbolt: page reused underneath')
      }
      return f.meta.txid
    })
    expect(calls).toBe(2)
    expect(r.result).toBe(4n)
    expect(r.db.live.retries).toBe(1)
    expect(r.db.live.moved).toBe(false)
  })
  it('gives up after 3 retries with the snapshot-save hint', () => {
    const { d, p } = dbFile('giveup.db')
    let txid = 3n
    const attempt = (): never => {
      commit(d, p, ++txid)
      throw new DecodeError(p, 8192, 'page-id-mismatch', 'bbolt: page reused underneath')
    }
    let err: unknown
    try { withDb(p, attempt) } catch (e) { err = e }
    expect(err).toBeInstanceOf(DecodeError)
    expect((err as DecodeError).detail).toMatch(/^bbolt: page reused underneath \(the file changed underneath: txid \d+ -> \d+, after 4 attempts\)$/)
    expect((err as DecodeError).hint).toBe('etcd is writing to this db: take a consistent copy with `etcdctl snapshot save` and inspect that')
  })
  it('a quiet file is not reported as moved', () => {
    const { p } = dbFile('quiet.db')
    expect(dbStatus(p).live).toEqual({ txid: 3n, txidAtEnd: 3n, moved: false, consistent: true, retries: 0 })
  })
})
