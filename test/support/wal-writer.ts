/**
 * A tiny test-only WAL writer for hand-built bytes: protobuf field encoders, walpb.Record frames
 * exactly as etcd's encoder writes them (gogo field order, padding to 8, `0x80 | pad` top byte),
 * and a segment builder that keeps the rolling CRC-32C chain like wal.go.
 */
import { crc32cUpdate } from '../../src/format/crc32c.js'
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { walName } from '../../src/format/wal/segment-name.js'

export function varint(v: bigint | number): number[] {
  let x = BigInt.asUintN(64, BigInt(v))
  const out: number[] = []
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80)
    x >>= 7n
  }
  out.push(Number(x))
  return out
}

const enc = new TextEncoder()
export const bytes = (s: string | Uint8Array): Uint8Array => (typeof s === 'string' ? enc.encode(s) : s)

/** Field encoders: returns the tag + value bytes. */
export const pb = {
  varint: (field: number, v: bigint | number | boolean): number[] => [...varint((field << 3) | 0), ...varint(typeof v === 'boolean' ? (v ? 1 : 0) : v)],
  bytes: (field: number, v: string | Uint8Array | number[]): number[] => {
    const b = Array.isArray(v) ? v : [...bytes(v)]
    return [...varint((field << 3) | 2), ...varint(b.length), ...b]
  },
}

export const msg = (...fields: number[][]): number[] => fields.flat()

export function metadata(nodeId: bigint, clusterId: bigint): Uint8Array {
  return Uint8Array.from(msg(pb.varint(1, nodeId), pb.varint(2, clusterId)))
}
export function hardState(term: bigint | number, vote: bigint | number, commit: bigint | number): Uint8Array {
  return Uint8Array.from(msg(pb.varint(1, term), pb.varint(2, vote), pb.varint(3, commit)))
}
export function walSnapshot(index: bigint | number, term: bigint | number, voters: (bigint | number)[] = []): Uint8Array {
  const cs = voters.length ? [pb.bytes(3, msg(...voters.map((v) => pb.varint(1, v))))] : []
  return Uint8Array.from(msg(pb.varint(1, index), pb.varint(2, term), ...cs))
}
export function entry(term: bigint | number, index: bigint | number, data: Uint8Array | number[] = [], type = 0): Uint8Array {
  return Uint8Array.from(msg(pb.varint(1, type), pb.varint(2, term), pb.varint(3, index), pb.bytes(4, [...data])))
}
/** InternalRaftRequest { header{ID}, put{key, value, lease} }. */
export function irrPut(key: string, value: string | Uint8Array, lease: bigint = 0n, id = 1n): number[] {
  const put = msg(pb.bytes(1, key), pb.bytes(2, value), lease ? pb.varint(3, lease) : [])
  return msg(pb.bytes(4, put), pb.bytes(100, pb.varint(1, id)))
}
export function confChange(type: number, nodeId: bigint, context?: string, id = 0n): Uint8Array {
  return Uint8Array.from(msg(pb.varint(1, id), pb.varint(2, type), pb.varint(3, nodeId), context !== undefined ? pb.bytes(4, context) : []))
}

export const RT = { Metadata: 1, Entry: 2, State: 3, Crc: 4, Snapshot: 5 } as const

/** walpb.Record bytes (gogo: type, crc always; data when non-empty). */
export function record(type: number, crc: number, data?: Uint8Array): Uint8Array {
  return Uint8Array.from(msg(pb.varint(1, type), pb.varint(2, crc >>> 0), data && data.length ? pb.bytes(3, [...data]) : []))
}

/** One frame: u64 LE length word (+ pad flag), record, zero padding. */
export function frame(rec: Uint8Array, overrideWord?: bigint): Uint8Array {
  const pad = (8 - (rec.length % 8)) % 8
  let word = BigInt(rec.length)
  if (pad) word |= BigInt(0x80 | pad) << 56n
  if (overrideWord !== undefined) word = overrideWord
  const out = new Uint8Array(8 + rec.length + pad)
  new DataView(out.buffer).setBigUint64(0, word, true)
  out.set(rec, 8)
  return out
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

/** Builds segments with the CRC chain carried across them, like wal.go Create/cut/Save. */
export class WalWriter {
  crc = 0
  private frames: Uint8Array[] = []
  /** Offsets of each frame written in the current segment. */
  offsets: number[] = []
  private size = 0

  add(type: number, data?: Uint8Array): this {
    let stored: number
    if (type === RT.Crc) stored = this.crc
    else {
      this.crc = crc32cUpdate(this.crc, data ?? new Uint8Array(0))
      stored = this.crc
    }
    const f = frame(record(type, stored, type === RT.Crc ? undefined : data))
    this.offsets.push(this.size)
    this.frames.push(f)
    this.size += f.length
    return this
  }
  /** Appends raw bytes (a hand-made frame) without touching the chain. */
  raw(b: Uint8Array): this {
    this.offsets.push(this.size)
    this.frames.push(b)
    this.size += b.length
    return this
  }
  crcRecord(): this { return this.add(RT.Crc) }
  metadata(nodeId = 0x2f7fbfd36802ff7an, clusterId = 0x4f0a3b9d2c6e1f85n): this { return this.add(RT.Metadata, metadata(nodeId, clusterId)) }
  snapshot(index: number | bigint, term: number | bigint, voters: (bigint | number)[] = []): this { return this.add(RT.Snapshot, walSnapshot(index, term, voters)) }
  state(term: number | bigint, vote: number | bigint, commit: number | bigint): this { return this.add(RT.State, hardState(term, vote, commit)) }
  entry(term: number | bigint, index: number | bigint, data: Uint8Array | number[] = [], type = 0): this { return this.add(RT.Entry, entry(term, index, data, type)) }
  /** Ends the current segment: returns its bytes (plus `zeroTail` zero bytes) and starts a new one. */
  cut(zeroTail = 0): Uint8Array {
    const out = concat([...this.frames, new Uint8Array(zeroTail)])
    this.frames = []
    this.offsets = []
    this.size = 0
    return out
  }
}

/** File offset of the last frame of a segment written by WalWriter (walks the length words). */
export function lastFrameOffset(b: Uint8Array): number {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  let off = 0
  let last = 0
  while (off < b.length) {
    last = off
    off += 8 + dv.getUint32(off, true)
    off = (off + 7) & ~7
  }
  return last
}

/** A standard first segment: CRC(0), metadata, snapshot{0,0}. */
export function firstSegment(w = new WalWriter()): WalWriter {
  return w.crcRecord().metadata().snapshot(0, 0)
}

/** A RandomAccess over memory that records the largest single read (allocation bound checks). */
export function memSource(b: Uint8Array): { byteLength: number; readInto(o: number, t: Uint8Array): number; maxRead: number } {
  const s = {
    byteLength: b.length,
    maxRead: 0,
    readInto(o: number, t: Uint8Array): number {
      s.maxRead = Math.max(s.maxRead, t.length)
      const src = b.subarray(o, Math.min(b.length, o + t.length))
      t.set(src)
      return src.length
    },
  }
  return s
}

/**
 * A data dir holding hand-built segments at member/wal/<seq>-<index>.wal, in a fresh temp dir whose
 * path is pushed onto `temps` (the caller removes them after the file).
 */
export function writeWalDir(segs: [bigint, bigint, Uint8Array][], temps: string[], prefix = 'wal-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix))
  temps.push(d)
  mkdirSync(join(d, 'member/wal'), { recursive: true })
  for (const [seq, index, bytes] of segs) writeFileSync(join(d, 'member/wal', walName(seq, index)), bytes)
  return d
}
