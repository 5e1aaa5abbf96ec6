/**
 * `replace plan`: read-only preflight (RECOVERY.md §6.3 step 1) and the versioned plan for an
 * in-place replacement (mode A). Nothing is written: no journal, no snapshot, no config.
 * Every refusal is an UnsafeOperationError (exit 7) or a ClusterError (exit 6) with one line.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join, resolve } from 'node:path'
import { ClusterError, InputError, UnsafeOperationError, UsageError } from '../../errors.js'
import { ClusterOps, type EndpointStatus } from './cluster-ops.js'
import { checkInPlace, quorum } from './quorum.js'
import { identifyDataDir } from './steps.js'
import { lineDiff, readConfig, render, renderSettings, splitUrls, type ConfigFormat } from './config-render.js'
import { tlsPreflight } from './tls-preflight.js'
import { PLAN_VERSION, abortCommand, resumeCommand, type ConnectionSpec, type Plan, type PlanMember, type ProcessControlSpec, type Step, type StepDraft } from './model.js'
import { utcStamp } from '../../io/archive.js'
import { Journal, isUnfinished, type OpStatus } from '../../io/journal.js'
import { checkUnit, describeStart, describeStop } from '../../io/process-control.js'
import { CLUSTER_LOCK_TTL, lockTtlProblem, peekClusterLock, peekText, type ClusterLockPeek } from './cluster-lock.js'

export const DEFAULT_STATE_DIR = '/var/lib/etcd-inspect'

export interface PlanOptions {
  connection: ConnectionSpec
  /** The target member's current env file or systemd unit (its ETCD_* settings). */
  configPath: string
  configFormat?: ConfigFormat
  /** Optional cross-check: the target's name or hex ID. */
  member?: string
  /** Default: ETCD_DATA_DIR from the config. */
  dataDir?: string
  stateDir?: string
  control: ProcessControlSpec
  /** Surge mode (RECOVERY.md §6.1 B): the new member's env file/unit (new name, URLs, data dir) and how to start it. */
  surge?: { configPath: string; configFormat?: ConfigFormat; control: ProcessControlSpec }
  force?: boolean
  stallTimeoutMs?: number
  startTimeoutMs?: number
  /** Seconds; the cluster lock's lease TTL during apply (default CLUSTER_LOCK_TTL). */
  lockTtlSec?: number
  now?: Date
}

export interface Preflight {
  members: PlanMember[]
  clusterIdHex: string
  leaderHex: string
  statuses: Map<string, EndpointStatus>
  healthyVoters: string[]
}

const refuse = (code: string, message: string, hint?: string): never => {
  throw new UnsafeOperationError(`${message}; nothing was changed`, code, hint)
}

/** Lists membership and asks every member's client URL for Status; decides health. */
export async function preflightCluster(ops: ClusterOps): Promise<Preflight> {
  const statusTimeout = Math.min(ops.conn.commandTimeoutMs, 5000)
  // The configured endpoints are usually the members' client URLs: ask them for Status while
  // MemberList is in flight (every connection dials at once). Each answer names its member ID,
  // which the health check below compares with the member it is used for.
  const early = new Map(ops.conn.endpoints.map((e) => [e, ops.status(e, statusTimeout)]))
  const list = await ops.memberList()
  const statuses = new Map<string, EndpointStatus>()
  await Promise.all(list.members.map(async (m) => {
    const url = m.clientURLs[0]
    statuses.set(m.idHex, url ? await (early.get(url) ?? ops.status(url, statusTimeout)) : { endpoint: '', ok: false, error: 'never started (no client URL)' })
  }))
  const answering = [...statuses.values()].filter((s) => s.ok)
  const clusterIds = new Set(answering.map((s) => s.clusterIdHex))
  if (clusterIds.size > 1) refuse('cluster-id-split', `members answer with different cluster IDs (${[...clusterIds].join(', ')})`)
  if (answering.length > 0 && [...clusterIds][0] !== list.clusterIdHex) refuse('cluster-id-split', `MemberList answered for cluster ${list.clusterIdHex} but members report ${[...clusterIds][0]}`)
  const leaders = new Set(answering.map((s) => s.leaderHex).filter((l) => l !== '0'))
  if (leaders.size !== 1) throw new ClusterError(`no agreed leader (members report: ${[...leaders].join(', ') || 'none'})`, 'no-leader', 'wait for an election or check the network')
  const leaderHex = [...leaders][0]!
  const healthyVoters = list.members
    .filter((m) => !m.isLearner)
    .filter((m) => {
      const s = statuses.get(m.idHex)
      return s?.ok && s.memberIdHex === m.idHex && s.clusterIdHex === list.clusterIdHex && s.leaderHex !== '0'
    })
    .map((m) => m.idHex)
  return { members: list.members, clusterIdHex: list.clusterIdHex, leaderHex, statuses, healthyVoters }
}

export async function buildPlan(opts: PlanOptions, opsIn?: ClusterOps): Promise<Plan> {
  const now = opts.now ?? new Date()
  const stateDir = resolve(opts.stateDir ?? DEFAULT_STATE_DIR)
  const cfg = readConfig(opts.configPath, opts.configFormat)
  const name = cfg.settings.get('ETCD_NAME')
  const peerURLs = splitUrls(cfg.settings.get('ETCD_INITIAL_ADVERTISE_PEER_URLS'))
  const clientURLs = splitUrls(cfg.settings.get('ETCD_ADVERTISE_CLIENT_URLS'))
  const dataDir = resolve(opts.dataDir ?? cfg.settings.get('ETCD_DATA_DIR') ?? '')
  // What the file holds is input, not a flag: exit 3, naming the file.
  if (!name || peerURLs.length === 0 || clientURLs.length === 0) throw new InputError(`${opts.configPath} must set ETCD_NAME, ETCD_INITIAL_ADVERTISE_PEER_URLS and ETCD_ADVERTISE_CLIENT_URLS (missing: ${[!name && 'ETCD_NAME', peerURLs.length === 0 && 'ETCD_INITIAL_ADVERTISE_PEER_URLS', clientURLs.length === 0 && 'ETCD_ADVERTISE_CLIENT_URLS'].filter(Boolean).join(', ')})`, opts.configPath, 'config-incomplete', 'pass the env file (or unit) etcd itself starts from with --config')
  if (!opts.dataDir && !cfg.settings.get('ETCD_DATA_DIR')) throw new UsageError('no data dir: pass --data-dir or set ETCD_DATA_DIR in the config')
  if (stateDir === dataDir || stateDir.startsWith(dataDir + '/')) throw new UsageError(`--state-dir ${stateDir} must not be inside the data dir ${dataDir}`)

  const ops = opsIn ?? new ClusterOps(opts.connection)
  try {
    // The offline read of the data dir (CPU and disk) overlaps with the cluster round trips.
    const identP = identifyDataDir(dataDir, { headers: true }).then((v) => ({ v }), (e: unknown) => ({ e }))
    // A read-only look at the cluster lock (never rejects), alongside the preflight round trips.
    const lockP = peekClusterLock(ops, opts.connection.endpoints)
    // Read-only `systemctl show` of every unit the plan would control, alongside the round trips:
    // a unit this host does not know would otherwise fail only at the stop step.
    const unitsP = unitWarnings(opts).then((v) => ({ v }), (e: unknown) => ({ e }))
    const pf = await preflightCluster(ops)
    const unitsR = await unitsP
    if ('e' in unitsR) throw unitsR.e
    const byURL = pf.members.find((m) => m.peerURLs.some((u) => peerURLs.includes(u)))
    if (opts.member && byURL && opts.member !== byURL.name && opts.member.toLowerCase() !== byURL.idHex) {
      refuse('target-mismatch', `--member ${opts.member} does not match the member owning ${peerURLs.join(',')} (${byURL.name || '(unstarted)'} ${byURL.idHex})`)
    }
    // Learner slot and unstarted members (RECOVERY.md §6.3 step 1).
    const learners = pf.members.filter((m) => m.isLearner)
    if (learners.length > 0) refuse('learner-pending', `another learner is pending (${learners.map((l) => `${l.name || '(unstarted)'} ${l.idHex} ${l.peerURLs.join(',')}`).join('; ')}); promote or remove it first`)
    const unstarted = pf.members.filter((m) => m.name === '')
    if (unstarted.length > 0) refuse('unstarted-member', `member ${unstarted[0]!.idHex} (${unstarted[0]!.peerURLs.join(',')}) was added but never started; start or remove it first`)

    const identR = await identP
    if ('e' in identR) throw identR.e
    const ident = identR.v
    let reason: Plan['reason']
    let targetIdHex: string
    if (byURL) {
      reason = 'MEMBER'
      targetIdHex = byURL.idHex
      if (byURL.name !== name) refuse('name-mismatch', `member ${byURL.idHex} owning ${peerURLs.join(',')} is named "${byURL.name}", the config says "${name}"`)
    } else {
      if (!ident) refuse('nothing-to-replace', `no member owns ${peerURLs.join(',')} and ${dataDir} holds no WAL: this is a join, not a replacement (etcdctl member add --learner)`)
      reason = 'REMOVED_MEMBER'
      targetIdHex = ident!.memberIdHex
    }
    if (ident) {
      if (ident.clusterIdHex !== pf.clusterIdHex) refuse('foreign-data-dir', `data dir ${dataDir} belongs to cluster ${ident.clusterIdHex}, not ${pf.clusterIdHex}`, 'fix the mount or archive it by hand')
      if (ident.memberIdHex !== targetIdHex) {
        const owner = pf.members.find((m) => m.idHex === ident.memberIdHex)
        refuse('data-dir-other-member', owner
          ? `data dir ${dataDir} belongs to member ${owner.name} ${owner.idHex}, not to the target ${targetIdHex}`
          : `data dir ${dataDir} belongs to member ${ident.memberIdHex}, not to the target ${targetIdHex}`, 'check --data-dir and the mount')
      }
      if (reason === 'REMOVED_MEMBER' && pf.members.some((m) => m.idHex === ident.memberIdHex)) refuse('data-dir-other-member', `data dir ${dataDir} belongs to current member ${ident.memberIdHex}`)
    }
    const earlyWarnings = [...unitsR.v, ...lockWarning(await lockP), ...unfinishedOps(stateDir).map((o) =>
      `operation ${o.opId} (target ${o.target}) is unfinished (${o.status}) in ${stateDir}: apply refuses a new plan there until it is finished (\`${resumeCommand(stateDir, o.opId)}\`) or aborted (\`${abortCommand(stateDir, o.opId)}\`)`)]
    if (opts.surge) {
      if (reason !== 'MEMBER') refuse('surge-target-removed', `the target is no longer a member: replace it in place (without --new-config)`)
      return await buildSurgePlan(opts, opts.surge, pf, { now, stateDir, cfg, name, peerURLs, clientURLs, dataDir, targetIdHex, ident, earlyWarnings })
    }
    const q = checkInPlace({ voters: pf.members.filter((m) => !m.isLearner).map((m) => m.idHex), healthy: pf.healthyVoters, target: reason === 'MEMBER' ? targetIdHex : undefined, force: !!opts.force })
    if (q.refusal) refuse(q.refusal.code, q.refusal.message)

    const tls = tlsPreflight(cfg.settings, peerURLs, clientURLs, now)
    const tlsErr = tls.findings.find((f) => f.severity === 'error')
    if (tlsErr) refuse(tlsErr.code, tlsErr.message, 'reissue the certificate before replacing the member')

    const others = pf.members.filter((m) => m.idHex !== targetIdHex)
    const settings = renderSettings({ old: cfg.settings, name, peerURLs, dataDir, others })
    const content = render(cfg.format, settings, cfg.text)
    const diff = lineDiff(cfg.text, content, opts.configPath, `${opts.configPath} (new)`)

    const opId = `r${utcStamp(now).toLowerCase()}-${randomBytes(3).toString('hex')}`
    const snapSource = others.find((m) => pf.healthyVoters.includes(m.idHex) && m.idHex === pf.leaderHex) ?? others.find((m) => pf.healthyVoters.includes(m.idHex))!
    const stall = opts.stallTimeoutMs ?? 300000
    const startTimeoutMs = opts.startTimeoutMs ?? 120000
    const stateSnap = join(stateDir, 'snapshots', `${opId}.db`)
    const targetHealthy = pf.healthyVoters.includes(targetIdHex)
    const wasLeader = reason === 'MEMBER' && pf.leaderHex === targetIdHex && targetHealthy
    const dataDirNonEmpty = existsSync(dataDir) && readdirSync(dataDir).length > 0
    const steps: StepDraft[] = []
    steps.push({ kind: 'snapshot', endpoint: snapSource.clientURLs[0]!, path: stateSnap, title: `snapshot from ${snapSource.name}`, destructive: false,
      preconditions: [`${snapSource.name} is healthy`], actions: [`Maintenance.Snapshot via ${snapSource.clientURLs[0]} -> ${stateSnap}`, 'verify the SHA-256 trailer; record sha256, size, revision'],
      rollback: 'none needed; the snapshot is kept for disaster recovery' })
    if (wasLeader) {
      const to = others.find((m) => pf.healthyVoters.includes(m.idHex))!
      steps.push({ kind: 'move-leader', fromHex: targetIdHex, toHex: to.idHex, title: `move leadership from ${name} to ${to.name}`, destructive: false,
        preconditions: [`${to.name} is a healthy voter`], actions: [`Maintenance.MoveLeader(${to.idHex}) via ${clientURLs[0]}`], rollback: 'none needed' })
    }
    steps.push({ kind: 'stop-member', control: opts.control, clientURLs, peerURLs, title: `stop ${name}`, destructive: true,
      preconditions: ['the snapshot is verified', ...unitKnown(opts.control)], actions: describeStop(opts.control), rollback: 'start the member again with its old config (its data dir is untouched so far)' })
    if (reason === 'MEMBER') {
      steps.push({ kind: 'remove-member', memberIdHex: targetIdHex, peerURLs, title: `remove member ${name} ${targetIdHex}`, destructive: true,
        preconditions: [`quorum holds without ${targetIdHex} (healthy voters ${q.healthyVoters}/${q.voters}, tolerance during ${q.toleranceDuring})`, `${targetIdHex} still owns ${peerURLs.join(',')}`],
        actions: [`Cluster.MemberRemove(ID=${targetIdHex})`], rollback: 'cannot be undone: the old ID is gone for good; continue with the add (resume)' })
    }
    if (dataDirNonEmpty) {
      steps.push({ kind: 'archive-data-dir', dataDir, expectMemberIdHex: targetIdHex, expectClusterIdHex: pf.clusterIdHex, title: `move ${dataDir} aside`, destructive: true,
        preconditions: ['no etcd runs on the dir', `its WAL says member ${targetIdHex}, cluster ${pf.clusterIdHex}`],
        actions: [`rename(${dataDir}, ${dataDir}.removed-${targetIdHex}-<UTC timestamp>)`, 'write ARCHIVE.json (file list with SHA-256) at the archive top level'],
        rollback: 'rename the archive back (only if the member was not removed)' })
    }
    steps.push({ kind: 'add-learner', name, peerURLs, title: `add ${name} back as a learner`, destructive: true,
      preconditions: ['the learner slot is free', `no member owns ${peerURLs.join(',')}`, `${dataDir} is absent or empty`],
      actions: [`Cluster.MemberAdd(peerURLs=${peerURLs.join(',')}, isLearner=true)`], rollback: 'an unstarted learner can be removed safely (replace abort --remove-learner)' })
    steps.push({ kind: 'write-config', path: opts.configPath, content, diff, title: `write ${opts.configPath}`, destructive: true,
      preconditions: ['the learner exists'], actions: [`write ${opts.configPath} (tmp + fsync + rename), old copy kept as ${opts.configPath}.bak-<timestamp>`],
      rollback: 'restore the .bak copy' })
    steps.push({ kind: 'start-member', control: opts.control, clientURLs, peerURLs, startTimeoutMs, title: `start ${name} (existing)`, destructive: true,
      preconditions: ['the data dir is empty (or holds the new member\'s own WAL)', 'the config says existing'],
      actions: [...describeStart(opts.control), `wait <= ${startTimeoutMs / 1000}s for Status on ${clientURLs[0]} with the new member ID`], rollback: 'stop it; remove the learner; the archive stays' })
    steps.push({ kind: 'wait-caught-up', clientURLs, stallTimeoutMs: stall, title: 'wait until the learner has caught up', destructive: false,
      preconditions: ['the learner has started'], actions: [`poll Status: learner raftAppliedIndex vs leader raftIndex; stop after ${stall / 1000}s without progress`], rollback: 'none needed; a learner does not count toward quorum' })
    steps.push({ kind: 'promote-learner', peerURLs, stallTimeoutMs: stall, title: `promote ${name}`, destructive: true,
      preconditions: ['the learner is in sync with the leader'], actions: ['Cluster.MemberPromote(new ID), retried while etcd says "not in sync"'], rollback: 'none (a voter again); replace it again if needed' })
    const expectVoters = q.voters + (reason === 'MEMBER' ? 0 : 1)
    steps.push({ kind: 'verify', expectVoters, title: 'verify the cluster', destructive: false,
      preconditions: [], actions: [`every member answers Status with cluster ${pf.clusterIdHex}, one leader, ${expectVoters} voters, no learner; a linearizable read on each`], rollback: 'none' })

    return {
      version: PLAN_VERSION, opId, createdAt: now.toISOString(), mode: 'in-place', reason, force: !!opts.force,
      replacement: { name, peerURLs, clientURLs, dataDir },
      cluster: { idHex: pf.clusterIdHex, leaderHex: pf.leaderHex, members: pf.members },
      connection: opts.connection,
      target: { idHex: targetIdHex, name, peerURLs, clientURLs, dataDir, ...(ident ? { dataDirIdentity: { memberIdHex: ident.memberIdHex, clusterIdHex: ident.clusterIdHex } } : {}), inMembership: reason === 'MEMBER', wasLeader },
      quorum: { voters: q.voters, healthyVoters: q.healthyVoters, toleranceBefore: q.toleranceBefore, toleranceDuring: q.toleranceDuring, toleranceAfter: q.toleranceAfter },
      stateDir, configPath: resolve(opts.configPath), configFormat: cfg.format,
      tls: { checked: tls.checked, findings: tls.findings.map((f) => `${f.severity}: ${f.message}`) },
      warnings: [...q.warnings, ...tls.findings.filter((f) => f.severity === 'warning').map((f) => f.message), ...earlyWarnings],
      lockTtlSec: opts.lockTtlSec ?? CLUSTER_LOCK_TTL,
      steps: steps.map((s, i) => ({ ...s, n: i + 1 }) as Step),
    }
  } finally {
    if (!opsIn) ops.close()
  }
}

interface Resolved {
  now: Date
  stateDir: string
  cfg: { text: string; settings: Map<string, string>; format: ConfigFormat }
  name: string
  peerURLs: string[]
  clientURLs: string[]
  dataDir: string
  targetIdHex: string
  ident?: { memberIdHex: string; clusterIdHex: string }
  /** Warnings found before the mode split: a masked unit, a held cluster lock. */
  earlyWarnings: string[]
}

/** The stop step's re-check of its unit, as the plan shows it. */
const unitKnown = (c: ProcessControlSpec): string[] => (c.kind === 'systemd' ? [`systemd knows ${c.unit} on this host (systemctl show -p LoadState, re-checked right before the stop)`] : [])

/**
 * Checks the units given with --systemd-unit and (surge) --new-systemd-unit: refuses when this
 * host cannot control one (checkUnit), returns the warnings (a masked unit).
 */
async function unitWarnings(opts: PlanOptions): Promise<string[]> {
  const units: [string, string][] = []
  if (opts.control.kind === 'systemd') units.push([opts.control.unit, '--systemd-unit'])
  if (opts.surge?.control.kind === 'systemd') units.push([opts.surge.control.unit, '--new-systemd-unit'])
  const rs = await Promise.all(units.map(([u, flag]) => checkUnit(u, flag)))
  return rs.flatMap((r) => (r.warning ? [r.warning] : []))
}

/**
 * The plan is read-only and makes a new op, so any holder of the cluster lock is another
 * operation: say so now rather than when apply is refused.
 */
function lockWarning(p: ClusterLockPeek): string[] {
  if (p.state === 'held') return [`${peekText(p)}: apply will be refused until that run ends or its lease expires`]
  if (p.state === 'unknown') return [`${peekText(p)}; apply takes it and is refused if another run holds it`]
  return []
}

/**
 * Mode B: the old member is healthy and its replacement lives on a new host/URL. Add the new one
 * as a learner, start, catch up, promote, and only then remove, stop and archive the old one, so
 * fault tolerance never drops below today's. Needs every voter connected (etcd's add check).
 */
async function buildSurgePlan(opts: PlanOptions, sg: NonNullable<PlanOptions['surge']>, pf: Preflight, r: Resolved): Promise<Plan> {
  const ncfg = readConfig(sg.configPath, sg.configFormat)
  const nname = ncfg.settings.get('ETCD_NAME')
  const npeer = splitUrls(ncfg.settings.get('ETCD_INITIAL_ADVERTISE_PEER_URLS'))
  const nclient = splitUrls(ncfg.settings.get('ETCD_ADVERTISE_CLIENT_URLS'))
  const ndata = resolve(ncfg.settings.get('ETCD_DATA_DIR') ?? '')
  if (!nname || npeer.length === 0 || nclient.length === 0 || !ncfg.settings.get('ETCD_DATA_DIR')) throw new UsageError(`${sg.configPath} must set ETCD_NAME, ETCD_DATA_DIR, ETCD_INITIAL_ADVERTISE_PEER_URLS and ETCD_ADVERTISE_CLIENT_URLS`)
  if (npeer.some((u) => r.peerURLs.includes(u))) refuse('surge-same-url', `the new member uses the target's peer URL ${npeer.join(',')}: that is an in-place replacement (drop --new-config)`)
  const owner = pf.members.find((m) => m.peerURLs.some((u) => npeer.includes(u)))
  if (owner) refuse('peer-url-taken', `member ${owner.name || '(unstarted)'} ${owner.idHex} already owns ${npeer.join(',')}`)
  if (pf.members.some((m) => m.name === nname)) refuse('name-taken', `a member named ${nname} already exists`)
  if (!(existsSync(ndata) ? readdirSync(ndata).length === 0 : true)) refuse('data-dir-not-empty', `the new member's data dir ${ndata} is not empty`)
  const voters = pf.members.filter((m) => !m.isLearner).map((m) => m.idHex)
  const down = voters.filter((v) => !pf.healthyVoters.includes(v))
  if (down.length > 0) refuse('voter-down', `voter ${down.join(', ')} is unhealthy: a surge add needs every voter connected; replace in place instead`)
  const n = voters.length
  if (n <= 2 && !opts.force) refuse('small-cluster', `a ${n}-member cluster has no fault tolerance while the new member joins; pass --force to accept that`)
  const tls = tlsPreflight(ncfg.settings, npeer, nclient, r.now)
  const tlsErr = tls.findings.find((f) => f.severity === 'error')
  if (tlsErr) refuse(tlsErr.code, tlsErr.message, 'reissue the certificate before adding the member')
  const settings = renderSettings({ old: ncfg.settings, name: nname, peerURLs: npeer, dataDir: ndata, others: pf.members })
  const content = render(ncfg.format, settings, ncfg.text)
  const diff = lineDiff(ncfg.text, content, sg.configPath, `${sg.configPath} (new)`)
  const opId = `r${utcStamp(r.now).toLowerCase()}-${randomBytes(3).toString('hex')}`
  const stall = opts.stallTimeoutMs ?? 300000
  const startTimeoutMs = opts.startTimeoutMs ?? 120000
  const others = pf.members.filter((m) => m.idHex !== r.targetIdHex)
  const src = others.find((m) => m.idHex === pf.leaderHex) ?? others[0]!
  const transferee = others.find((m) => pf.healthyVoters.includes(m.idHex) && m.idHex !== pf.leaderHex) ?? others.find((m) => pf.healthyVoters.includes(m.idHex))!
  const snapPath = join(r.stateDir, 'snapshots', `${opId}.db`)
  const q = { voters: n, healthyVoters: pf.healthyVoters.length, toleranceBefore: pf.healthyVoters.length - quorum(n), toleranceDuring: pf.healthyVoters.length - quorum(n), toleranceAfter: n - quorum(n) }
  const steps: StepDraft[] = [
    { kind: 'snapshot', endpoint: src.clientURLs[0]!, path: snapPath, title: `snapshot from ${src.name}`, destructive: false, preconditions: [`${src.name} is healthy`],
      actions: [`Maintenance.Snapshot via ${src.clientURLs[0]} -> ${snapPath}`, 'verify the SHA-256 trailer'], rollback: 'none needed' },
    { kind: 'add-learner', name: nname, peerURLs: npeer, title: `add ${nname} as a learner`, destructive: true, preconditions: ['every voter is connected', 'the learner slot is free', `${ndata} is absent or empty`],
      actions: [`Cluster.MemberAdd(peerURLs=${npeer.join(',')}, isLearner=true)`], rollback: 'an unstarted learner can be removed safely (replace abort --remove-learner)' },
    { kind: 'write-config', path: sg.configPath, content, diff, title: `write ${sg.configPath}`, destructive: true, preconditions: ['the learner exists'],
      actions: [`write ${sg.configPath} (tmp + fsync + rename)`], rollback: 'restore the .bak copy' },
    { kind: 'start-member', control: sg.control, clientURLs: nclient, peerURLs: npeer, startTimeoutMs, title: `start ${nname} (existing)`, destructive: true, preconditions: ['its data dir is empty'],
      actions: [...describeStart(sg.control), `wait <= ${startTimeoutMs / 1000}s for Status on ${nclient[0]}`], rollback: 'stop it; remove the learner' },
    { kind: 'wait-caught-up', clientURLs: nclient, stallTimeoutMs: stall, title: 'wait until the learner has caught up', destructive: false, preconditions: ['the learner has started'],
      actions: ['poll Status: learner raftAppliedIndex vs leader raftIndex'], rollback: 'none needed' },
    { kind: 'promote-learner', peerURLs: npeer, stallTimeoutMs: stall, title: `promote ${nname}`, destructive: true, preconditions: ['the learner is in sync'],
      actions: ['Cluster.MemberPromote(new ID), retried while "not in sync"'], rollback: 'none; the cluster has N+1 voters until the old member is removed' },
    // Who leads at removal time is unknown now (elections happen while the learner joins): the
    // step is always planned and acts only if the old member leads then. Removing a leader makes
    // it step down after committing its own removal, an election with a pause in writes.
    { kind: 'move-leader', fromHex: r.targetIdHex, toHex: transferee.idHex, title: `move leadership away from ${r.name} if it leads at removal time`, destructive: false,
      preconditions: [`${r.name} is the leader at that time (else skipped)`, 'a healthy voter other than it exists'],
      actions: [`if ${r.name} leads: Maintenance.MoveLeader(${transferee.idHex} ${transferee.name}, or another healthy voter) via ${r.clientURLs[0]}`], rollback: 'none needed' },
    { kind: 'remove-member', memberIdHex: r.targetIdHex, peerURLs: r.peerURLs, title: `remove the old member ${r.name} ${r.targetIdHex}`, destructive: true,
      preconditions: [`quorum holds without ${r.targetIdHex}`], actions: [`Cluster.MemberRemove(ID=${r.targetIdHex})`], rollback: 'cannot be undone' },
    { kind: 'stop-member', control: opts.control, clientURLs: r.clientURLs, peerURLs: r.peerURLs, title: `stop ${r.name}`, destructive: true, preconditions: ['it was removed (it exits by itself; stop/mask keeps it down)', ...unitKnown(opts.control)],
      actions: describeStop(opts.control), rollback: 'none' },
  ]
  if (existsSync(r.dataDir) && readdirSync(r.dataDir).length > 0) {
    steps.push({ kind: 'archive-data-dir', dataDir: r.dataDir, expectMemberIdHex: r.targetIdHex, expectClusterIdHex: pf.clusterIdHex, title: `move ${r.dataDir} aside`, destructive: true,
      preconditions: ['no etcd runs on the dir', `its WAL says member ${r.targetIdHex}`], actions: [`rename(${r.dataDir}, ${r.dataDir}.removed-${r.targetIdHex}-<UTC timestamp>)`, 'write ARCHIVE.json'], rollback: 'none needed' })
  }
  steps.push({ kind: 'verify', expectVoters: n, title: 'verify the cluster', destructive: false, preconditions: [], actions: [`every member healthy, cluster ${pf.clusterIdHex}, ${n} voters, no learner`], rollback: 'none' })
  return {
    version: PLAN_VERSION, opId, createdAt: r.now.toISOString(), mode: 'surge', reason: 'MEMBER', force: !!opts.force,
    replacement: { name: nname, peerURLs: npeer, clientURLs: nclient, dataDir: ndata },
    cluster: { idHex: pf.clusterIdHex, leaderHex: pf.leaderHex, members: pf.members },
    connection: opts.connection,
    target: { idHex: r.targetIdHex, name: r.name, peerURLs: r.peerURLs, clientURLs: r.clientURLs, dataDir: r.dataDir, ...(r.ident ? { dataDirIdentity: { memberIdHex: r.ident.memberIdHex, clusterIdHex: r.ident.clusterIdHex } } : {}), inMembership: true, wasLeader: pf.leaderHex === r.targetIdHex },
    quorum: q, stateDir: r.stateDir, configPath: resolve(sg.configPath), configFormat: ncfg.format,
    tls: { checked: tls.checked, findings: tls.findings.map((f) => `${f.severity}: ${f.message}`) },
    warnings: [...tls.findings.filter((f) => f.severity === 'warning').map((f) => f.message), ...r.earlyWarnings],
    lockTtlSec: opts.lockTtlSec ?? CLUSTER_LOCK_TTL,
    steps: steps.map((st, i) => ({ ...st, n: i + 1 }) as Step),
  }
}

/**
 * Unfinished ops of a state dir, for `plan` to mention (read-only: no journal, none).
 */
export function unfinishedOps(stateDir: string): { opId: string; status: OpStatus; target: string }[] {
  const journal = Journal.openExisting(stateDir)
  if (!journal) return []
  try {
    return journal.listOps().filter(isUnfinished).map((r) => {
      const plan = JSON.parse(r.planJson) as Plan
      return { opId: r.opId, status: r.status, target: `${plan.target.name} ${plan.target.idHex}` }
    })
  } finally {
    journal.close()
  }
}

/** Reads and validates a plan file. */
export function readPlan(path: string): Plan {
  let p: Plan
  try {
    p = JSON.parse(readFileSync(path, 'utf8')) as Plan
  } catch (e) {
    throw new InputError(`cannot read plan ${path}: ${(e as Error).message}`, path)
  }
  if (p.version !== PLAN_VERSION) throw new InputError(`plan ${path} has version ${String(p.version)}; this etcd-inspect reads version ${PLAN_VERSION}`, path, 'plan-version')
  if (!Array.isArray(p.steps) || !p.opId) throw new InputError(`plan ${path} is not a replace plan`, path, 'plan-invalid')
  if (p.lockTtlSec !== undefined) {
    const bad = lockTtlProblem(p.lockTtlSec)
    if (bad) throw new InputError(`plan ${path}: lockTtlSec ${JSON.stringify(p.lockTtlSec)}: ${bad}`, path, 'plan-invalid')
  }
  return p
}
