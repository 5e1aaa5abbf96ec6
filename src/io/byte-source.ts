/**
 * Read-only positioned file access: the only way format readers get bytes from disk.
 * Files are opened O_RDONLY (plus O_NOATIME where the kernel allows it, so even the access time of
 * an inspected data dir is left alone); no locks are ever taken, so a running etcd is never stalled.
 */
import { constants, openSync, readSync, fstatSync, closeSync } from 'node:fs'
import { InputError } from '../errors.js'

/** Random-access bytes, the way hyparquet's AsyncBuffer and bbolt's guts_cli read by offset. */
export interface ByteSource {
  readonly path: string
  readonly byteLength: number
  /** Reads up to `length` bytes at `offset`; returns fewer only at end of file. */
  read(offset: number, length: number): Uint8Array
  /** Reads into a caller-owned buffer; returns the number of bytes read. */
  readInto(offset: number, target: Uint8Array): number
  close(): void
}

/** Maps a Node fs error to an InputError with a plain-language next step. */
export function fsError(err: unknown, path: string, what = 'open'): InputError {
  const e = err as NodeJS.ErrnoException
  switch (e?.code) {
    case 'ENOENT':
      return new InputError(`${path}: no such file or directory`, path, 'not-found', 'check the path (a data dir, its member/ dir or its wal/ dir)', { cause: err })
    case 'EACCES':
    case 'EPERM':
      return new InputError(`${path}: permission denied (cannot ${what})`, path, 'permission', 'run as the etcd user or root (read access is enough)', { cause: err })
    case 'EISDIR':
      return new InputError(`${path}: is a directory, expected a file`, path, 'not-a-file', undefined, { cause: err })
    case 'ENOTDIR':
      return new InputError(`${path}: not a directory`, path, 'not-a-dir', undefined, { cause: err })
    default:
      return new InputError(`${path}: cannot ${what}: ${e?.message ?? String(err)}`, path, 'io', undefined, { cause: err })
  }
}

let noatime = (constants as Record<string, number>).O_NOATIME ?? 0
// O_NONBLOCK: opening a FIFO read-only would otherwise block until a writer appears (a hang, not
// an error); on a regular file it changes nothing. The fstat below then refuses anything that is
// not a regular file before a byte is read.
const nonblock = (constants as Record<string, number>).O_NONBLOCK ?? 0

function openReadOnly(path: string): number {
  if (noatime) {
    try {
      return openSync(path, constants.O_RDONLY | nonblock | noatime)
    } catch (err) {
      // O_NOATIME needs file ownership (EPERM otherwise): fall back to a plain read-only open.
      if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw fsError(err, path)
      if (process.getuid?.() !== 0) noatime = 0
    }
  }
  try {
    return openSync(path, constants.O_RDONLY | nonblock)
  } catch (err) {
    throw fsError(err, path)
  }
}

/** What a non-regular file is, for the error line. */
function fileKind(st: { isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (st.isFIFO()) return 'a FIFO (named pipe)'
  if (st.isSocket()) return 'a socket'
  if (st.isCharacterDevice()) return 'a character device'
  if (st.isBlockDevice()) return 'a block device'
  return 'an unknown kind of file'
}

/**
 * The refusal of a path that is not a regular file: etcd only ever writes regular files into a
 * data dir, and reading a FIFO or a device could block forever or never end.
 */
export function notRegular(path: string, st: Parameters<typeof fileKind>[0]): InputError {
  return new InputError(`${path}: is ${fileKind(st)}, not a regular file`, path, 'not-a-file',
    'etcd writes only regular files here: move this object out of the data dir (or restore the file) and run again')
}

/** Opens a file read-only for positioned reads; refuses anything but a regular file (exit 3). */
export function openFile(path: string): ByteSource {
  const fd = openReadOnly(path)
  let size: number
  try {
    const st = fstatSync(fd)
    if (st.isDirectory()) throw fsError(Object.assign(new Error('is a directory'), { code: 'EISDIR' }), path)
    if (!st.isFile()) throw notRegular(path, st)
    size = st.size
  } catch (err) {
    closeSync(fd)
    throw err instanceof InputError ? err : fsError(err, path, 'stat')
  }
  let closed = false
  return {
    path,
    get byteLength() {
      return size
    },
    read(offset: number, length: number): Uint8Array {
      const n = Math.max(0, Math.min(length, size - offset))
      const out = new Uint8Array(n)
      if (n > 0) this.readInto(offset, out)
      return out
    },
    readInto(offset: number, target: Uint8Array): number {
      let done = 0
      while (done < target.length) {
        let n: number
        try {
          n = readSync(fd, target, done, target.length - done, offset + done)
        } catch (err) {
          throw fsError(err, path, 'read')
        }
        if (n === 0) break
        done += n
      }
      return done
    },
    close() {
      if (!closed) {
        closed = true
        closeSync(fd)
      }
    },
  }
}

/** A ByteSource over bytes already in memory (tests, small files). */
export function memorySource(bytes: Uint8Array, path = '<memory>'): ByteSource {
  return {
    path,
    byteLength: bytes.length,
    read(offset, length) {
      return bytes.subarray(offset, Math.min(bytes.length, offset + length))
    },
    readInto(offset, target) {
      const src = bytes.subarray(offset, Math.min(bytes.length, offset + target.length))
      target.set(src)
      return src.length
    },
    close() {},
  }
}
