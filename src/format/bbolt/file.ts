/**
 * A read-only bbolt file over a ByteSource: page-size discovery, meta selection and checked page
 * reads (etcd-io/bbolt db.go `getPageSize`, `meta()`; internal/guts_cli for reading pages by offset
 * without opening the DB). Pages are read on demand, never the whole file. Every page read checks,
 * before anything is allocated, that the id is below the high-water mark, that the page (with its
 * overflow) lies inside the high-water mark and the file, that the header id equals the requested
 * id and that the flags are one of the expected types.
 */
import { DecodeError } from '../../errors.js'
import type { ByteSource } from '../../io/byte-source.js'
import { chooseMeta, decodeMeta, type Meta, type MetaChoice } from './meta.js'
import { decodePageHeader, PAGE_HEADER_SIZE, PageFlag, pageType, type PageHeader } from './page.js'

/** Pages whose span is at most this many bytes are read whole; larger ones are read piecewise. */
const EAGER_SPAN = 4 << 20
/** Largest page size accepted from a meta (bbolt probes up to 16 MiB). */
const MAX_PAGE_SIZE = 16 << 20
/** Length of the SHA-256 trailer `etcdctl snapshot save` appends. */
export const SNAPSHOT_TRAILER = 32

/** Hint attached to structural errors. */
export const CORRUPT_HINT =
  'the db is damaged: do not start etcd on it; restore from `etcdctl snapshot save` or replace the member (etcd-inspect replace plan). If etcd was writing to it while we read, re-run'

/** One page (with its overflow pages) as read from the file or from an inline bucket value. */
export class Page {
  constructor(
    /** The page id requested (0 for an inline bucket page). */
    readonly id: bigint,
    readonly header: PageHeader,
    /** Absolute file offset of the page start (for an inline page: of the bucket value + 16). */
    readonly offset: number,
    /** Bytes the page spans: (overflow + 1) * pageSize, or the inline value length. */
    readonly span: number,
    /** Bytes already in memory, starting at the page start (at least the header). */
    readonly buf: Uint8Array,
    private readonly src: ByteSource | null,
    readonly file: string,
  ) {}

  /** True for a page image stored inside a bucket value. */
  get inline(): boolean {
    return this.src === null && this.id === 0n
  }

  /** `len` bytes at page offset `off`, bounds-checked against the page span. */
  slice(off: number, len: number, what: string): Uint8Array {
    if (off < 0 || len < 0 || off + len > this.span) {
      throw new DecodeError(this.file, this.offset + off, 'corrupt-page',
        `bbolt: page ${this.id}: ${what} at page offset ${off} (+${len} bytes) runs past the ${this.span}-byte page`,
        CORRUPT_HINT, { pgid: this.id })
    }
    if (off + len <= this.buf.length) return this.buf.subarray(off, off + len)
    // Only pages larger than EAGER_SPAN get here; read exactly the bytes needed.
    const out = new Uint8Array(len)
    const n = this.src!.readInto(this.offset + off, out)
    if (n < len) {
      throw new DecodeError(this.file, this.offset + off + n, 'truncated',
        `bbolt: page ${this.id}: file ends inside the page (${what})`, CORRUPT_HINT, { pgid: this.id })
    }
    return out
  }
}

/** Options for opening a bbolt file. */
export interface BoltOpenOptions {
  /** Name used in messages (default: the source path). */
  file?: string
}

/** A bbolt file opened for read-only, on-demand page access. */
export class BoltFile {
  /** Size in bytes of the data pages (pgid * pageSize), without a snapshot trailer. */
  readonly dataSize: number
  /** High-water mark as a JS number (always < 2^53 once checked against the file size). */
  readonly hwm: number

  private constructor(
    readonly src: ByteSource,
    readonly file: string,
    readonly pageSize: number,
    readonly choice: MetaChoice,
    /** How the page size was found. */
    readonly pageSizeSource: string,
  ) {
    this.hwm = Number(choice.meta.pgid)
    this.dataSize = this.hwm * pageSize
  }

  /** The meta bbolt would use. */
  get meta(): Meta {
    return this.choice.meta
  }

  /** File size in bytes as seen when opened. */
  get fileSize(): number {
    return this.src.byteLength
  }

  /**
   * Discovers the page size, reads both metas and chooses one the way bbolt does. Throws
   * DecodeError 'not-bbolt' when neither meta has the bbolt magic, 'bad-meta' when neither
   * validates, 'truncated' when the file is shorter than the high-water mark says.
   */
  static open(src: ByteSource, opts: BoltOpenOptions = {}): BoltFile {
    const file = opts.file ?? src.path
    const size = src.byteLength
    if (size < PAGE_HEADER_SIZE + 64) {
      throw new DecodeError(file, 0, size === 0 ? 'empty' : 'not-bbolt',
        `bbolt: file is ${size} bytes, too small for a bbolt meta page (needs at least 80)`,
        'pass the `db` file of a data dir (member/snap/db) or a file saved by `etcdctl snapshot save`')
    }
    const { pageSize, how } = discoverPageSize(src)
    const m0 = decodeMeta(src.read(0, PAGE_HEADER_SIZE + 64), 0, 0)
    const m1 = decodeMeta(src.read(pageSize, PAGE_HEADER_SIZE + 64), 1, pageSize)
    const choice = chooseMeta(m0, m1)
    if (!choice) {
      const notBolt = m0.error?.code === 'bad-magic' && (m1.error?.code === 'bad-magic' || m1.error?.code === 'truncated')
      if (notBolt) {
        throw new DecodeError(file, 16, 'not-bbolt',
          `bbolt: not a bbolt file: no meta page has the magic 0xed0cdaed (found 0x${m0.magic.toString(16).padStart(8, '0')} at offset 16)`,
          'pass the `db` file of a data dir (member/snap/db) or a file saved by `etcdctl snapshot save`')
      }
      throw new DecodeError(file, m0.error ? 0 : pageSize, 'bad-meta',
        `bbolt: both meta pages are invalid: ${m0.error!.detail}; ${m1.error!.detail}`,
        'bbolt and etcd will refuse this file: restore from a snapshot or replace the member (etcd-inspect replace plan)',
        { metas: [m0.error, m1.error] })
    }
    const meta = choice.meta
    if (meta.pageSize !== pageSize) {
      throw new DecodeError(file, meta.offset + 24, 'bad-meta',
        `bbolt: meta ${meta.index} says page size ${meta.pageSize}, but its page was found at ${pageSize}-byte pages`, CORRUPT_HINT)
    }
    const maxPages = BigInt(Math.floor(Number.MAX_SAFE_INTEGER / pageSize))
    if (meta.pgid < 2n || meta.pgid > maxPages) {
      throw new DecodeError(file, meta.offset + 56, 'bad-meta', `bbolt: meta ${meta.index}: high-water mark ${meta.pgid} is out of range`, CORRUPT_HINT)
    }
    const need = Number(meta.pgid) * pageSize
    if (size < need) {
      throw new DecodeError(file, size, 'truncated',
        `bbolt: file is truncated: ${size} bytes, but meta ${meta.index} (txid ${meta.txid}) says ${meta.pgid} pages of ${pageSize} bytes = ${need} bytes`,
        'the file was cut short (disk full, interrupted copy?): use another copy, a snapshot, or replace the member')
    }
    return new BoltFile(src, file, pageSize, choice, how)
  }

  /** Re-reads both metas and returns the txid bbolt would pick now (null when neither validates). */
  rereadTxid(): bigint | null {
    const m0 = decodeMeta(this.src.read(0, PAGE_HEADER_SIZE + 64), 0, 0)
    const m1 = decodeMeta(this.src.read(this.pageSize, PAGE_HEADER_SIZE + 64), 1, this.pageSize)
    return chooseMeta(m0, m1)?.meta.txid ?? null
  }

  /** Throws the out-of-bounds error for a reference to `pgid` made by `from`. */
  checkPgid(pgid: bigint, from: string, extra: Record<string, unknown> = {}): number {
    if (pgid >= BigInt(this.hwm) || pgid < 2n) {
      throw new DecodeError(this.file, pgid < BigInt(this.hwm) ? Number(pgid) * this.pageSize : this.dataSize, 'page-out-of-bounds',
        `bbolt: ${from} points to page ${pgid}, outside the data pages [2, ${this.hwm}) (high-water mark ${this.hwm})`,
        CORRUPT_HINT, { pgid, ...extra })
    }
    return Number(pgid)
  }

  /**
   * Reads page `pgid` and checks its header. `expect` lists the acceptable flag values.
   * `from` names the referrer for error messages.
   */
  page(pgid: bigint, expect: readonly number[], from: string, eager = true): Page {
    const n = this.checkPgid(pgid, from)
    return this.pageOf(pgid, this.src.read(n * this.pageSize, this.pageSize), expect, from, eager)
  }

  /**
   * `page` for bytes the caller already read from the page start (at least the first page, or to
   * the end of the file): the same checks; bytes past `head` are read on demand.
   */
  pageOf(pgid: bigint, head: Uint8Array, expect: readonly number[], from: string, eager = true): Page {
    const n = this.checkPgid(pgid, from)
    const offset = n * this.pageSize
    if (head.length < PAGE_HEADER_SIZE) {
      throw new DecodeError(this.file, offset + head.length, 'truncated', `bbolt: page ${pgid}: file ends inside the page header`, CORRUPT_HINT, { pgid })
    }
    const h = decodePageHeader(head)
    if (h.id !== pgid) {
      throw new DecodeError(this.file, offset, 'page-id-mismatch',
        `bbolt: page expected to be ${pgid}, but self identifies as ${h.id} (referenced by ${from})`, CORRUPT_HINT, { pgid, headerId: h.id })
    }
    if (!expect.includes(h.flags)) {
      throw new DecodeError(this.file, offset + 8, 'bad-page-type',
        `bbolt: page ${pgid}: type ${pageType(h.flags)} (flags 0x${h.flags.toString(16)}), expected ${expect.map(pageType).join(' or ')} (referenced by ${from})`,
        CORRUPT_HINT, { pgid, flags: h.flags })
    }
    if (n + h.overflow >= this.hwm) {
      throw new DecodeError(this.file, offset + 12, 'overflow-out-of-bounds',
        `bbolt: page ${pgid}: overflow ${h.overflow} runs to page ${n + h.overflow}, past the high-water mark ${this.hwm}`, CORRUPT_HINT, { pgid, overflow: h.overflow })
    }
    const span = (h.overflow + 1) * this.pageSize
    if (offset + span > this.src.byteLength) {
      throw new DecodeError(this.file, this.src.byteLength, 'truncated',
        `bbolt: page ${pgid}: its ${h.overflow} overflow pages run past the end of the file (${this.src.byteLength} bytes)`, CORRUPT_HINT, { pgid })
    }
    let buf = head.length > span ? head.subarray(0, span) : head
    // `eager` false (db check): keep only the first page in memory; keys are read on demand and
    // values are never read, so a check does not cost a full read of large values.
    if (eager && h.overflow > 0 && span <= EAGER_SPAN && buf.length < span) buf = this.src.read(offset, span)
    return new Page(pgid, h, offset, span, buf, this.src, this.file)
  }

  /** Reads only the 16-byte header of a page, with the id and bounds checks of `page`. */
  header(pgid: bigint, from: string): PageHeader {
    const n = this.checkPgid(pgid, from)
    const b = this.src.read(n * this.pageSize, PAGE_HEADER_SIZE)
    if (b.length < PAGE_HEADER_SIZE) {
      throw new DecodeError(this.file, n * this.pageSize + b.length, 'truncated', `bbolt: page ${pgid}: file ends inside the page header`, CORRUPT_HINT, { pgid })
    }
    return decodePageHeader(b)
  }
}

/**
 * True when the file ends with the 32-byte SHA-256 trailer `etcdctl snapshot save` appends: etcd's
 * `hasChecksum(n) = n % 512 == 32`, and exactly pgid * pageSize + 32 bytes.
 */
export function hasSnapshotTrailer(db: BoltFile): boolean {
  return db.fileSize % 512 === SNAPSHOT_TRAILER && db.fileSize === db.dataSize + SNAPSHOT_TRAILER
}

/**
 * bbolt's `getPageSize`: meta 0 from a 4 KiB read at 0; else meta 1 at 1024 << i for i = 0..14;
 * else (both unreadable) the OS page size, 4096 on the platforms etcd ships for.
 */
export function discoverPageSize(src: ByteSource): { pageSize: number; how: string } {
  const m0 = decodeMeta(src.read(0, PAGE_HEADER_SIZE + 64), 0, 0)
  if (m0.error === null && validPageSize(m0.pageSize)) return { pageSize: m0.pageSize, how: 'meta 0' }
  for (let i = 0; i <= 14; i++) {
    const pos = 1024 << i
    if (pos >= src.byteLength - 1024) break
    const m1 = decodeMeta(src.read(pos, PAGE_HEADER_SIZE + 64), 1, pos)
    if (m1.error === null && validPageSize(m1.pageSize) && m1.pageSize === pos) return { pageSize: pos, how: `meta 1 found at offset ${pos}` }
  }
  return { pageSize: 4096, how: 'default 4096 (no valid meta found to read it from)' }
}

function validPageSize(n: number): boolean {
  return n >= 512 && n <= MAX_PAGE_SIZE && (n & (n - 1)) === 0
}

export { PageFlag }
