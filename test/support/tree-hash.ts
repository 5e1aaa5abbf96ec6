/**
 * Hashes every file under a directory (path, size, mode, mtime, sha256) so tests can assert that an
 * inspection changed nothing: not a byte, not a timestamp, no file added or removed.
 */
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, lstatSync } from 'node:fs'
import { join, relative } from 'node:path'

export interface TreeEntry { path: string; size: number; mode: number; mtimeMs: number; sha256: string }

export function hashTree(root: string): TreeEntry[] {
  const out: TreeEntry[] = []
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name)
      const st = lstatSync(p)
      if (st.isDirectory()) {
        out.push({ path: relative(root, p) + '/', size: 0, mode: st.mode, mtimeMs: st.mtimeMs, sha256: '' })
        walk(p)
      } else {
        const sha256 = st.isFile() ? createHash('sha256').update(readFileSync(p)).digest('hex') : ''
        out.push({ path: relative(root, p), size: st.size, mode: st.mode, mtimeMs: st.mtimeMs, sha256 })
      }
    }
  }
  walk(root)
  return out
}
