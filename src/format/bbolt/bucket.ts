/**
 * Bucket headers (internal/common/bucket.go). A bucket is a leaf value with BUCKET_LEAF_FLAG set:
 *
 *   InBucket { u64 root; u64 sequence }   16 bytes, little-endian
 *
 * root != 0: the bucket's B+tree starts at page `root`. root == 0: an inline bucket, whose single
 * leaf page image (16-byte header with id 0, flags leaf, elements, data) follows in the value.
 */
import { DecodeError } from '../../errors.js'
import { CORRUPT_HINT, Page } from './file.js'
import { decodePageHeader, PAGE_HEADER_SIZE, PageFlag, pageType } from './page.js'

/** Size of the bucket header. */
export const BUCKET_HEADER_SIZE = 16

/** Where a bucket's tree lives. */
export type BucketRoot =
  | { kind: 'page'; root: bigint; sequence: bigint }
  | { kind: 'inline'; sequence: bigint; page: Page }

/**
 * Decodes a bucket value. `offset` is the absolute file offset of the value (for messages),
 * `name` the bucket name.
 */
export function decodeBucket(value: Uint8Array, file: string, offset: number, name: string): BucketRoot {
  if (value.length < BUCKET_HEADER_SIZE) {
    throw new DecodeError(file, offset, 'bad-bucket',
      `bbolt: bucket ${JSON.stringify(name)}: value is ${value.length} bytes, shorter than the 16-byte bucket header`, CORRUPT_HINT)
  }
  const v = new DataView(value.buffer, value.byteOffset, BUCKET_HEADER_SIZE)
  const root = v.getBigUint64(0, true)
  const sequence = v.getBigUint64(8, true)
  if (root !== 0n) return { kind: 'page', root, sequence }
  const img = value.subarray(BUCKET_HEADER_SIZE)
  if (img.length < PAGE_HEADER_SIZE) {
    throw new DecodeError(file, offset + BUCKET_HEADER_SIZE, 'bad-bucket',
      `bbolt: inline bucket ${JSON.stringify(name)}: ${img.length} bytes after the bucket header, too short for the 16-byte page header`, CORRUPT_HINT)
  }
  const h = decodePageHeader(img)
  if (h.flags !== PageFlag.Leaf) {
    throw new DecodeError(file, offset + BUCKET_HEADER_SIZE + 8, 'bad-bucket',
      `bbolt: inline bucket ${JSON.stringify(name)}: page type ${pageType(h.flags)}, expected leaf`, CORRUPT_HINT)
  }
  return { kind: 'inline', sequence, page: new Page(0n, h, offset + BUCKET_HEADER_SIZE, img.length, img, null, file) }
}
