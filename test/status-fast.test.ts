/**
 * The fast WAL read of `status`/`check` (default: the last segment CRC-checked, older segments of
 * the boot range frame-scanned newest-first) against the reference reads (`walRead: 'boot'`: the
 * boot range CRC-checked; `allWalSegments`: everything): the same evidence on every fixture, on
 * hand-built multi-segment WALs (big frames read head-only, conf changes across segments, an
 * overwrite in the last segment), and the same verdict inputs on damaged copies.
 */
import { describe, expect, it } from 'vitest'
import { mkdirSync, openSync, readSync, writeSync, closeSync, writeFileSync, readdirSync, statSync, truncateSync } from 'node:fs'
import { join } from 'node:path'
import { collectStatus, type StatusResult } from '../src/app/status.js'
import { toJson } from '../src/render/json.js'
import { hashTree } from './support/tree-hash.js'
import { allDataDirs, extractMultiseg, materialize } from './support/fixtures.js'
import { tempDir } from './support/etcd.js'
import { confChange, firstSegment, WalWriter } from './support/wal-writer.js'

const plain = (r: StatusResult): Record<string, unknown> => JSON.parse(toJson({ ...r, elapsedMs: 0 }))
const read = (dir: string, mode: 'fast' | 'boot' | 'all') =>
  collectStatus(dir, { skipLockCheck: true, ...(mode === 'all' ? { allWalSegments: true } : { walRead: mode }) })

/** What `check` takes from the offline evidence (verdicts.ts evidenceOf + decide). */
function evidence(r: StatusResult) {
  return {
    state: r.state, memberId: r.memberId, clusterId: r.clusterId, hardState: r.hardState, lastIndex: r.lastIndex,
    snapshotIndex: r.snapshotIndex, snapshotTerm: r.snapshotTerm, snapshotWal: r.snapshot.wal, consistentIndex: r.consistentIndex,
    revision: r.revision, dbBytes: r.sizes.dbBytes, integrityOk: r.integrity.ok, walStatus: r.integrity.wal.status, dbStatus: r.integrity.db.status,
    invariants: r.integrity.invariants, inUse: r.inUse.held, selfRemovedInDb: r.members.selfRemovedInDb, selfRemovedInWal: r.members.selfRemovedInWal,
    selfInDb: r.members.selfInDb, membersDb: r.members.db, errors: r.findings.filter((f) => f.severity === 'error').map((f) => f.code),
  }
}

describe('fast WAL read = reference reads on the fixtures', () => {
  for (const d of allDataDirs()) {
    it(`${d.fixture}/${d.key}: fast, boot and all-segments results are identical (trimmed and full-size)`, async () => {
      const before = hashTree(d.dir)
      const fast = await read(d.dir, 'fast')
      expect(plain(fast)).toEqual(plain(await read(d.dir, 'boot')))
      expect(plain(fast)).toEqual(plain(await read(d.dir, 'all')))
      expect(hashTree(d.dir)).toEqual(before)
      const m = materialize(d.fixture, { fullSize: true })
      try {
        const full = m.dataDirs[d.key]!
        const ff = await read(full, 'fast')
        expect(plain(ff)).toEqual(plain(await read(full, 'all')))
        expect(evidence(ff)).toEqual(evidence(fast))
      } finally {
        m.cleanup()
      }
    })
  }

  it('multiseg: the same evidence as the boot and the all-segments reads; says which segments were CRC-checked', async () => {
    const dir = extractMultiseg({ shared: true }).dataDir
    const before = hashTree(dir)
    const fast = await read(dir, 'fast')
    const boot = await read(dir, 'boot')
    const all = await read(dir, 'all')
    expect(hashTree(dir)).toEqual(before)
    expect(evidence(fast)).toEqual(evidence(boot))
    expect(evidence(fast)).toEqual(evidence(all))
    // Everything but the wording of the WAL check equals the boot read (same range).
    const strip = (r: StatusResult) => plain({ ...r, integrity: { ...r.integrity, wal: { ...r.integrity.wal, detail: '' } } })
    expect(strip(fast)).toEqual(strip(boot))
    expect(fast.walRange).toEqual(boot.walRange)
    if (fast.walRange!.segmentsRead > 1) {
      expect(fast.integrity.wal.detail).toMatch(/CRC chain checked from \S+\.wal \(1 of \d+ segments read\), the older ones frame-checked only/)
    } else {
      expect(fast.integrity.wal.detail).toMatch(/CRC chain intact, clean end$/)
    }
    expect(all.integrity.wal.detail).toMatch(/^3 segment\(s\), CRC chain intact, clean end$/)
  })
})

const ME = 0x2f7fbfd36802ff7an
const PEER = 0x1111111111111111n
const hex16 = (v: bigint | number): string => BigInt(v).toString(16).padStart(16, '0')
const ctx = (id: bigint, url: string) => `{"id":${id},"peerURLs":["${url}"],"name":"x"}`

/** A WAL dir of several segments with the chain carried over, as wal.go writes it. */
function writeWal(build: (w: WalWriter, cut: () => void) => void): string {
  const dir = join(tempDir(), 'd.etcd')
  const wal = join(dir, 'member/wal')
  mkdirSync(wal, { recursive: true })
  mkdirSync(join(dir, 'member/snap'), { recursive: true })
  const w = firstSegment()
  let seq = 0
  let nameIndex = 0n
  let lastIndex = 0n
  const origEntry = w.entry.bind(w)
  w.entry = (term, index, data = [], type = 0) => {
    lastIndex = BigInt(index)
    return origEntry(term, index, data, type)
  }
  const cut = () => {
    writeFileSync(join(wal, `${hex16(seq)}-${hex16(nameIndex)}.wal`), w.cut())
    seq++
    nameIndex = lastIndex + 1n
    w.crcRecord().metadata()
  }
  build(w, cut)
  writeFileSync(join(wal, `${hex16(seq)}-${hex16(nameIndex)}.wal`), w.cut(4096))
  return dir
}

const big = new Uint8Array(100 * 1024).fill(7)

function membershipWal(): string {
  return writeWal((w, cut) => {
    w.state(1, ME, 0)
    w.entry(1, 1, confChange(0, ME, ctx(ME, 'http://127.0.0.1:2380')), 1)
    w.entry(1, 2, confChange(0, PEER, ctx(PEER, 'http://127.0.0.2:2380')), 1)
    w.state(1, ME, 2)
    for (let i = 3; i <= 20; i++) w.entry(1, i, i % 3 === 0 ? big : [1, 2, 3])
    cut()
    w.state(1, ME, 20)
    w.entry(2, 21, confChange(1, PEER), 1) // remove PEER, committed
    for (let i = 22; i <= 40; i++) w.entry(2, i, i % 2 === 0 ? big : [4])
    w.entry(2, 41, confChange(0, 0x2222n, ctx(0x2222n, 'http://127.0.0.3:2380')), 1) // uncommitted, overwritten below
    w.state(2, ME, 40)
    cut()
    w.state(2, ME, 40)
    w.entry(3, 41, [9]) // a new leader overwrites 41
    for (let i = 42; i <= 50; i++) w.entry(3, i, [i])
    w.state(3, ME, 50)
  })
}

describe('fast WAL read on hand-built multi-segment WALs', () => {
  it('conf changes across segments, big frames read head-only, an overwrite in the last segment: same as the full read', async () => {
    const dir = membershipWal()
    const before = hashTree(dir)
    const fast = await read(dir, 'fast')
    const all = await read(dir, 'all')
    expect(hashTree(dir)).toEqual(before)
    expect(fast.walRange).toEqual({ fromSegment: `${hex16(0)}-${hex16(0)}.wal`, segmentsRead: 3, segmentsTotal: 3 })
    for (const k of ['memberId', 'clusterId', 'hardState', 'firstIndex', 'lastIndex', 'snapshotIndex', 'snapshotTerm', 'snapshot', 'members', 'findings'] as const) {
      expect(plain(fast as StatusResult)[k as never], k).toEqual(plain(all)[k as never])
    }
    expect(fast.members.walConfChanges.map((c) => [c.type, c.nodeId, String(c.index)])).toEqual([
      ['add', hex16(ME).replace(/^0+/, ''), '1'], ['add', '1111111111111111', '2'], ['remove', '1111111111111111', '21'],
    ])
    expect(fast.lastIndex).toBe(50n)
    expect(fast.integrity.wal.status).toBe('ok')
    expect(fast.integrity.wal.detail).toMatch(/CRC chain checked from 0000000000000002-\S+\.wal \(1 of 3 segments read\)/)
  })

  it('stops at the newest segment holding a snapshot record <= commit', async () => {
    const dir = writeWal((w, cut) => {
      w.state(1, ME, 0)
      for (let i = 1; i <= 10; i++) w.entry(1, i, [i])
      w.state(1, ME, 10)
      cut()
      w.snapshot(10, 1, [ME])
      for (let i = 11; i <= 20; i++) w.entry(1, i, [i])
      w.state(1, ME, 20)
      cut()
      for (let i = 21; i <= 30; i++) w.entry(1, i, [i])
      w.state(1, ME, 30)
      w.snapshot(35, 1, [ME]) // beyond commit: not valid
    })
    const fast = await read(dir, 'fast')
    const all = await read(dir, 'all')
    expect(fast.walRange).toEqual({ fromSegment: `${hex16(1)}-${hex16(11)}.wal`, segmentsRead: 2, segmentsTotal: 3 })
    expect(fast.snapshotIndex).toBe(10n)
    expect(fast.snapshot.wal).toEqual({ index: 35n, term: 1n })
    expect(evidence(fast)).toEqual(evidence(all))
    expect(fast.firstIndex).toBe(1n)
  })
})

describe('fast WAL read on damaged copies: same verdict inputs', () => {
  const flip = (file: string, at: number) => {
    const fd = openSync(file, 'r+')
    const b = Buffer.alloc(1)
    readSync(fd, b, 0, 1, at)
    b[0] = b[0]! ^ 0xff
    writeSync(fd, b, 0, 1, at)
    closeSync(fd)
  }
  const lastSeg = (dir: string) => {
    const wal = join(dir, 'member/wal')
    return join(wal, readdirSync(wal).filter((n) => n.endsWith('.wal')).sort().at(-1)!)
  }

  // Damage to the last segment of a copy of `single`, which the fast read checks in full.
  const lastSegmentCases: { name: string; damage(seg: string): void; status: string }[] = [
    {
      name: 'a flipped byte inside a record of the last segment: corrupt, identical result (the library reader reports it)',
      damage: (seg) => flip(seg, 200),
      status: 'corrupt',
    },
    {
      name: 'a torn tail in the last segment: torn-tail, identical result',
      damage: (seg) => truncateSync(seg, Math.floor(statSync(seg).size / 16) * 8 + 3), // inside a frame (frames are 8-aligned)
      status: 'torn-tail',
    },
  ]
  for (const c of lastSegmentCases) {
    it(c.name, async () => {
      const m = materialize('single')
      try {
        c.damage(lastSeg(m.dataDir))
        const fast = await read(m.dataDir, 'fast')
        expect(fast.integrity.wal.status).toBe(c.status)
        expect(plain(fast)).toEqual(plain(await read(m.dataDir, 'boot')))
      } finally {
        m.cleanup()
      }
    })
  }

  it('an older segment cut short is corruption for the fast read too', async () => {
    const dir = membershipWal()
    const f = join(dir, 'member/wal', readdirSync(join(dir, 'member/wal')).sort()[1]!)
    truncateSync(f, statSync(f).size - 50)
    const fast = await read(dir, 'fast')
    const all = await read(dir, 'all')
    expect(all.integrity.wal.status).toBe('corrupt')
    expect(fast.integrity.wal.status).toBe('corrupt')
    expect(fast.integrity.ok).toBe(false)
    expect(fast.findings.find((x) => x.code === 'truncated-segment')).toMatchObject({ severity: 'error', file: readdirSync(join(dir, 'member/wal')).sort()[1] })
    expect(all.findings.find((x) => x.code === 'truncated-segment')).toMatchObject({ severity: 'error', file: readdirSync(join(dir, 'member/wal')).sort()[1] })
  })

  it('a payload byte flipped in an older segment: only the CRC chain shows it; the fast read says it did not check there', async () => {
    const dir = membershipWal()
    const f = join(dir, 'member/wal', readdirSync(join(dir, 'member/wal')).sort()[0]!)
    flip(f, 60_000) // inside the 100 KiB payload of entry 3 in segment 0
    const all = await read(dir, 'all')
    const fast = await read(dir, 'fast')
    expect(all.integrity.wal.status).toBe('corrupt')
    expect(fast.integrity.wal.status).toBe('ok')
    expect(fast.integrity.wal.detail).toMatch(/the older ones frame-checked only \(etcd-inspect wal verify or status --all-wal-segments checks the whole chain\)/)
  })
})
