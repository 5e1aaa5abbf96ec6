/** Directory helpers for the readers in io/: stat and readdir only. */
import { readdirSync, statSync } from 'node:fs'
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
