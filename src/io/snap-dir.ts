/**
 * Read-only listing of `member/snap` (FORMATS.md §1, §4): raft snapshots `<term>-<index>.snap`,
 * files the snapshotter renamed to `.snap.broken`, leader-sent `<index>.snap.db`, the bbolt `db`
 * and `db.tmp*` defrag leftovers. Unlike etcd's snapshotter this never deletes `db.tmp*` and never
 * renames anything; it only lists and reads.
 */
import { lstatSync, existsSync } from 'node:fs'
import { basename, join } from 'node:path'
import { fsError, openFile } from './byte-source.js'
import { dirIfPresent, isDir, listNames } from './dir.js'
import { InputError } from '../errors.js'
import { parseSnapDbName, parseSnapName } from '../format/snap/snapshot.js'

/** What a name in member/snap is, by etcd's naming rules. */
export type SnapDirEntryKind = 'snap' | 'broken' | 'snap-db' | 'db' | 'db-tmp' | 'other'

export interface SnapDirEntry {
  name: string
  kind: SnapDirEntryKind
  /** Size in bytes (lstat; symlinks are listed as `other`). */
  size: number
  mtimeMs: number
  /** From the name: `.snap`/`.snap.broken` term-index, `.snap.db` index. */
  term?: bigint
  index?: bigint
}

/** Classifies one file name the way snapshotter.go's snapNames/cleanupSnapdir and db.go name them. */
export function classifySnapName(name: string): { kind: SnapDirEntryKind; term?: bigint; index?: bigint } {
  if (name === 'db') return { kind: 'db' }
  if (name.startsWith('db.tmp')) return { kind: 'db-tmp' }
  if (name.endsWith('.snap.broken')) {
    const p = parseSnapName(name.slice(0, -'.broken'.length))
    return { kind: 'broken', ...(p ?? {}) }
  }
  if (name.endsWith('.snap.db')) {
    const index = parseSnapDbName(name)
    return index === undefined ? { kind: 'other' } : { kind: 'snap-db', index }
  }
  // snapNames keeps every name ending in ".snap"; the content, not the name, gives term/index.
  if (name.endsWith('.snap')) return { kind: 'snap', ...(parseSnapName(name) ?? {}) }
  return { kind: 'other' }
}

/** Lists a snap dir, sorted by name (lexical = numeric for the fixed-width hex names). */
export function listSnapDir(snapDir: string): SnapDirEntry[] {
  const out: SnapDirEntry[] = []
  for (const name of listNames(snapDir).sort()) {
    let st
    try {
      st = lstatSync(join(snapDir, name))
    } catch (err) {
      // Removed between readdir and lstat (etcd purges old snapshots while running): skip it.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
      throw fsError(err, join(snapDir, name), 'stat')
    }
    const c = st.isFile() ? classifySnapName(name) : { kind: 'other' as const }
    out.push({ name, size: st.size, mtimeMs: st.mtimeMs, ...c })
  }
  return out
}

/** Upper bound for reading a `.snap` whole: the v2 store of a huge v2 cluster, not a db. */
export const MAX_SNAP_BYTES = 512 * 1024 * 1024

/** Reads a small file whole, read-only, with a size check before allocating. */
export function readWholeFile(path: string, max = MAX_SNAP_BYTES): Uint8Array {
  const src = openFile(path)
  try {
    if (src.byteLength > max) {
      throw new InputError(`${path}: ${src.byteLength} bytes is larger than the ${max}-byte limit for a .snap file`, path, 'too-large',
        'this is not a raft snapshot file; move it out of member/snap if it does not belong there')
    }
    return src.read(0, src.byteLength)
  } finally {
    src.close()
  }
}

/** Where the snap dir of a path is: a data dir, its member/ dir, or the snap dir itself. */
export interface SnapDirLocation {
  /** The data dir (parent of member/), when known. */
  dataDir: string | null
  /** member/snap; null when the data dir has none yet. */
  snapDir: string | null
  /** member/wal (default location; `--wal-dir` overrides it). */
  walDir: string | null
}

/**
 * Resolves `<data-dir>`, `<data-dir>/member` or `<data-dir>/member/snap` to the snap dir.
 * Throws InputError when the path does not exist or is not a directory.
 */
export function locateSnapDir(path: string): SnapDirLocation {
  if (!existsSync(path)) throw fsError(Object.assign(new Error('missing'), { code: 'ENOENT' }), path)
  if (!isDir(path)) throw new InputError(`${path}: not a directory`, path, 'not-a-dir', 'pass the etcd data dir (the one holding member/)')
  listNames(path)
  // dirIfPresent: an unreadable member/, snap/ or wal/, or a plain file in their place, is an
  // input error naming the path, never "not there" (which would read as an empty data dir).
  const m = dirIfPresent(join(path, 'member'))
  if (m) return { dataDir: path, snapDir: dirIfPresent(join(m, 'snap')), walDir: dirIfPresent(join(m, 'wal')) }
  if (basename(path) === 'member' || isDir(join(path, 'snap')) || isDir(join(path, 'wal'))) {
    return { dataDir: join(path, '..'), snapDir: dirIfPresent(join(path, 'snap')), walDir: dirIfPresent(join(path, 'wal')) }
  }
  const own = listNames(path)
  if (basename(path) === 'snap' || own.some((n) => n === 'db' || n.endsWith('.snap') || n.endsWith('.snap.db'))) {
    const member = join(path, '..')
    return { dataDir: join(member, '..'), snapDir: path, walDir: isDir(join(member, 'wal')) ? join(member, 'wal') : null }
  }
  return { dataDir: path, snapDir: null, walDir: null }
}
