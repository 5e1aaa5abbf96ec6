/**
 * The offline half of `check`: collectStatus of the data dir (on a worker thread), or the
 * evidence of a data dir that does not exist yet. Free of the gRPC client, so the CLI can start it
 * before loading etcd3.
 */
import { stat } from 'node:fs/promises'
import { collectStatusOffThread } from '../workers/status.js'
import type { StatusResult } from './status-types.js'
import { InputError } from '../errors.js'

/** Offline evidence for a data dir that does not exist yet (etcd creates it on first start). */
export function missingDirStatus(path: string): StatusResult {
  return {
    resultVersion: 1, path, dataDir: path, walDir: null, snapDir: null, dbFile: null, state: 'empty',
    memberId: null, clusterId: null, hardState: null, firstIndex: null, lastIndex: null,
    snapshotIndex: null, snapshotTerm: null, snapshot: { wal: null, file: null, newestUsable: null, files: 0 }, walRange: null,
    consistentIndex: null, consistentTerm: null, revision: null, compactRevision: null,
    members: { db: null, dbRemoved: null, walConfChanges: [], selfRemovedInWal: null, selfInDb: null, selfRemovedInDb: null, bySource: [], snapSource: null, disagreements: [] },
    version: { storageVersion: null, clusterVersion: null, etcdGuess: null, decidedBy: null, sources: [], basis: [] },
    compatibility: null,
    sizes: { walBytes: 0, walSegments: 0, snapFiles: 0, snapBytes: 0, dbBytes: null, totalBytes: 0 },
    integrity: { wal: { status: 'missing', detail: 'data dir does not exist' }, db: { status: 'missing', detail: 'data dir does not exist' }, invariants: [], ok: true },
    inUse: { checked: true, held: false, locks: [] },
    findings: [{ severity: 'info', code: 'data-dir-missing', detail: `${path} does not exist (etcd creates it on first start)` }],
    elapsedMs: 0,
  }
}

/** The offline evidence (collectStatus, on a worker thread); start it early and pass it to runCheck. */
export async function offlineEvidence(dataDir: string, walDir?: string): Promise<StatusResult> {
  try {
    const st = await stat(dataDir)
    if (!st.isDirectory()) throw new InputError(`${dataDir} is not a directory`, dataDir, 'not-a-dir', 'pass the etcd --data-dir')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return missingDirStatus(dataDir)
    throw err
  }
  return collectStatusOffThread(dataDir, walDir)
}
