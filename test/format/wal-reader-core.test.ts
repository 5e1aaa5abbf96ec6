/**
 * The one frame reader (format/wal/frame.ts FrameCursor), the one CRC chain (chain.ts CrcChain)
 * and the one segment-link reducer (links.ts LogLinks), on hand-made bytes.
 */
import { describe, expect, it } from 'vitest'
import { crc32c } from '../../src/format/crc32c.js'
import { ChainLink, CrcChain } from '../../src/format/wal/chain.js'
import { FRAME_HEADER_BYTES, Frame, FrameCursor, mayBeTorn } from '../../src/format/wal/frame.js'
import { LogLinks, type LinkPiece } from '../../src/format/wal/links.js'
import { memSource, WalWriter } from '../support/wal-writer.js'

/** A length word (little-endian u64 from two u32 halves). */
function word(lo: number, hi: number): Uint8Array {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setUint32(0, lo >>> 0, true)
  new DataView(b.buffer).setUint32(4, hi >>> 0, true)
  return b
}
const cat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]))

/** Walks every frame; returns [offset, recBytes] of each and the result that ended the walk. */
function walk(cur: FrameCursor): { frames: [number, number][]; end: number } {
  const frames: [number, number][] = []
  for (;;) {
    const k = cur.next()
    if (k !== Frame.Ok) return { frames, end: k }
    expect(cur.whole()).toBe(true)
    frames.push([cur.offset, cur.recBytes])
    cur.advance()
  }
}

describe('FrameCursor (the one frame reader)', () => {
  const w = new WalWriter()
  w.crcRecord().metadata().snapshot(0, 0).state(1, 1, 1)
  for (let i = 1; i <= 40; i++) w.entry(1, i, new Uint8Array(i * 13).fill(i))
  const seg = w.cut()

  it('reads the same frames from a file source at any buffer size and over bytes in memory', () => {
    const ref = walk(FrameCursor.over(seg))
    expect(ref.end).toBe(Frame.End)
    expect(ref.frames).toHaveLength(44)
    for (const chunk of [64, 100, 256, 1024, 1 << 20]) {
      expect(walk(new FrameCursor(chunk).reset(memSource(seg))), `chunk ${chunk}`).toEqual(ref)
    }
  })

  it('skipPlain passes the plain whole frames next/whole/advance would, and stops where they would judge', () => {
    /** The general walk, with skipPlain first at every step: the same frames, the same end. */
    function skipping(cur: FrameCursor): { frames: [number, number][]; end: number; skipped: number } {
      const frames: [number, number][] = []
      let skipped = 0
      for (;;) {
        const at = cur.offset
        const n = cur.skipPlain()
        if (n > 0) {
          skipped += n
          // the cursor describes the last frame passed: its record ends where the next frame starts
          expect(cur.recStart - FRAME_HEADER_BYTES + cur.start + FRAME_HEADER_BYTES + cur.recBytes + cur.padBytes).toBe(cur.offset)
          expect(cur.offset).toBeGreaterThan(at)
        }
        const k = cur.next()
        if (k !== Frame.Ok) return { frames, end: k, skipped }
        if (!cur.whole()) return { frames, end: -1, skipped }
        frames.push([cur.offset, cur.recBytes])
        cur.advance()
      }
    }
    const ref = walk(FrameCursor.over(seg))
    const all = skipping(FrameCursor.over(seg))
    expect(all.end).toBe(Frame.End)
    expect(all.skipped + all.frames.length).toBe(ref.frames.length)
    expect(all.skipped).toBe(ref.frames.length) // every frame of a regular segment is plain
    // what it leaves to the general steps: reserved bits, a zero word, a length past the end, a
    // frame beyond the bytes at hand, a partial word; each right after plain frames
    const reserved = cat(seg, word(8, 0x08000000), new Uint8Array(8))
    for (const [bytes, end] of [
      [reserved, Frame.Ok],
      [cat(seg, new Uint8Array(64)), Frame.ZeroWord],
      [cat(seg, word(64, 0), new Uint8Array(8)), Frame.PastEnd],
      [cat(seg, word(0, 1), new Uint8Array(8)), Frame.PastEnd],
      [cat(seg, new Uint8Array([1, 2, 3])), Frame.PartialWord],
    ] as const) {
      const cur = FrameCursor.over(bytes)
      expect(cur.skipPlain()).toBe(ref.frames.length)
      expect(cur.offset).toBe(seg.length)
      expect(cur.next()).toBe(end)
      if (end === Frame.Ok) expect(cur.reservedBits).toBe(1)
    }
    // a window that ends inside a frame (the chunker's case): the frames before it; that one is
    // in the region but not whole in the window
    const cut = seg.length - 5
    const cur = FrameCursor.over(seg, 0, cut, seg.length)
    expect(cur.skipPlain()).toBe(ref.frames.length - 1)
    expect(cur.next()).toBe(Frame.Ok)
    expect(cur.whole()).toBe(false)
    // a padded frame and an empty record: the pad is skipped, as decodeFrameSize reads it
    const padded = cat(word(3, 0x85000000), new Uint8Array(8), word(0, 0), new Uint8Array(0))
    const p = FrameCursor.over(padded.subarray(0, 16))
    expect(p.skipPlain()).toBe(1)
    expect(p.padBytes).toBe(5)
    expect(p.offset).toBe(16)
  })

  it('ends at a zero word (the preallocated tail) and says how much is left', () => {
    const cur = new FrameCursor(64).reset(memSource(cat(seg, new Uint8Array(4096))))
    const r = walk(cur)
    expect(r.end).toBe(Frame.ZeroWord)
    expect(cur.offset).toBe(seg.length)
    expect(cur.left).toBe(4096)
  })

  it('a partial length word, and a frame running past the end, are told apart before anything is read', () => {
    expect(walk(FrameCursor.over(cat(seg, new Uint8Array([1, 2, 3])))).end).toBe(Frame.PartialWord)
    // a hostile 2^55-byte length: never allocated, never read
    const src = memSource(cat(seg, word(0, 0x00800000), new Uint8Array(64)))
    const cur = new FrameCursor(64).reset(src)
    expect(walk(cur).end).toBe(Frame.PastEnd)
    expect(cur.recBytes).toBe(2 ** 55)
    expect(cur.wordHex()).toBe('0x0080000000000000')
    expect(src.maxRead).toBeLessThan(1000) // the largest real frame, read whole; never the hostile length
  })

  it('reports a source that delivers less than its size promised (a file shrinking) as a short read', () => {
    const lying = { byteLength: seg.length + 4096, readInto: (o: number, t: Uint8Array) => memSource(seg).readInto(o, t) }
    const cur = new FrameCursor(256).reset(lying)
    expect(walk(cur).end).toBe(Frame.ShortRead)
  })

  it('a frame larger than the buffer is read into a buffer of exactly its size; head() reads only the head', () => {
    const big = new WalWriter()
    big.crcRecord().metadata().entry(1, 1, new Uint8Array(100_000).fill(7)).entry(1, 2, [1])
    const b = big.cut()
    const reads: number[] = []
    const src = { byteLength: b.length, readInto: (o: number, t: Uint8Array) => { reads.push(t.length); return memSource(b).readInto(o, t) } }
    const cur = new FrameCursor(1024, 512).reset(src)
    expect(cur.next()).toBe(Frame.Ok); cur.advance()
    expect(cur.next()).toBe(Frame.Ok); cur.advance()
    expect(cur.next()).toBe(Frame.Ok)
    expect(cur.frameBytes).toBeGreaterThan(100_000)
    expect(cur.head(96)).toBe(true)
    expect(cur.buf.length).toBe(1024) // the head is in the reused buffer: no frame-sized buffer
    expect(Math.max(...reads)).toBeLessThanOrEqual(1024)
    const at = cur.offset
    cur.advance()
    // after a head-only read the next word is read with the small window
    reads.length = 0
    expect(cur.next()).toBe(Frame.Ok)
    expect(reads).toEqual([Math.min(512, b.length - cur.offset)])
    // the big frame again, whole: a buffer of exactly its size
    const again = new FrameCursor(1024).reset(src, at)
    expect(again.next()).toBe(Frame.Ok)
    expect(again.whole()).toBe(true)
    expect(again.buf.length).toBe(FRAME_HEADER_BYTES + again.frameBytes)
    expect(again.buf[again.recStart]).toBe(0x08) // walpb.Record field 1
    again.advance()
    expect(again.next()).toBe(Frame.Ok)
    again.advance()
    expect(again.next()).toBe(Frame.End)
  })

  it('over a window of a longer region: a frame past the window is a short read (the window ends), not damage', () => {
    const cut = seg.length - 10
    const cur = FrameCursor.over(seg.subarray(0, cut), 0, cut, seg.length)
    let n = 0
    while (cur.next() === Frame.Ok && cur.whole()) {
      n++
      cur.advance()
    }
    expect(n).toBe(43)
    // the last frame's word is in the window and checked against the region: Ok, but not whole
    expect(cur.next()).toBe(Frame.Ok)
    expect(cur.whole()).toBe(false)
    // a window ending inside a length word
    const w2 = FrameCursor.over(seg.subarray(0, 4), 0, 4, seg.length)
    expect(w2.next()).toBe(Frame.ShortRead)
  })

  it('torn tails only in the last segment past offset 0', () => {
    expect(mayBeTorn(true, 8)).toBe(true)
    expect(mayBeTorn(true, 0)).toBe(false)
    expect(mayBeTorn(false, 8)).toBe(false)
  })
})

describe('CrcChain (the one CRC chain)', () => {
  const a = new TextEncoder().encode('somedata')
  it('adopts the first CRC record, checks later ones, verifies and re-seeds', () => {
    const c = new CrcChain()
    expect(c.crcRecord(0x1234)).toBe(ChainLink.Adopted)
    const want = new CrcChain(0x1234)
    expect(c.check(a, 0, a.length, 0xdeadbeef)).toBe(false)
    expect(c.value).toBe(0x1234) // a mismatch leaves the chain where it was
    const good = c.computed
    expect(c.check(a, 0, a.length, good)).toBe(true)
    expect(want.check(a, 0, a.length, good)).toBe(true)
    expect(c.crcRecord(good)).toBe(ChainLink.Ok)
    expect(c.crcRecord(good ^ 1)).toBe(ChainLink.Break)
    expect(c.value).toBe((good ^ 1) >>> 0) // a CRC record replaces the running value either way
    c.reseed(5)
    expect(c.value).toBe(5)
    // from 0, the chain over one record is plain CRC-32C
    const z = new CrcChain()
    expect(z.check(a, 0, a.length, crc32c(a))).toBe(true)
  })
})

describe('LogLinks (the one segment-link reducer)', () => {
  const meta = Uint8Array.from([8, 1, 16, 2])
  const piece = (p: Partial<LinkPiece>): LinkPiece => ({ file: 'f', head: true, crcRecord: 0, metadata: meta, firstOffset: 100, snapBeforeFirst: null, snapshots: [], crcEnd: 7, ...p })
  it('links a regular log of segments and chunks', () => {
    const l = new LogLinks()
    expect(l.add(piece({ nameIndex: 0n, firstIndex: 1n, lastIndex: 10n, snapshots: [{ index: 0n }] }))).toBeNull()
    expect(l.add(piece({ head: false, firstIndex: 11n, lastIndex: 20n, crcEnd: 9 }))).toBeNull()
    expect(l.add(piece({ nameIndex: 21n, crcRecord: 9, firstIndex: 21n, lastIndex: 30n }))).toBeNull()
    expect(l.metadata).toEqual(meta)
    expect(l.firstEntry).toEqual({ index: 1n, file: 'f', offset: 100 })
    expect(l.startGap(30n)).toBeUndefined()
  })
  it('names each broken rule', () => {
    const first = () => {
      const l = new LogLinks()
      l.add(piece({ nameIndex: 0n, firstIndex: 1n, lastIndex: 10n }))
      return l
    }
    expect(first().add(piece({ crcRecord: null }))).toBe('no-crc-record')
    expect(first().add(piece({ crcRecord: 8, nameIndex: 11n }))).toBe('chain-break')
    expect(first().add(piece({ crcRecord: 7, nameIndex: 11n, metadata: Uint8Array.from([8, 1, 16, 3]) }))).toBe('metadata-differs')
    expect(first().add(piece({ crcRecord: 7, nameIndex: 12n }))).toBe('name-not-following')
    expect(first().add(piece({ head: false, firstIndex: 12n, lastIndex: 12n }))).toBe('index-not-following')
    expect(first().add(piece({ head: false, firstIndex: 10n, lastIndex: 12n }))).toBe('index-not-following')
    // a first entry past the name's index, without a snapshot record covering it
    expect(new LogLinks().add(piece({ nameIndex: 0n, firstIndex: 5n, lastIndex: 6n }))).toBe('first-entry-past-name')
    expect(new LogLinks().add(piece({ nameIndex: 0n, firstIndex: 5n, lastIndex: 6n, snapBeforeFirst: 4n }))).toBeNull()
  })
  it('the log start follows the boot snapshot (the newest snapshot record at or below the commit)', () => {
    const l = new LogLinks()
    l.add(piece({ nameIndex: 0n, firstIndex: 6n, lastIndex: 9n, snapBeforeFirst: 5n, snapshots: [{ index: 5n }] }))
    expect(l.startGap(9n)).toBeUndefined()
    expect(l.startGap(4n)).toMatchObject({ code: 'log-start-gap', offset: 100, index: 6n })
  })
})

describe('scanSegment: the last HardState wins, canonical or not', () => {
  const seg = (states: number[][]) => {
    const w = new WalWriter()
    w.crcRecord().metadata().snapshot(0, 0)
    states.forEach((s, i) => w.entry(1, i + 1).add(3, Uint8Array.from(s)))
    return w.cut()
  }
  const canonical = [0x08, 2, 0x10, 0x81, 0x01, 0x18, 5] // term 2, vote 129, commit 5
  const reordered = [0x18, 7, 0x10, 1, 0x08, 3] // commit 7, vote 1, term 3: valid protobuf, not gogo's order
  const bigVote = [0x08, 4, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x18, 9] // vote 2^64-1
  it.each([
    ['canonical last', [reordered, canonical], { term: 2n, vote: 129n, commit: 5n }],
    ['non-canonical last', [canonical, reordered], { term: 3n, vote: 1n, commit: 7n }],
    ['a u64 vote', [reordered, bigVote], { term: 4n, vote: 2n ** 64n - 1n, commit: 9n }],
  ])('%s', async (_name, states, want) => {
    const { scanSegment } = await import('../../src/io/wal-scan.js')
    for (const crc of [false, true]) {
      const s = scanSegment('x.wal', memSource(seg(states)), { crc })
      expect(s.findings).toEqual([])
      expect(s.hardState).toEqual(want)
    }
  })
})
