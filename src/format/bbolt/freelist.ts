/**
 * The persisted freelist (internal/freelist/shared.go `Read`). After the page header: a sorted
 * array of u64 LE pgids (free and pending). When there are >= 0xFFFF ids, `count` is 0xFFFF and
 * the first u64 holds the real count. etcd on Linux does not persist it (meta.freelist =
 * 0xFFFF_FFFF_FFFF_FFFF, NoFreelistSync): then free pages are the ones nothing reaches.
 */
import { DecodeError } from '../../errors.js'
import { CORRUPT_HINT, type Page } from './file.js'
import { PAGE_HEADER_SIZE } from './page.js'

/** Decodes the ids of a freelist page; the count is bounded by the page span before reading. */
export function readFreelistIds(page: Page): bigint[] {
  let count = page.header.count
  let start = PAGE_HEADER_SIZE
  if (count === 0xffff) {
    const cb = page.slice(start, 8, 'freelist count')
    const c = new DataView(cb.buffer, cb.byteOffset, 8).getBigUint64(0, true)
    start += 8
    const max = BigInt(Math.floor((page.span - start) / 8))
    if (c > max) {
      throw new DecodeError(page.file, page.offset + PAGE_HEADER_SIZE, 'corrupt-page',
        `bbolt: freelist page ${page.id}: count ${c} does not fit in the ${page.span}-byte page (at most ${max})`, CORRUPT_HINT, { pgid: page.id })
    }
    count = Number(c)
  }
  const b = page.slice(start, count * 8, 'freelist ids')
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const ids: bigint[] = new Array(count)
  for (let i = 0; i < count; i++) ids[i] = v.getBigUint64(i * 8, true)
  return ids
}
