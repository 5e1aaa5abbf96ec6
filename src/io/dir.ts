/** Directory helpers for the readers in io/: stat and readdir only. */
import { readdirSync, statSync } from 'node:fs'
import { InputError } from '../errors.js'
import { fsError } from './byte-source.js'

/** Whether `p` is a directory; false when it is missing or cannot be stat'ed. */
export function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory()
  } catch {
    return false
  }
}

/** The names in directory `p`, unsorted. Throws InputError (not-found, permission, ...). */
export function listNames(p: string): string[] {
  try {
    return readdirSync(p)
  } catch (err) {
    throw fsError(err, p, 'list')
  }
}

/**
 * `p` when it is a readable directory, null when nothing is there. Anything else is an error,
 * never "absent": a plain file where etcd keeps a directory, or a directory this user cannot list
 * (an unreadable member/ must not look like an empty data dir that is ready to join).
 */
export function dirIfPresent(p: string): string | null {
  let st
  try {
    st = statSync(p)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw fsError(err, p, 'stat')
  }
  if (!st.isDirectory()) {
    throw new InputError(`${p}: is a file, not a directory (etcd keeps a directory here)`, p, 'not-a-dir',
      'this is not a data dir etcd wrote: move the file aside or pass the right --data-dir')
  }
  listNames(p)
  return p
}
