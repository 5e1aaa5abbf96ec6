/**
 * Finds and opens a bbolt db read-only: `<data-dir>`, `<data-dir>/member`, `member/snap`, or the
 * file itself (`db`, `*.snap.db`, a file saved by `etcdctl snapshot save`). Also verifies the
 * 32-byte SHA-256 trailer of a saved snapshot with sequential reads into one reused buffer.
 */
import { createHash } from 'node:crypto'
import { statSync } from 'node:fs'
import { basename, join } from 'node:path'
import { InputError } from '../errors.js'
import { openFile, fsError, type ByteSource } from './byte-source.js'

/** Where the db file was found. */
export interface DbLocation {
  /** Path of the db file. */
  path: string
  /** The path the user gave. */
  given: string
}

/** Resolves a data dir, member dir, snap dir or file to the bbolt file inside it. */
export function locateDb(given: string): DbLocation {
  let st
  try {
    st = statSync(given)
  } catch (err) {
    throw fsError(err, given, 'stat')
  }
  if (!st.isDirectory()) return { path: given, given }
  for (const rel of ['member/snap/db', 'snap/db', 'db']) {
    const p = join(given, rel)
    // Only "not there" moves on: an unreadable member/ or snap/ is a permission error, not "no db".
    try {
      statSync(p)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') continue
      throw fsError(err, p, 'stat')
    }
    return { path: p, given }
  }
  if (basename(given) === 'db') {
    // A directory where etcd keeps the bbolt file (member/snap/db): say that, not "no db found".
    throw new InputError(`${given}: is a directory, expected the bbolt db file`, given, 'not-a-file',
      'etcd keeps its backend in a regular file member/snap/db: move this directory aside or restore the file')
  }
  throw new InputError(`${given}: no bbolt db found (looked for member/snap/db, snap/db, db)`, given, 'not-a-data-dir',
    'pass an etcd data dir (the --data-dir of the member) or the db file itself')
}

/** Opens the db file read-only (O_RDONLY|O_NOATIME, no lock). */
export function openDb(given: string): { loc: DbLocation; src: ByteSource } {
  const loc = locateDb(given)
  return { loc, src: openFile(loc.path) }
}

/** Result of checking a `snapshot save` trailer. */
export interface TrailerCheck {
  /** SHA-256 stored in the last 32 bytes. */
  stored: string
  /** SHA-256 of the bytes before the trailer. */
  computed: string
  ok: boolean
}

/** SHA-256 of src[0, length) compared with src[length, length + 32). */
export function verifyTrailer(src: ByteSource, length: number, onProgress?: (bytes: number) => void): TrailerCheck {
  const h = createHash('sha256')
  const buf = new Uint8Array(4 << 20)
  let off = 0
  while (off < length) {
    const want = Math.min(buf.length, length - off)
    const n = src.readInto(off, want === buf.length ? buf : buf.subarray(0, want))
    if (n === 0) break
    h.update(buf.subarray(0, n))
    off += n
    onProgress?.(off)
  }
  const stored = Buffer.from(src.read(length, 32)).toString('hex')
  const computed = h.digest('hex')
  return { stored, computed, ok: stored === computed }
}
