/**
 * Moves a data dir aside: `rename(<data-dir>, <data-dir>.removed-<member-hex>-<UTC timestamp>)`
 * on the same filesystem, then writes `ARCHIVE.json` at the archive's top level (never inside
 * `member/`). Nothing is ever deleted; the manifest lists every file with its SHA-256.
 */
import { renameSync, writeFileSync, readdirSync, existsSync, readFileSync, statSync, lstatSync, openSync, fsyncSync, closeSync, readSync, type BigIntStats } from 'node:fs'
import { open, readdir, lstat } from 'node:fs/promises'
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
  /** Set when `replace resume` wrote the manifest after a crash between the rename and the manifest. */
  recoveredAt?: string
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

/**
 * SHA-256 of every regular file under a dir, computed ahead of the archive step (while the
 * member's removal runs) with the file's identity when it was read: path relative to the root
 * (unchanged by renaming the root), device, inode, size, mtime and ctime in nanoseconds.
 */
export interface PreHash { root: string; files: Map<string, { stamp: string; sha256: string }> }

const stampOf = (st: BigIntStats): string => `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`

/**
 * Hashes a stopped member's data dir without blocking the event loop for long (1 MiB async reads).
 * A file whose stamp changed while it was read is left out (the archive hashes it again).
 */
export async function preHashTree(root: string): Promise<PreHash> {
  const files = new Map<string, { stamp: string; sha256: string }>()
  const buf = Buffer.alloc(1 << 20)
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const p = join(dir, name)
      const st = await lstat(p, { bigint: true })
      if (st.isDirectory()) await walk(p)
      else if (st.isFile()) {
        const h = createHash('sha256')
        const fh = await open(p, 'r')
        try {
          for (;;) {
            const { bytesRead } = await fh.read(buf, 0, buf.length, null)
            if (bytesRead === 0) break
            h.update(buf.subarray(0, bytesRead))
          }
        } finally {
          await fh.close()
        }
        const after = await lstat(p, { bigint: true })
        if (stampOf(after) === stampOf(st)) files.set(relative(root, p), { stamp: stampOf(st), sha256: h.digest('hex') })
      }
    }
  }
  await walk(root)
  return { root, files }
}

/**
 * Every regular file under `root` with its SHA-256. A file whose device, inode, size, mtime and
 * ctime equal those `pre` recorded when it hashed the same file (before the root was renamed) takes
 * that hash; any other file is read and hashed now.
 */
export function listFiles(root: string, pre?: PreHash): ManifestFile[] {
  const out: ManifestFile[] = []
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name)
      const st = lstatSync(p, { bigint: true })
      if (st.isDirectory()) walk(p)
      else if (st.isFile()) {
        const rel = relative(root, p)
        const known = pre?.files.get(rel)
        const sha256 = known && known.stamp === stampOf(st) ? known.sha256 : sha256File(p)
        out.push({ path: rel, size: Number(st.size), sha256 })
      }
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

/** The manifest's temporary name while it is written (never listed in a manifest). */
const MANIFEST_TMP = `.${MANIFEST}.tmp`

/** Writes `ARCHIVE.json` at the archive top (tmp + fsync + rename + fsync of the archive dir). */
function writeManifest(m: ArchiveManifest): void {
  const tmp = join(m.archivePath, MANIFEST_TMP)
  writeFileSync(tmp, JSON.stringify(m, null, 2) + '\n', { mode: 0o600 })
  const fd = openSync(tmp, 'r')
  fsyncSync(fd)
  closeSync(fd)
  renameSync(tmp, join(m.archivePath, MANIFEST))
  fsyncDir(m.archivePath)
}

/**
 * Renames the data dir aside and writes the manifest. The caller has already verified the dir's
 * identity and that no etcd runs on it. Refuses if the destination exists or is on another
 * filesystem. `afterRename` runs between the rename and the manifest (a crash-test hook).
 */
export function archiveDataDir(p: { dataDir: string; memberIdHex: string; clusterIdHex: string; opId: string; reason: string; now?: Date; preHash?: PreHash; afterRename?: () => void }): ArchiveManifest {
  const dataDir = p.dataDir.replace(/\/+$/, '')
  const dest = archivePathFor(dataDir, p.memberIdHex, p.now)
  if (existsSync(dest)) throw new UnsafeOperationError(`archive destination ${dest} already exists; nothing was changed`, 'archive-exists')
  const parent = dirname(dataDir)
  if (statSync(parent).dev !== statSync(dataDir).dev) {
    throw new UnsafeOperationError(`${dataDir} is a mount point: moving it aside would cross filesystems; nothing was changed`, 'archive-cross-device', 'move its contents by hand or unmount it')
  }
  renameSync(dataDir, dest)
  fsyncDir(parent)
  p.afterRename?.()
  const manifest: ArchiveManifest = {
    version: 1, opId: p.opId, reason: p.reason, originalPath: dataDir, archivePath: dest,
    memberIdHex: p.memberIdHex, clusterIdHex: p.clusterIdHex, archivedAt: new Date().toISOString(),
    files: listFiles(dest, p.preHash && p.preHash.root.replace(/\/+$/, '') === dataDir ? p.preHash : undefined),
  }
  writeManifest(manifest)
  return manifest
}

/**
 * The UTC time encoded in an archive's name (`…removed-<hex>-20261125T181500Z`), or undefined.
 * The rename is the archiving moment; the name is all that survives a crash before the manifest.
 */
export function archiveStampTime(archive: string): Date | undefined {
  const m = /-(\d{8}T\d{6}Z)$/.exec(archive)
  if (!m) return undefined
  const s = m[1]!
  return new Date(`${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}Z`)
}

/**
 * Writes the manifest of an archive whose rename happened but whose manifest did not (a crash in
 * between), from the archive's contents exactly as the normal path computes it. Nothing was
 * written into the dir after the rename except, at most, the manifest's own tmp file, which is
 * not listed and is replaced. `recoveredAt` records that the manifest was written late.
 */
export function completeManifest(p: { archive: string; originalPath: string; memberIdHex: string; clusterIdHex: string; opId: string; reason: string }): ArchiveManifest {
  if (existsSync(join(p.archive, MANIFEST))) throw new UnsafeOperationError(`${p.archive} already has ${MANIFEST}; not rewriting it`, 'manifest-exists')
  const manifest: ArchiveManifest = {
    version: 1, opId: p.opId, reason: p.reason, originalPath: p.originalPath.replace(/\/+$/, ''), archivePath: p.archive,
    memberIdHex: p.memberIdHex, clusterIdHex: p.clusterIdHex, archivedAt: (archiveStampTime(p.archive) ?? new Date()).toISOString(),
    recoveredAt: new Date().toISOString(),
    files: listFiles(p.archive).filter((f) => f.path !== MANIFEST_TMP),
  }
  writeManifest(manifest)
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
