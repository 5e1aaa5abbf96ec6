import { describe, expect, it } from 'vitest'
import { mkdirSync, writeFileSync, appendFileSync, utimesSync, statSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { archiveDataDir, preHashTree, verifyArchive } from '../../src/io/archive.js'
import { tempDir } from '../support/etcd.js'

const sha = (s: string): string => createHash('sha256').update(s).digest('hex')

describe('archive manifest hashed ahead of the rename', () => {
  it('takes pre-computed hashes of unchanged files and re-hashes files changed since', async () => {
    const root = tempDir('prehash-')
    const d = join(root, 'm1.etcd')
    mkdirSync(join(d, 'member', 'wal'), { recursive: true })
    mkdirSync(join(d, 'member', 'snap'), { recursive: true })
    writeFileSync(join(d, 'member', 'wal', '0.wal'), 'wal-bytes')
    writeFileSync(join(d, 'member', 'snap', 'db'), 'db-bytes')
    writeFileSync(join(d, 'member', 'snap', 'same-size'), 'aaaa')
    const pre = await preHashTree(d)
    expect(pre.files.get('member/wal/0.wal')?.sha256).toBe(sha('wal-bytes'))
    // Changed after the pre-hash: a longer file, and one rewritten with the same size and mtime
    // (its ctime still moves) — both must be hashed again, not taken from the pre-hash.
    appendFileSync(join(d, 'member', 'snap', 'db'), '+more')
    const st = statSync(join(d, 'member', 'snap', 'same-size'))
    await new Promise((r) => setTimeout(r, 20))
    writeFileSync(join(d, 'member', 'snap', 'same-size'), 'bbbb')
    utimesSync(join(d, 'member', 'snap', 'same-size'), st.atime, st.mtime)
    writeFileSync(join(d, 'member', 'new-file'), 'new')
    const m = archiveDataDir({ dataDir: d, memberIdHex: 'abc', clusterIdHex: 'def', opId: 'op', reason: 'MEMBER', preHash: pre })
    const got = Object.fromEntries(m.files.map((f) => [f.path, f.sha256]))
    expect(got).toEqual({
      'member/new-file': sha('new'),
      'member/snap/db': sha('db-bytes+more'),
      'member/snap/same-size': sha('bbbb'),
      'member/wal/0.wal': sha('wal-bytes'),
    })
    expect(verifyArchive(m.archivePath)).toEqual([])
  })

  it('ignores a pre-hash of another dir', async () => {
    const root = tempDir('prehash2-')
    const a = join(root, 'a')
    const b = join(root, 'b')
    mkdirSync(a)
    mkdirSync(b)
    writeFileSync(join(a, 'f'), 'from-a')
    writeFileSync(join(b, 'f'), 'from-b')
    const pre = await preHashTree(a)
    const m = archiveDataDir({ dataDir: b, memberIdHex: 'abc', clusterIdHex: 'def', opId: 'op', reason: 'MEMBER', preHash: pre })
    expect(m.files).toEqual([{ path: 'f', size: 6, sha256: sha('from-b') }])
  })
})
