/**
 * Data-dir layout resolution (FORMATS §1): accepts a data dir (`<dir>/member/{wal,snap}`), a
 * `member/` dir, or a `wal/` dir, plus an explicit `--wal-dir` (etcd's separate WAL location).
 * Read-only: only stat and readdir.
 */
import { statSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { InputError } from '../errors.js'
import { fsError } from './byte-source.js'
import { isDir, listNames } from './dir.js'

export interface DataDirLayout {
  /** The path as given. */
  given: string
  /** `<data-dir>` (parent of member/), when it could be told. */
  dataDir?: string
  /** `<data-dir>/member`, when it could be told. */
  memberDir?: string
  /** The WAL directory (from --wal-dir when given). */
  walDir: string
  /** `<member>/snap`, when it exists. */
  snapDir?: string
  /** How the given path was understood. */
  kind: 'data-dir' | 'member-dir' | 'wal-dir'
}

const NOT_DATA_DIR_HINT = 'give an etcd data dir (the --data-dir of etcd), its member/ dir, or its wal/ dir; use --wal-dir for a separate WAL location'

/** Resolves the layout of `path`. Throws InputError (not-found, permission, not-a-data-dir). */
export function resolveDataDir(path: string, opts: { walDir?: string } = {}): DataDirLayout {
  let st
  try {
    st = statSync(path)
  } catch (err) {
    throw fsError(err, path, 'stat')
  }
  if (!st.isDirectory()) {
    throw new InputError(`${path}: not a directory (expected an etcd data dir, member/ dir or wal/ dir)`, path, 'not-a-data-dir', NOT_DATA_DIR_HINT)
  }
  const names = listNames(path)
  let layout: DataDirLayout
  if (names.includes('member') && isDir(join(path, 'member'))) {
    const memberDir = join(path, 'member')
    layout = { given: path, dataDir: path, memberDir, walDir: join(memberDir, 'wal'), kind: 'data-dir' }
  } else if ((names.includes('wal') && isDir(join(path, 'wal'))) || (names.includes('snap') && isDir(join(path, 'snap')))) {
    layout = { given: path, dataDir: dirname(resolve(path)), memberDir: path, walDir: join(path, 'wal'), kind: 'member-dir' }
  } else if (names.some((n) => n.endsWith('.wal')) || basename(resolve(path)) === 'wal') {
    const parent = dirname(resolve(path))
    const isMember = basename(parent) === 'member' || isDir(join(parent, 'snap'))
    layout = { given: path, walDir: path, kind: 'wal-dir', ...(isMember ? { memberDir: parent, dataDir: dirname(parent) } : {}) }
  } else if (opts.walDir) {
    layout = { given: path, dataDir: path, walDir: opts.walDir, kind: 'data-dir' }
  } else {
    throw new InputError(
      names.length === 0 ? `${path}: empty directory, not an etcd data dir` : `${path}: not an etcd data dir (no member/, wal/ or *.wal files)`,
      path, 'not-a-data-dir', NOT_DATA_DIR_HINT)
  }
  if (opts.walDir) layout.walDir = opts.walDir
  if (layout.memberDir && isDir(join(layout.memberDir, 'snap'))) layout.snapDir = join(layout.memberDir, 'snap')
  if (!isDir(layout.walDir)) {
    try {
      statSync(layout.walDir)
    } catch (err) {
      const e = fsError(err, layout.walDir, 'stat')
      if (e.code === 'not-found') {
        throw new InputError(`${layout.walDir}: no WAL directory (the member has no WAL: etcd would bootstrap it from flags)`, layout.walDir, 'no-wal',
          opts.walDir ? 'check --wal-dir' : 'if etcd runs with --wal-dir, pass the same --wal-dir')
      }
      throw e
    }
    throw new InputError(`${layout.walDir}: not a directory`, layout.walDir, 'not-a-data-dir', NOT_DATA_DIR_HINT)
  }
  return layout
}
