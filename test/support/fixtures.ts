/**
 * Fixture discovery and materialization. Every fixture is a directory under `fixtures/` with a
 * `MANIFEST.json` written by `fixtures/generate.mjs` (ground truth from etcd's own tools, and the
 * list of committed files with their original sizes).
 *
 * - `listFixtures()` / `fixture(name)`: the committed fixtures and their data dirs (read-only use!).
 * - `allDataDirs()`: every committed data dir of every fixture, for table-driven tests.
 * - `materialize(name, { fullSize })`: a private copy in a fresh temp dir, safe to modify; with
 *   `fullSize` the trimmed last WAL segment (and any emptied `*.tmp`) is padded back with zeros to
 *   its original size (64,000,000 bytes) exactly as etcd left it.
 * - `extractMultiseg()`: the compressed multi-segment fixture extracted into a temp dir.
 *
 * Temp dirs are removed after each test file (and stale ones of dead processes on load); set
 * KEEP_FIXTURE_TMP=1 to keep them. `cleanup()` removes one copy earlier.
 */
import { execFileSync } from 'node:child_process'
import {
  chmodSync, cpSync, existsSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync,
} from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { processTemp } from './temp.js'

export const FIXTURES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../fixtures')
export const SEGMENT_SIZE = 64_000_000

/**
 * The shared dir (docs, testdata) that sits beside the repository: $ETCD_INSPECT_SHARED, else
 * `<repo>/../shared`, else `/work/shared`.
 */
export function sharedDir(): string {
  const repo = resolve(FIXTURES_DIR, '..')
  const found = [process.env.ETCD_INSPECT_SHARED, join(repo, '../shared'), '/work/shared']
    .find((d): d is string => !!d && existsSync(join(d, 'testdata')))
  if (!found) throw new Error(`shared/testdata not found beside ${repo} (set ETCD_INSPECT_SHARED)`)
  return found
}

export interface ManifestFile {
  /** Path relative to the data dir, e.g. `member/wal/0000000000000000-0000000000000000.wal`. */
  path: string
  /** Size of the committed file. */
  size: number
  /** Size of the file etcd left (64,000,000 for a trimmed last segment or an emptied `.tmp`). */
  originalSize: number
  /** SHA-256 of the committed bytes. */
  sha256: string
  kind?: 'wal-last-segment-trimmed' | 'wal-segment' | 'wal-tmp-emptied'
  /** For WAL segments: the offset just after the last frame. */
  recordsEnd?: number
}

export interface DataDirManifest {
  /** Relative to the fixture dir (or, for an archived fixture, to the extraction root). */
  path: string
  memberName: string
  memberId: string
  clusterId: string
  walSegments: { file: string; seq: string; index: string; size: number }[]
  walTmpFiles: { file: string; originalSize: number }[]
  snapFiles: { file: string; term: string; index: string }[]
  files: ManifestFile[]
  [k: string]: unknown
}

export interface FixtureManifest {
  fixture: string
  description: string
  dataDirs: Record<string, DataDirManifest>
  /** For archived fixtures (multiseg): the archive, relative to the fixture dir. */
  archive?: { file: string; size: number; sha256: string; format: 'tar.gz' }
  [k: string]: unknown
}

export interface Fixture {
  name: string
  /** Absolute path of the committed fixture dir. */
  dir: string
  manifest: FixtureManifest
  /** Data dir key → absolute path of the committed data dir (undefined for archived fixtures). */
  dataDirs: Record<string, string>
  archived: boolean
}

export function listFixtures(): Fixture[] {
  return readdirSync(FIXTURES_DIR)
    .filter((n) => existsSync(join(FIXTURES_DIR, n, 'MANIFEST.json')))
    .sort()
    .map((n) => fixture(n))
}

export function fixture(name: string): Fixture {
  const dir = join(FIXTURES_DIR, name)
  const mf = join(dir, 'MANIFEST.json')
  if (!existsSync(mf)) throw new Error(`no fixture ${name} (${mf} missing); run: bash fixtures/generate.sh ${name}`)
  const manifest = JSON.parse(readFileSync(mf, 'utf8')) as FixtureManifest
  const archived = !!manifest.archive
  const dataDirs: Record<string, string> = {}
  if (!archived) for (const [k, d] of Object.entries(manifest.dataDirs)) dataDirs[k] = join(dir, d.path)
  return { name, dir, manifest, dataDirs, archived }
}

/** Every committed (non-archived) data dir: `{ fixture, key, dir, manifest }`. Read-only use. */
export function allDataDirs(): { fixture: string; key: string; dir: string; manifest: DataDirManifest }[] {
  return listFixtures().flatMap((f) => Object.entries(f.dataDirs).map(([key, dir]) => ({
    fixture: f.name, key, dir, manifest: f.manifest.dataDirs[key]!,
  })))
}

export interface Materialized {
  /** The temp dir holding the copy of the whole fixture dir (MANIFEST.json, snapshot.db, …). */
  root: string
  /** Data dir key → absolute path inside `root`. */
  dataDirs: Record<string, string>
  /** The first data dir (the only one for `single`). */
  dataDir: string
  manifest: FixtureManifest
  cleanup(): void
}

let sharedMultiseg: Materialized | undefined
/** Temp copies (materialize, extractMultiseg) under `<tmp>/etcd-inspect-fx-p<pid>-XXXXXX/`; KEEP_FIXTURE_TMP keeps them. */
const temps = processTemp('etcd-inspect-fx-p', { keepEnv: 'KEEP_FIXTURE_TMP', onRemove: () => { sharedMultiseg = undefined } })

/** etcd wants 0700 data dirs; git does not keep modes, so set them on every copy. */
function fixModes(dir: string): void {
  chmodSync(dir, 0o700)
  for (const n of readdirSync(dir)) {
    const p = join(dir, n)
    if (statSync(p).isDirectory()) fixModes(p)
    else chmodSync(p, 0o600)
  }
}

/** Pads trimmed/emptied files of a copied data dir back to their original sizes (zeros). */
export function padToOriginalSize(dataDir: string, m: DataDirManifest): void {
  for (const f of m.files) {
    if (f.originalSize === f.size) continue
    const p = join(dataDir, f.path)
    const have = statSync(p).size
    if (have !== f.size) throw new Error(`${p}: ${have} bytes, the MANIFEST says ${f.size}`)
    truncateSync(p, f.originalSize) // extends with zeros
  }
}

/**
 * A private copy of fixture `name` in a fresh temp dir. Tests that modify anything (or start etcd
 * on it) must use this, never the committed dir. `fullSize` restores the preallocated zeros.
 * Archived fixtures (multiseg) are extracted; they are always full size.
 */
export function materialize(name: string, opts: { fullSize?: boolean } = {}): Materialized {
  const f = fixture(name)
  const root = temps.dir(`${name}-`)
  if (f.archived) {
    const a = f.manifest.archive!
    execFileSync('tar', ['-xzf', join(f.dir, a.file), '-C', root])
    cpSync(join(f.dir, 'MANIFEST.json'), join(root, 'MANIFEST.json'))
  } else {
    cpSync(f.dir, root, { recursive: true, filter: (src) => !/expected\.[^/]*\.json$/.test(src) })
  }
  const dataDirs: Record<string, string> = {}
  for (const [k, d] of Object.entries(f.manifest.dataDirs)) {
    const p = join(root, d.path)
    fixModes(p)
    if (opts.fullSize && !f.archived) padToOriginalSize(p, d)
    dataDirs[k] = p
  }
  const first = Object.values(dataDirs)[0]
  if (!first) throw new Error(`fixture ${name} has no data dir in its MANIFEST`)
  return {
    root, dataDirs, dataDir: first, manifest: f.manifest,
    cleanup() { rmSync(root, { recursive: true, force: true }) },
  }
}

/**
 * The multi-segment fixture (>= 2 full 64,000,000-byte WAL segments) extracted from
 * `fixtures/multiseg/multiseg.tar.gz`. `shared: true` reuses one extraction per test process
 * (read-only use only); otherwise every call makes a fresh copy.
 */
export function extractMultiseg(opts: { shared?: boolean } = {}): Materialized {
  if (!opts.shared) return materialize('multiseg')
  sharedMultiseg ??= materialize('multiseg')
  return sharedMultiseg
}

/**
 * Expected-output sidecars (STYLE §14): `fixtures/<name>/expected.<kind>[.<dataDirKey>].json`.
 * `expectedOutput(name, kind, actual, { key })` returns the stored expectation to compare with
 * `actual`; with UPDATE_FIXTURES=1 it first (re)writes the sidecar from `actual`. 64-bit values
 * given as bigint are stored as decimal strings. `dir` overrides the fixture dir (for tests).
 */
export function sidecarPath(name: string, kind: string, opts: { key?: string; dir?: string } = {}): string {
  if (!/^[a-z0-9-]+$/i.test(kind) || (opts.key !== undefined && !/^[a-z0-9-]+$/i.test(opts.key))) {
    throw new Error(`bad sidecar kind/key: ${kind}/${opts.key}`)
  }
  return join(opts.dir ?? join(FIXTURES_DIR, name), `expected.${kind}${opts.key ? `.${opts.key}` : ''}.json`)
}

export function toSidecarJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n'
}

export function expectedOutput(name: string, kind: string, actual: unknown, opts: { key?: string; dir?: string } = {}): unknown {
  const p = sidecarPath(name, kind, opts)
  if (process.env.UPDATE_FIXTURES === '1') writeFileSync(p, toSidecarJson(actual))
  if (!existsSync(p)) throw new Error(`${p} missing: run the test with UPDATE_FIXTURES=1 to create it, then review and commit it`)
  return JSON.parse(readFileSync(p, 'utf8'))
}
