import { describe, expect, it } from 'vitest'
import { mkdirSync, writeFileSync, existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { Journal } from '../../src/io/journal.js'
import { OpLock, breakStaleLock } from '../../src/io/oplock.js'
import { archiveDataDir, archivePathFor, findArchives, verifyArchive } from '../../src/io/archive.js'
import { UnsafeOperationError } from '../../src/errors.js'
import { tempDir } from '../support/etcd.js'
import { hashTree } from '../support/tree-hash.js'

describe('journal (LMDB)', () => {
  it('stores the plan, intent and evidence records in order, durable across reopen', () => {
    const dir = tempDir('journal-')
    const j = Journal.open(dir)
    j.putOp({ opId: 'op1', createdAt: '2026-01-01T00:00:00Z', updatedAt: '', status: 'running', planJson: '{"version":1}', facts: {} })
    j.append('op1', { step: 1, kind: 'snapshot', phase: 'intent' })
    j.append('op1', { step: 1, kind: 'snapshot', phase: 'done', evidence: { sha256: 'ab' } })
    j.setFact('op1', 'snapshotSha256', 'ab')
    j.close()
    const k = Journal.open(dir)
    expect(k.getOp('op1')).toMatchObject({ status: 'running', planJson: '{"version":1}', facts: { snapshotSha256: 'ab' } })
    expect(k.events('op1').map((e) => [e.seq, e.phase])).toEqual([[1, 'intent'], [2, 'done']])
    expect(k.stepStates('op1').get(1)?.evidence).toEqual({ sha256: 'ab' })
    expect(k.listOps().map((o) => o.opId)).toEqual(['op1'])
    k.close()
    expect(readdirSync(dir).sort()).toEqual(['journal.lmdb', 'journal.lmdb-lock'])
  })

  it('a record written right before SIGKILL survives', () => {
    const dir = tempDir('journal-kill-')
    const src = `import { Journal } from ${JSON.stringify(join(import.meta.dirname, '../../dist/io/journal.js'))}
const j = Journal.open(${JSON.stringify(dir)})
j.putOp({ opId: 'k', createdAt: 'x', updatedAt: '', status: 'running', planJson: '{}', facts: {} })
j.append('k', { step: 3, kind: 'remove-member', phase: 'intent' })
process.kill(process.pid, 'SIGKILL')`
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', src])
    expect(r.signal).toBe('SIGKILL')
    const j = Journal.open(dir)
    expect(j.events('k').map((e) => e.phase)).toEqual(['intent'])
    j.close()
  })
})

describe('local lock', () => {
  it('refuses a second holder while the first runs, takes over a dead one', () => {
    const dir = tempDir('lock-')
    const a = OpLock.acquire(dir, 'op1')
    writeFileSync(join(dir, 'replace.lock'), JSON.stringify({ pid: process.ppid, opId: 'other', at: 'now' }))
    expect(() => OpLock.acquire(dir, 'op2')).toThrow(UnsafeOperationError)
    expect(() => OpLock.acquire(dir, 'op2')).toThrow(/another replace run holds .* \(pid \d+, op other/)
    // A PID that cannot exist: stale, taken over.
    writeFileSync(join(dir, 'replace.lock'), JSON.stringify({ pid: 2 ** 22 + 7, opId: 'dead', at: 'then' }))
    const b = OpLock.acquire(dir, 'op3')
    expect(JSON.parse(readFileSync(join(dir, 'replace.lock'), 'utf8')).opId).toBe('op3')
    b.release()
    a.release()
    expect(existsSync(join(dir, 'replace.lock'))).toBe(false)
    writeFileSync(join(dir, 'replace.lock'), JSON.stringify({ pid: 2 ** 22 + 7, opId: 'dead', at: 'then' }))
    expect(breakStaleLock(dir)?.opId).toBe('dead')
  })
})

describe('archive', () => {
  it('renames the dir aside with a manifest, byte-for-byte, never deleting', () => {
    const root = tempDir('archive-')
    const d = join(root, 'm1.etcd')
    mkdirSync(join(d, 'member', 'wal'), { recursive: true })
    mkdirSync(join(d, 'member', 'snap'))
    writeFileSync(join(d, 'member', 'wal', '0000000000000000-0000000000000000.wal'), Buffer.alloc(4096, 7))
    writeFileSync(join(d, 'member', 'snap', 'db'), 'bbolt')
    const before = hashTree(d).map(({ path, size, sha256 }) => ({ path, size, sha256 }))
    const now = new Date('2026-11-25T18:15:00.123Z')
    const m = archiveDataDir({ dataDir: d, memberIdHex: 'abc', clusterIdHex: 'def', opId: 'op', reason: 'MEMBER', now })
    expect(m.archivePath).toBe(`${d}.removed-abc-20261125T181500Z`)
    expect(archivePathFor(d, 'abc', now)).toBe(m.archivePath)
    expect(existsSync(d)).toBe(false)
    const after = hashTree(m.archivePath).filter((e) => e.path !== 'ARCHIVE.json').map(({ path, size, sha256 }) => ({ path, size, sha256 }))
    expect(after).toEqual(before)
    expect(existsSync(join(m.archivePath, 'member', 'ARCHIVE.json'))).toBe(false)
    expect(m.files.map((f) => f.path)).toEqual(['member/snap/db', 'member/wal/0000000000000000-0000000000000000.wal'])
    expect(verifyArchive(m.archivePath)).toEqual([])
    expect(findArchives(d, 'abc')).toEqual([m.archivePath])
    writeFileSync(join(m.archivePath, 'member', 'snap', 'db'), 'changed')
    expect(verifyArchive(m.archivePath)).toEqual(['member/snap/db'])
  })

  it('refuses to overwrite an existing archive', () => {
    const root = tempDir('archive2-')
    const d = join(root, 'x')
    mkdirSync(d)
    const now = new Date('2026-11-25T18:15:00Z')
    mkdirSync(archivePathFor(d, 'abc', now))
    expect(() => archiveDataDir({ dataDir: d, memberIdHex: 'abc', clusterIdHex: 'def', opId: 'op', reason: 'MEMBER', now })).toThrow(/already exists; nothing was changed/)
    expect(existsSync(d)).toBe(true)
  })
})
