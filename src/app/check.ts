/**
 * `etcd-inspect check <data-dir> --endpoints ...`: is this data dir safe to start, compared with the
 * live cluster? Collects the offline evidence (collectStatus, read-only) and the quorum-backed live
 * view at the same time, adds the leader's progress for this member and the witness, and decides
 * (app/verdicts.ts). On OK it records a witness in the state dir — never in the data dir.
 */
import { defaultSnapshotCount } from '../format/snap/snapshot-count.js'
import { resolve } from 'node:path'
import type { StatusResult } from './status-types.js'
import { decide, DEFAULT_SNAPSHOT_COUNT, type CheckConfig, type Decision } from './verdicts.js'
import { withClients, type ConnectionOptions } from '../cluster/connection.js'
import { gatherClusterView, type ClusterView } from '../cluster/view.js'
import { raftStatus, type RaftStatus } from '../cluster/debug-vars.js'
import { findById } from '../cluster/members.js'
import { idFromHex } from '../format/ids.js'
import { probePeer, type PeerProbe } from '../cluster/peer-probe.js'
import { readWitness, writeWitness, DEFAULT_STATE_DIR, type Witness } from '../io/witness.js'

export { DEFAULT_STATE_DIR }

export interface CheckOptions {
  dataDir: string
  /** etcd's --wal-dir, when the WAL is not under <data-dir>/member/wal. */
  walDir?: string
  connection: ConnectionOptions
  name?: string
  peerURLs?: string[]
  initialClusterState?: 'new' | 'existing'
  snapshotCount?: bigint
  /** Where the witness lives (default /var/lib/etcd-inspect). */
  stateDir?: string
  /** Record a witness on OK (default true). */
  witness?: boolean
  /** Ask member client URLs not given with --endpoints (default true). */
  discover?: boolean
  /** The member's env file or unit (`--config`), for the printed `replace plan` command. */
  config?: string
  /** The member's systemd unit (`--systemd-unit`), for the printed `replace plan` command. */
  systemdUnit?: string
  /** Offline evidence already being collected (see `offlineEvidence`). */
  offline?: Promise<StatusResult>
}

export interface CheckResult extends Decision {
  resultVersion: 1
  /** The witness file: read before, and written after an OK check. */
  witnessFile: { path: string | null; written: boolean; error: string | null }
  elapsedMs: number
  timings: { offlineMs: number; onlineMs: number }
}

export { missingDirStatus, offlineEvidence } from './check-offline.js'
import { offlineEvidence } from './check-offline.js'

export { connectionFlagsText } from './shell.js'
import { connectionFlagsText, shellQuote } from './shell.js'

/** Where a classic etcd unit reads its ETCD_* settings, and its unit name: stand-ins when not given. */
export const DEFAULT_CONFIG = '/etc/default/etcd'
export const DEFAULT_UNIT = 'etcd.service'

/**
 * `replace plan`'s flags besides the connection: it needs the member's config and a way to stop
 * and start it. Given to check (`--config`, `--systemd-unit`), they make the printed command run
 * as printed; otherwise the classic unit's paths stand in (and `replace plan` says if they are wrong).
 */
export function replaceFlagsText(o: { config?: string; systemdUnit?: string; stateDir?: string }): string {
  return [`--config ${shellQuote(o.config ?? DEFAULT_CONFIG)}`, `--systemd-unit ${shellQuote(o.systemdUnit ?? DEFAULT_UNIT)}`, ...(o.stateDir ? [`--state-dir ${shellQuote(o.stateDir)}`] : [])].join(' ')
}

async function leaderProgress(view: ClusterView, offline: StatusResult, f: Parameters<Parameters<typeof withClients>[1]>[0]): Promise<{ status: RaftStatus | null; error: string | null }> {
  const p = view.primary
  const me = idFromHex(offline.memberId)
  if (!p || me === null || p.leader === 0n || !findById(p.members, me)) return { status: null, error: null }
  const leader = findById(p.members, p.leader)
  const url = leader?.clientURLs[0]
  if (!url) return { status: null, error: 'the leader publishes no client URL' }
  try {
    return { status: (await raftStatus(url, f.opts, f.tls)) ?? null, error: null }
  } catch (err) {
    return { status: null, error: (err as Error).message }
  }
}

/** For a member ID of this cluster that the member list no longer shows: ask the leader's peer port. */
async function removalProbe(view: ClusterView, offline: StatusResult, f: Parameters<Parameters<typeof withClients>[1]>[0]): Promise<PeerProbe | null> {
  const p = view.primary
  const me = idFromHex(offline.memberId)
  if (!p || me === null || idFromHex(offline.clusterId) !== p.clusterId || findById(p.members, me)) return null
  const leader = findById(p.members, p.leader)
  const url = leader?.peerURLs[0]
  if (!leader || !url) return null
  return probePeer(url, leader.id, p.clusterId, me, f.opts, f.tls)
}

/** Runs the check. Never writes to the data dir; writes the witness (state dir) only on OK. */
export async function runCheck(opts: CheckOptions): Promise<CheckResult> {
  const t0 = performance.now()
  const dataDir = resolve(opts.dataDir)
  const stateDir = opts.stateDir ?? DEFAULT_STATE_DIR
  return withClients(opts.connection, async (f) => {
    let offlineMs = 0
    let onlineMs = 0
    const [offline, view] = await Promise.all([
      (opts.offline ?? offlineEvidence(dataDir, opts.walDir)).then((r) => { offlineMs = performance.now() - t0; return r }),
      gatherClusterView(f, { discover: opts.discover }).then((v) => { onlineMs = performance.now() - t0; return v }),
    ])
    const me = idFromHex(offline.memberId)
    const cluster = idFromHex(offline.clusterId)
    const [lp, wit, probe] = await Promise.all([
      leaderProgress(view, offline, f),
      cluster !== null && me !== null
        ? readWitness(stateDir, cluster, me)
        : Promise.resolve({ path: null as string | null, witness: null as Witness | null }),
      removalProbe(view, offline, f),
    ])
    onlineMs = Math.max(onlineMs, performance.now() - t0)
    const ctlEndpoints = view.primary?.endpoints.length ? view.primary.endpoints : opts.connection.endpoints
    const config: CheckConfig = {
      dataDir,
      name: opts.name,
      peerURLs: opts.peerURLs,
      initialClusterState: opts.initialClusterState,
      // Without the flag: the default of the etcd version that wrote the dir (one table with `snap`).
      snapshotCount: opts.snapshotCount ?? defaultSnapshotCount(offline.version.etcdGuess)?.snapshotCount ?? DEFAULT_SNAPSHOT_COUNT,
      etcdctl: `etcdctl ${connectionFlagsText(opts.connection, ctlEndpoints)}`,
      connectionFlags: connectionFlagsText(opts.connection),
      replaceFlags: replaceFlagsText({ ...(opts.config ? { config: resolve(opts.config) } : {}), ...(opts.systemdUnit ? { systemdUnit: opts.systemdUnit } : {}), ...(opts.stateDir ? { stateDir: resolve(opts.stateDir) } : {}) }),
    }
    const d = decide({ offline, view, leaderProgress: lp.status, witness: wit.witness, peerProbe: probe, config })
    if (lp.error) d.warnings.push(`leader progress unavailable: ${lp.error}`)
    const witnessFile: CheckResult['witnessFile'] = { path: wit.path, written: false, error: null }
    if (d.verdict === 'OK' && opts.witness !== false && cluster !== null && me !== null && offline.hardState && view.primary) {
      const byId = findById(view.primary.members, me)
      try {
        witnessFile.path = await writeWitness(stateDir, {
          clusterId: offline.clusterId!, memberId: offline.memberId!, name: byId?.name ?? opts.name ?? '', peerURLs: byId?.peerURLs ?? [],
          lastSeenCommit: offline.hardState.commit, lastSeenTerm: offline.hardState.term, lastIndex: offline.lastIndex ?? offline.hardState.commit,
          revision: offline.revision, clusterRaftIndex: view.primary.raftIndex, dataDir,
        }, cluster, me)
        witnessFile.written = true
      } catch (err) {
        witnessFile.error = (err as Error).message
        d.warnings.push(`witness not recorded: ${(err as Error).message}`)
      }
    }
    return { resultVersion: 1 as const, ...d, witnessFile, elapsedMs: Math.round(performance.now() - t0), timings: { offlineMs: Math.round(offlineMs), onlineMs: Math.round(onlineMs) } }
  })
}
