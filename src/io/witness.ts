/**
 * The witness: what a member's data dir held when etcd-inspect last saw it healthy (RECOVERY.md
 * §3.3). It lives in the state dir (`<state-dir>/witness/<cluster hex>-<member hex>.json`), never
 * in the data dir. A later data dir whose commit is below `lastSeenCommit` for the same cluster and
 * member was rolled back (restored from an older copy).
 *
 * Written atomically: tmp file → fsync → rename → fsync of the directory.
 */
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises'
import { hostname } from 'node:os'
import { dirname, join } from 'node:path'
import { InputError } from '../errors.js'
import { idHex } from '../format/ids.js'

export const WITNESS_VERSION = 1

/** Default state dir (RECOVERY.md §6.2). */
export const DEFAULT_STATE_DIR = '/var/lib/etcd-inspect'

export interface Witness {
  version: typeof WITNESS_VERSION
  clusterId: string
  memberId: string
  name: string
  peerURLs: string[]
  /** HardState.commit of the data dir at the time of the OK check. */
  lastSeenCommit: bigint
  lastSeenTerm: bigint
  lastIndex: bigint
  revision: bigint | null
  /** The cluster's committed index when the witness was written. */
  clusterRaftIndex: bigint
  dataDir: string
  host: string
  /** ISO-8601 UTC. */
  ts: string
}

export function witnessPath(stateDir: string, clusterId: bigint, memberId: bigint): string {
  return join(stateDir, 'witness', `${idHex(clusterId)}-${idHex(memberId)}.json`)
}

const BIG_FIELDS = ['lastSeenCommit', 'lastSeenTerm', 'lastIndex', 'revision', 'clusterRaftIndex'] as const

/** Reads the witness for {cluster, member}; null when none exists. A damaged file is an InputError. */
export async function readWitness(stateDir: string, clusterId: bigint, memberId: bigint): Promise<{ path: string; witness: Witness | null }> {
  const path = witnessPath(stateDir, clusterId, memberId)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return { path, witness: null }
    throw new InputError(`cannot read witness ${path}: ${e.code ?? e.message}`, path, 'witness-unreadable', 'check the permissions of --state-dir')
  }
  try {
    const raw = JSON.parse(text) as Record<string, unknown>
    if (raw.version !== WITNESS_VERSION) throw new Error(`unsupported version ${String(raw.version)}`)
    for (const k of BIG_FIELDS) raw[k] = raw[k] === null || raw[k] === undefined ? null : BigInt(raw[k] as string)
    return { path, witness: raw as unknown as Witness }
  } catch (err) {
    throw new InputError(`witness ${path} is damaged: ${(err as Error).message}`, path, 'witness-damaged', 'move it aside; the next OK check writes a new one')
  }
}

/** Writes the witness atomically (creating the state dir); returns its path. */
export async function writeWitness(stateDir: string, w: Omit<Witness, 'version' | 'host' | 'ts'> & { ts?: string }, clusterId: bigint, memberId: bigint): Promise<string> {
  const path = witnessPath(stateDir, clusterId, memberId)
  const dir = dirname(path)
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 })
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    throw new InputError(`cannot create state dir ${dir}: ${e.code ?? e.message}`, dir, 'state-dir', 'pass a writable --state-dir, or --no-witness')
  }
  const full: Witness = { version: WITNESS_VERSION, ...w, host: hostname(), ts: w.ts ?? new Date().toISOString() }
  const body = JSON.stringify(full, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n'
  const tmp = `${path}.tmp-${process.pid}`
  try {
    const fh = await open(tmp, 'w', 0o600)
    try {
      await fh.writeFile(body)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, path)
    const dh = await open(dir, 'r')
    try {
      await dh.sync()
    } finally {
      await dh.close()
    }
  } catch (err) {
    await unlink(tmp).catch(() => undefined)
    const e = err as NodeJS.ErrnoException
    throw new InputError(`cannot write witness ${path}: ${e.code ?? e.message}`, path, 'state-dir', 'pass a writable --state-dir, or --no-witness')
  }
  return path
}
