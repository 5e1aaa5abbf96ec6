/**
 * Moves a data dir aside: `rename(<data-dir>, <data-dir>.removed-<member-hex>-<UTC timestamp>)`
 * on the same filesystem, then writes `ARCHIVE.json` at the archive's top level (never inside
 * `member/`). Nothing is ever deleted; the manifest lists every file with its SHA-256.
 */
import { renameSync, writeFileSync, readdirSync, existsSync, readFileSync, statSync, lstatSync, openSync, fsyncSync, closeSync, readSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { basename, dirname, join, relative } from 'node:path'
import { UnsafeOperationError } from '../errors.js'

export const MANIFEST = 'ARCHIVE.json'

export interface ManifestFile { path: string; size: number; sha256: string }

export interface ArchiveManifest {
  version: 1
  opId: string
  reason: string
  originalPath: string
  archivePath: string
  memberIdHex: string
  clusterIdHex: string
  archivedAt: string
  files: ManifestFile[]
}

/** `20261125T181500Z` */
export function utcStamp(d = new Date()): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
}

export function archivePathFor(dataDir: string, memberIdHex: string, d = new Date()): string {
  return `${dataDir.replace(/\/+$/, '')}.removed-${memberIdHex}-${utcStamp(d)}`
}

function sha256File(p: string): string {
  const h = createHash('sha256')
  const fd = openSync(p, 'r')
  const buf = Buffer.alloc(1 << 20)
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null)
      if (n === 0) break
      h.update(buf.subarray(0, n))
    }
  } finally {
    closeSync(fd)
  }
  return h.digest('hex')
}

export function listFiles(root: string): ManifestFile[] {
  const out: ManifestFile[] = []
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name)
      const st = lstatSync(p)
      if (st.isDirectory()) walk(p)
      else if (st.isFile()) out.push({ path: relative(root, p), size: st.size, sha256: sha256File(p) })
    }
  }
  walk(root)
  return out
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r')
  try { fsyncSync(fd) } finally { closeSync(fd) }
}

/** Archives produced for a data dir and member, newest last. */
export function findArchives(dataDir: string, memberIdHex?: string): string[] {
  const parent = dirname(dataDir)
  const prefix = `${basename(dataDir.replace(/\/+$/, ''))}.removed-${memberIdHex ? memberIdHex + '-' : ''}`
  if (!existsSync(parent)) return []
  return readdirSync(parent).filter((n) => n.startsWith(prefix)).sort().map((n) => join(parent, n))
}

export function readManifest(archive: string): ArchiveManifest | undefined {
  try {
    return JSON.parse(readFileSync(join(archive, MANIFEST), 'utf8')) as ArchiveManifest
  } catch {
    return undefined
  }
}

/**
 * Renames the data dir aside and writes the manifest. The caller has already verified the dir's
 * identity and that no etcd runs on it. Refuses if the destination exists or is on another
 * filesystem.
 */
export function archiveDataDir(p: { dataDir: string; memberIdHex: string; clusterIdHex: string; opId: string; reason: string; now?: Date }): ArchiveManifest {
  const dataDir = p.dataDir.replace(/\/+$/, '')
  const dest = archivePathFor(dataDir, p.memberIdHex, p.now)
  if (existsSync(dest)) throw new UnsafeOperationError(`archive destination ${dest} already exists; nothing was changed`, 'archive-exists')
  const parent = dirname(dataDir)
  if (statSync(parent).dev !== statSync(dataDir).dev) {
    throw new UnsafeOperationError(`${dataDir} is a mount point: moving it aside would cross filesystems; nothing was changed`, 'archive-cross-device', 'move its contents by hand or unmount it')
  }
  renameSync(dataDir, dest)
  fsyncDir(parent)
  const manifest: ArchiveManifest = {
    version: 1, opId: p.opId, reason: p.reason, originalPath: dataDir, archivePath: dest,
    memberIdHex: p.memberIdHex, clusterIdHex: p.clusterIdHex, archivedAt: new Date().toISOString(),
    files: listFiles(dest),
  }
  const tmp = join(dest, `.${MANIFEST}.tmp`)
  writeFileSync(tmp, JSON.stringify(manifest, null, 2) + '\n', { mode: 0o600 })
  const fd = openSync(tmp, 'r')
  fsyncSync(fd)
  closeSync(fd)
  renameSync(tmp, join(dest, MANIFEST))
  fsyncDir(dest)
  return manifest
}

/** Re-hashes an archive against its manifest; returns the paths that differ. */
export function verifyArchive(archive: string): string[] {
  const m = readManifest(archive)
  if (!m) return [MANIFEST]
  const now = new Map(listFiles(archive).filter((f) => f.path !== MANIFEST).map((f) => [f.path, f.sha256]))
  const bad: string[] = []
  for (const f of m.files) if (now.get(f.path) !== f.sha256) bad.push(f.path)
  for (const p of now.keys()) if (!m.files.some((f) => f.path === p)) bad.push(p)
  return bad
}
