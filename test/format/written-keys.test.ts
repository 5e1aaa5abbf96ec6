/**
 * format/raft/entry writtenKeys: the keys the index build takes straight from an entry's bytes must
 * be exactly the keys of the decoded request (decodePayload: a put's key, a single-key delete's key,
 * through every txn branch; a delete with a range_end flags `range`), and anything it does not
 * take apart the canonical way must be left to the full decoder (false), never read differently.
 * Hand-built requests of every shape, then every entry of the real etcd 3.4 fixtures.
 */
import { describe, expect, it } from 'vitest'
import { decodePayload, newWrittenKeys, writtenKeys, type RequestOp } from '../../src/format/raft/entry.js'
import { readLog } from '../../src/format/wal/log.js'
import { openWal } from '../../src/app/wal.js'
import { pb, msg } from '../support/wal-writer.js'
import { allDataDirs } from '../support/fixtures.js'

const u8 = (b: number[]) => Uint8Array.from(b)
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const header = pb.bytes(100, msg(pb.varint(1, 0x1a47a23c3a731968n), pb.bytes(2, 'alice')))
const irr = (field: number, body: number[], withHeader = true) => u8(withHeader ? msg(header, pb.bytes(field, body)) : pb.bytes(field, body))

/** The oracle: keys of the fully decoded request, or null when it is not a put, delete or txn. */
function decodedKeys(data: Uint8Array): { keys: string[]; range: boolean } | null {
  const p = decodePayload(0, data)
  if (p.kind !== 'irr') return null
  const r = p.request
  if (r.kind !== 'put' && r.kind !== 'deleteRange' && r.kind !== 'txn') return null
  const keys: string[] = []
  let range = false
  const visit = (op: RequestOp): void => {
    if (op.kind === 'put') keys.push(hex(op.key))
    else if (op.kind === 'deleteRange') { if (op.rangeEnd && op.rangeEnd.length > 0) range = true; else keys.push(hex(op.key)) }
    else if (op.kind === 'txn') { op.success.forEach(visit); op.failure.forEach(visit) }
  }
  visit(r as RequestOp)
  return { keys: keys.sort(), range }
}

const wk = newWrittenKeys()
function fastKeys(data: Uint8Array): { keys: string[]; range: boolean } | false {
  if (!writtenKeys(data, wk)) return false
  const keys: string[] = []
  for (let i = 0; i < wk.n; i++) keys.push(hex(data.subarray(wk.starts[i]!, wk.ends[i]!)))
  return { keys: keys.sort(), range: wk.range }
}

const put = (k: string | number[], v = 'v') => msg(pb.bytes(1, typeof k === 'string' ? k : k), pb.bytes(2, v), pb.varint(3, 7))
const del = (k: string, end?: string) => msg(pb.bytes(1, k), ...(end !== undefined ? [pb.bytes(2, end)] : []))
const opPut = (k: string) => pb.bytes(2, put(k))
const opDel = (k: string, end?: string) => pb.bytes(3, del(k, end))
const opRange = (k: string) => pb.bytes(1, msg(pb.bytes(1, k)))
const opTxn = (body: number[]) => pb.bytes(4, body)
const success = (op: number[]) => pb.bytes(2, op)
const failure = (op: number[]) => pb.bytes(3, op)
const cmp = pb.bytes(1, msg(pb.varint(1, 1), pb.varint(2, 2), pb.bytes(3, 'k1'), pb.varint(6, 5)))

describe('writtenKeys', () => {
  it('takes the keys of puts, deletes and txns (nested, both branches, repeats, ranges) exactly as the decoder has them', () => {
    const inner = msg(success(opPut('k7')))
    const nested = msg(success(opPut('k4')), failure(opDel('k5', 'k6')), failure(opTxn(inner)))
    const long = [...Buffer.from('/registry/'), 0, ...Buffer.alloc(600, 0x61), 0]
    const cases: Uint8Array[] = [
      irr(4, put('/registry/pods/a')),
      irr(4, put('/registry/pods/a'), false),
      irr(4, put(long)),
      irr(4, msg(pb.bytes(2, 'value only'))), // no key: the empty key
      irr(5, del('/a')),
      irr(5, del('/a', '')), // an empty range_end is one key
      irr(5, del('/a', '/b')),
      irr(5, del('\0', '\0')), // from-key
      irr(6, msg(cmp, success(opPut('k1')), success(opDel('k2')), success(opRange('k3')), failure(opTxn(nested)))),
      irr(6, msg(success(opPut('same')), failure(opPut('same')))), // a key in both branches: twice (the sort drops the repeat)
      irr(6, msg(cmp)), // a txn of compares only: no keys
      irr(6, msg(success(opPut('x'.repeat(200_000))))), // lengths of three varint bytes
    ]
    cases.forEach((data, i) => {
      const want = decodedKeys(data)
      expect(want, `case ${i}`).not.toBeNull()
      expect(fastKeys(data), `case ${i}`).toEqual(want)
    })
    expect(decodedKeys(cases[8]!)!.keys.length).toBe(4)
  })

  it('leaves everything else to the full decoder (false): other requests, repeated fields, two requests, truncation', () => {
    const other = [
      irr(8, msg(pb.varint(1, 60), pb.varint(2, 5))), // leaseGrant
      irr(7, msg(pb.varint(1, 50))), // compaction
      u8(msg(pb.bytes(4, put('a')), pb.bytes(5, del('b')))), // two requests
      u8(msg(pb.bytes(4, put('a')), pb.bytes(4, put('b')))), // put twice (protobuf would merge)
      irr(4, msg(pb.bytes(1, 'a'), pb.bytes(1, 'b'))), // key twice
      irr(6, msg(success(msg(pb.bytes(2, put('a')), pb.bytes(3, del('b')))))), // a RequestOp with two requests
      irr(6, msg(success([]))), // a RequestOp with none
      new Uint8Array(0),
    ]
    for (const data of other) expect(writtenKeys(data, wk), hex(data)).toBe(false)
    const full = irr(6, msg(success(opPut('k1')), failure(opDel('k2'))))
    for (let cut = 1; cut < full.length; cut++) expect(writtenKeys(full.subarray(0, cut), wk), `cut at ${cut}`).toBe(false)
  })

  it('agrees with the decoder on every entry of the real etcd 3.4 fixtures', () => {
    let fast = 0
    let writes = 0
    for (const { dir } of allDataDirs()) {
      const { opened } = openWal(dir, {})
      try {
        for (const item of readLog(opened.segments, {}).items) {
          if (item.kind !== 'entry' || item.entry.entryType !== 0) continue
          const data = item.entry.data.slice()
          const want = decodedKeys(data)
          const got = fastKeys(data)
          if (want) writes++
          if (got === false) continue
          fast++
          expect(got, `${item.entry.file}@${item.entry.offset}`).toEqual(want)
        }
      } finally {
        opened.close()
      }
    }
    expect(writes).toBeGreaterThan(50)
    expect(fast).toBe(writes)
  })
})
