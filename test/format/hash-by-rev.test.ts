/**
 * `hashByRev` (etcd's HashKV, mvcc/kvstore.go HashByRev) on hand-built dbs: which revision rows are
 * hashed at R with a compaction revision C. Expected hashes are CRC-32C (the `crc-32` package, not
 * our own CRC) over 'key' and the rows listed by hand for each case. The same function is checked
 * against `etcdctl endpoint hashkv --rev R` on real etcd in test/live/compare.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import CRC32C from 'crc-32/crc32c.js'
import { buildDb } from '../support/bbolt-writer.js'
import { tempDir } from '../support/etcd.js'
import { openFile } from '../../src/io/byte-source.js'
import { BoltFile } from '../../src/format/bbolt/file.js'
import { hashByRev } from '../../src/format/backend/hash.js'
import { encodeRevision } from '../../src/format/backend/revision.js'

const enc = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'utf8'))
const varint = (n: number): number[] => { const o: number[] = []; while (n >= 0x80) { o.push((n & 0x7f) | 0x80); n >>>= 7 } o.push(n); return o }
/** mvccpb.KeyValue: key, create_revision, mod_revision, version, value. */
function kv(key: string, mod: number, value: string): Uint8Array {
  const k = enc(key)
  const v = enc(value)
  return Uint8Array.from([0x0a, ...varint(k.length), ...k, 0x10, ...varint(mod), 0x18, ...varint(mod), 0x20, 1, 0x2a, ...varint(v.length), ...v])
}
interface Row { rev: number; key: string; value?: string; tomb?: boolean }
const rowBytes = (r: Row) => ({ key: encodeRevision(BigInt(r.rev), 0n, !!r.tomb), value: r.tomb ? kv(r.key, r.rev, '').subarray(0, 2 + r.key.length) : kv(r.key, r.rev, r.value ?? `v${r.rev}`) })

function hashOf(rows: Row[], rev: bigint, compact: bigint): number {
  const dir = tempDir('hash-by-rev-')
  const file = join(dir, 'db')
  writeFileSync(file, buildDb([{ name: 'key', entries: rows.map(rowBytes) }, { name: 'meta', entries: [] }]).bytes)
  const src = openFile(file)
  try {
    return hashByRev(BoltFile.open(src, { file }), rev, compact).hash as number
  } finally {
    src.close()
  }
}
const expected = (rows: Row[]): number => {
  let h = CRC32C.buf(enc('key'), 0)
  for (const r of rows) { const b = rowBytes(r); h = CRC32C.buf(b.value, CRC32C.buf(b.key, h)) }
  return h >>> 0
}

describe('hashByRev: the rows etcd hashes at revision R', () => {
  // After a compaction at 5: a@3, b@4 kept (newest <= 5 of live keys); then a@6, c@7, del b@8, c@9.
  const rows: Row[] = [{ rev: 3, key: 'a' }, { rev: 4, key: 'b' }, { rev: 6, key: 'a' }, { rev: 7, key: 'c' }, { rev: 8, key: 'b', tomb: true }, { rev: 9, key: 'c' }]

  it('never compacted: every row with main <= R', () => {
    expect(hashOf(rows, 9n, 0n)).toBe(expected(rows))
    expect(hashOf(rows, 7n, 0n)).toBe(expected(rows.slice(0, 4)))
  })

  it('a row at or below the compaction is hashed only while it is its key\'s newest revision <= R', () => {
    // R=6: a changed at 6, so a@3 is not kept; b@4 still is.
    expect(hashOf(rows, 6n, 5n)).toBe(expected([rows[1]!, rows[2]!]))
    // R=9: b deleted at 8 as well: neither row <= 5 is kept; every row in (5, 9] is, tombstone included.
    expect(hashOf(rows, 9n, 5n)).toBe(expected(rows.slice(2)))
  })

  it('no key alive at R (Keep(R) empty): etcd skips the filter and hashes every row <= C', () => {
    const gone: Row[] = [{ rev: 3, key: 'a' }, { rev: 4, key: 'b' }, { rev: 6, key: 'a', tomb: true }, { rev: 7, key: 'b', tomb: true }]
    expect(hashOf(gone, 7n, 5n)).toBe(expected(gone))
    // One key still alive at R=6 (b): the filter applies and a@3 is dropped.
    expect(hashOf(gone, 6n, 5n)).toBe(expected([gone[1]!, gone[2]!]))
  })
})
