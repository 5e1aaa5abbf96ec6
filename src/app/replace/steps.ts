/**
 * One handler per step kind: `done` re-derives from the live cluster and the filesystem whether
 * the step's effect is already there (RECOVERY.md §6.3, "crash between any two steps"), `pre`
 * re-checks its pre-conditions right before acting, `act` performs it and returns evidence.
 * The journal says what we tried; these predicates say what happened.
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync, renameSync, openSync, fsyncSync, closeSync, copyFileSync, readdirSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { connect } from 'node:net'
import { ClusterError, StalledError, UnsafeOperationError } from '../../errors.js'
import { archiveDataDir, archiveStampTime, completeManifest, findArchives, preHashTree, readManifest, utcStamp, type PreHash } from '../../io/archive.js'
import { writeWitness } from '../../io/witness.js'
import { checkUnit, maskUnit, startMember, stopMember } from '../../io/process-control.js'
import type { Journal } from '../../io/journal.js'
import type { ClusterOps, EndpointStatus, MemberListResult } from './cluster-ops.js'
import type { Plan, PlanMember, Step } from './model.js'
import { checkInPlace } from './quorum.js'
import { checkWalIdentity, readWalIdentity, walSegmentPaths } from '../wal.js'
import { idFromHex } from '../../format/ids.js'

export type Evidence = Record<string, unknown>

export interface StepContext {
  plan: Plan
  ops: ClusterOps
  journal: Journal
  facts: Record<string, string>
  setFact(key: string, value: string): void
  /** Progress line (stderr, TTY only) — e.g. learner applied vs leader index. */
  progress(msg: string): void
  /** Test hook: called inside long waits (the catch-up loop) so a crash can be injected there. */
  inside(kind: string): void
  /** Test hook at a named point inside a step (e.g. archive-data-dir between rename and manifest). */
  hook(kind: string, phase: string): void
  /** The archive manifest's hashes, computed while the steps between the stop and the archive run. */
  preHash?: { dataDir: string; promise: Promise<PreHash | undefined> }
}

/**
 * Called by apply after each step is done or skipped. Once the target is stopped, the data dir it
 * left is hashed in the background for the archive manifest (overlapping the removal's RPCs), but
 * only while the dir still holds the target's WAL and the archive step is still ahead. The archive
 * step re-verifies everything as before and re-hashes any file that changed since.
 */
export function afterStep(s: Step, c: StepContext): void {
  if (s.kind !== 'stop-member' || c.preHash) return
  const a = c.plan.steps.find((x): x is Extract<Step, { kind: 'archive-data-dir' }> => x.kind === 'archive-data-dir' && x.n > s.n)
  if (!a) return
  try {
    if (readWalIdentity(a.dataDir)?.memberIdHex !== a.expectMemberIdHex) return
  } catch {
    return
  }
  const promise = preHashTree(a.dataDir).catch(() => undefined)
  c.preHash = { dataDir: a.dataDir, promise }
}

/**
 * Runs when apply finds a stop step already done (skipped). Found stopped says nothing about the
 * mask: `systemctl stop` may have succeeded and `mask --runtime` failed (the step failed after
 * the stop), or the member was down already and never masked, and `Restart=` could then bring the
 * old member back while its ID is removed or its dir moved. So for a systemd unit the mask is set
 * again (idempotent) before any further step, as long as the step that unmasks and starts that
 * unit has not begun. Returns the evidence for the skip record; a failing mask throws.
 */
export async function keepMasked(s: Step, c: StepContext, found: Evidence): Promise<Evidence | undefined> {
  if (s.kind !== 'stop-member' || s.control.kind !== 'systemd') return undefined
  const unit = s.control.unit
  const start = c.plan.steps.find((x) => x.kind === 'start-member' && x.n > s.n && x.control.kind === 'systemd' && x.control.unit === unit)
  if (start) {
    // The intent record precedes the unmask, so no record means the unit was not unmasked by us.
    const ran = c.journal.events(c.plan.opId).find((e) => e.step === start.n && e.phase !== 'note')
    if (ran) return { unit, masked: 'left as is', reason: `step ${start.n} (${start.kind}) has begun (journal: ${ran.phase}): the unit is the replacement's now` }
    // In place, a replacement that has started (by other means) runs under this unit: masking it
    // would keep it down after its next exit.
    if (found.replacementStarted === true) return { unit, masked: 'left as is', reason: `the replacement ${String(found.replacement)} has started` }
  }
  const out = await maskUnit(unit)
  return { unit, masked: 're-established', command: `systemctl mask --runtime ${unit}`, output: out.trim().slice(-300) }
}

export interface StepHandler<S extends Step = Step> {
  done(s: S, c: StepContext): Promise<Evidence | undefined>
  pre?(s: S, c: StepContext): Promise<void>
  act(s: S, c: StepContext): Promise<Evidence>
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const refuse = (code: string, msg: string): never => { throw new UnsafeOperationError(msg, code) }

/** Every client URL we know, configured endpoints first, the target's last. */
export function allEndpoints(c: StepContext, list?: MemberListResult): string[] {
  const urls = [...c.plan.connection.endpoints]
  for (const m of list?.members ?? c.plan.cluster.members) for (const u of m.clientURLs) if (!urls.includes(u)) urls.push(u)
  for (const u of c.plan.target.clientURLs) if (!urls.includes(u)) urls.push(u)
  return urls
}

/** The member ID in `dir`'s WAL (undefined: no WAL, or unreadable), for the stale-plan check. */
export function dataDirMember(dir: string): string | undefined {
  try {
    return readWalIdentity(dir)?.memberIdHex
  } catch {
    return undefined
  }
}

export async function liveList(c: StepContext): Promise<MemberListResult> {
  const l = await c.ops.memberList(allEndpoints(c))
  if (l.clusterIdHex !== c.plan.cluster.idHex) refuse('cluster-id-changed', `the cluster now answers with ID ${l.clusterIdHex}, the plan was made for ${c.plan.cluster.idHex}; stopping`)
  return l
}

/** The member that owns the target's peer URL under a new ID (the replacement), if any. */
export function newMember(c: StepContext, l: MemberListResult): PlanMember | undefined {
  const urls = c.plan.replacement.peerURLs
  return l.members.find((m) => m.idHex !== c.plan.target.idHex && m.peerURLs.some((u) => urls.includes(u)))
}

function portOpen(url: string, timeoutMs = 1000): Promise<boolean> {
  const u = new URL(url)
  return new Promise((resolve) => {
    const s = connect({ host: u.hostname, port: Number(u.port) })
    const t = setTimeout(() => { s.destroy(); resolve(false) }, timeoutMs)
    s.once('connect', () => { clearTimeout(t); s.destroy(); resolve(true) })
    s.once('error', () => { clearTimeout(t); resolve(false) })
  })
}

/** Is the *old* member (target ID) still running on the target's URLs? */
async function oldRunning(c: StepContext): Promise<{ running: boolean; status: EndpointStatus }> {
  const st = await c.ops.status(c.plan.target.clientURLs[0]!, 3000)
  if (st.ok) return { running: st.memberIdHex === c.plan.target.idHex, status: st }
  // No answer on the client URL: something may still hold the peer port (a crash-looping process).
  return { running: await portOpen(c.plan.target.peerURLs[0]!), status: st }
}

function errText(e: unknown): string {
  return (e as Error)?.message ?? String(e)
}

async function healthyVoters(c: StepContext, l: MemberListResult): Promise<{ voters: string[]; healthy: string[] }> {
  const voters = l.members.filter((m) => !m.isLearner)
  const sts = await Promise.all(voters.map((m) => (m.clientURLs[0] ? c.ops.status(m.clientURLs[0], 3000) : Promise.resolve<EndpointStatus>({ endpoint: '', ok: false }))))
  const healthy = voters.filter((m, i) => sts[i]!.ok && sts[i]!.memberIdHex === m.idHex && sts[i]!.leaderHex !== '0').map((m) => m.idHex)
  return { voters: voters.map((m) => m.idHex), healthy }
}

/**
 * An archive this operation renamed but left without a manifest (a crash between the rename and
 * `ARCHIVE.json`). Positive identification, as for any archive: the data dir is gone or empty, the
 * journal holds this step's intent, the archive's name is not older than the plan, and its WAL
 * names the target member and cluster. Anything less is left for a human.
 */
function bareArchive(s: Extract<Step, { kind: 'archive-data-dir' }>, c: StepContext): string | undefined {
  if (!dirAbsentOrEmpty(s.dataDir)) return undefined
  if (!c.journal.events(c.plan.opId).some((e) => e.step === s.n && e.phase === 'intent')) return undefined
  const planned = Math.floor(Date.parse(c.plan.createdAt) / 1000) * 1000
  const cands = findArchives(s.dataDir, s.expectMemberIdHex).filter((a) => !readManifest(a) && (archiveStampTime(a)?.getTime() ?? 0) >= planned)
  for (const a of cands.reverse()) {
    let id: ReturnType<typeof readWalIdentity>
    try { id = readWalIdentity(a) } catch { continue }
    if (id?.memberIdHex === s.expectMemberIdHex && id.clusterIdHex === s.expectClusterIdHex) return a
  }
  return undefined
}

const handlers: { [K in Step['kind']]: StepHandler<Extract<Step, { kind: K }>> } = {
  snapshot: {
    async done(s, c) {
      // The journaled checksum is etcd's trailer: SHA-256 of the file minus its last 32 bytes, which are that hash.
      const sha = c.facts.snapshotSha256
      if (!sha || !existsSync(s.path)) return undefined
      const buf = readFileSync(s.path)
      const body = createHash('sha256').update(buf.subarray(0, buf.length - 32)).digest('hex')
      return body === sha && buf.subarray(buf.length - 32).toString('hex') === sha ? { path: s.path, sha256: sha } : undefined
    },
    async act(s, c) {
      // The membership check and the planned source's Status go out together.
      const [l, planned] = await Promise.all([liveList(c), c.ops.status(s.endpoint, 3000)])
      // Prefer the planned source; any healthy member other than the target will do.
      const cands = l.members.filter((m) => m.idHex !== c.plan.target.idHex).flatMap((m) => m.clientURLs).filter((e) => e !== s.endpoint)
      let src: string | undefined = planned.ok ? s.endpoint : undefined
      if (!src) for (const e of cands) if ((await c.ops.status(e, 3000)).ok) { src = e; break }
      if (!src) throw new ClusterError('no healthy member other than the target answers for the snapshot', 'snapshot-source')
      mkdirSync(dirname(s.path), { recursive: true, mode: 0o700 })
      const r = await c.ops.snapshot(src, s.path)
      if (!r.trailerOk) throw new ClusterError(`snapshot from ${src} failed verification (SHA-256 trailer mismatch); nothing was changed`, 'snapshot-corrupt')
      c.setFact('snapshotSha256', r.sha256)
      c.setFact('snapshotPath', s.path)
      // What the snapshot holds, from its own bbolt file (etcdctl snapshot status's revision: the
      // main revision of the last key; meta/consistent_index): the stream header says 0 on 3.4.
      const { readDbSummary } = await import('../db-summary.js')
      const db = readDbSummary(s.path)
      c.setFact('snapshotRevision', db.revision.toString())
      return { source: src, path: s.path, sha256: r.sha256, size: r.size, revision: db.revision.toString(), consistentIndex: db.consistentIndex.toString(), trailer: 'ok' }
    },
  },

  'move-leader': {
    async done(s, c) {
      const l = await liveList(c)
      if (!l.members.some((m) => m.idHex === s.fromHex)) return { reason: 'target no longer a member' }
      const st = await c.ops.status(c.plan.target.clientURLs[0]!, 3000)
      if (!st.ok) return { reason: 'target not answering; it cannot be the leader' }
      return st.leaderHex !== s.fromHex ? { leader: st.leaderHex } : undefined
    },
    async act(s, c) {
      const l = await liveList(c)
      const { healthy } = await healthyVoters(c, l)
      const to = healthy.includes(s.toHex) ? s.toHex : healthy.find((h) => h !== s.fromHex)
      if (!to) refuse('no-transferee', 'no healthy voter to move leadership to')
      await c.ops.moveLeader(c.plan.target.clientURLs[0]!, to!)
      // MoveLeader returns once the transferee campaigns; the removal that follows must not race the election.
      for (let i = 0; i < 50; i++) {
        const st = await c.ops.status(c.plan.target.clientURLs[0]!, 3000)
        if (st.ok && st.leaderHex !== s.fromHex && st.leaderHex !== '0') return { from: s.fromHex, to, leader: st.leaderHex }
        await sleep(100)
      }
      throw new ClusterError(`leadership did not leave ${s.fromHex} after MoveLeader(${to})`, 'move-leader-failed')
    },
  },

  'stop-member': {
    async done(_s, c) {
      if (c.plan.mode === 'in-place') {
        // Once the old ID is removed and its replacement owns the URL, whatever listens there is the
        // replacement (started, crashed or hung): the stop is long done, and it must not be stopped again.
        const l = await liveList(c)
        const nm = newMember(c, l)
        if (nm && !l.members.some((m) => m.idHex === c.plan.target.idHex)) return { oldMemberRemoved: true, replacement: nm.idHex, replacementStarted: nm.name !== '' }
      }
      const r = await oldRunning(c)
      return r.running ? undefined : { oldMemberRunning: false, clientAnswer: r.status.ok ? `member ${r.status.memberIdHex}` : 'none' }
    },
    async pre(s, c) {
      if (s.control.kind !== 'systemd') return
      // The unit may be gone or renamed since the plan was made: refuse here, before `systemctl
      // stop`, rather than fail half-way through the step. The answer is journaled as evidence.
      const u = await checkUnit(s.control.unit, '--systemd-unit')
      c.journal.append(c.plan.opId, { step: s.n, kind: s.kind, phase: 'note', message: u.warning ?? `systemctl show -p LoadState --value ${s.control.unit}: ${u.loadState}`, evidence: { unit: s.control.unit, loadState: u.loadState } })
      if (u.warning) c.progress(`warning: ${u.warning}`)
    },
    async act(s, c) {
      const out = await stopMember(s.control)
      for (let i = 0; i < 300; i++) {
        if (!(await oldRunning(c)).running) return { stopped: true, output: out.trim().slice(-500) }
        await sleep(100)
      }
      throw new ClusterError(`the old member still answers on ${c.plan.target.clientURLs[0]} after the stop command`, 'stop-failed')
    },
  },

  'remove-member': {
    async done(s, c) {
      const l = await liveList(c)
      return l.members.some((m) => m.idHex === s.memberIdHex) ? undefined : { absent: s.memberIdHex }
    },
    async pre(s, c) {
      const l = await liveList(c)
      const t = l.members.find((m) => m.idHex === s.memberIdHex)
      if (!t || !t.peerURLs.some((u) => s.peerURLs.includes(u))) refuse('target-changed', `member ${s.memberIdHex} no longer owns ${s.peerURLs.join(',')}; stopping before MemberRemove`)
      const { voters, healthy } = await healthyVoters(c, l)
      const q = checkInPlace({ voters, healthy, target: s.memberIdHex, force: c.plan.force })
      if (q.refusal) refuse(q.refusal.code, `${q.refusal.message}; MemberRemove not sent`)
    },
    async act(s, c) {
      try {
        await c.ops.memberRemove(s.memberIdHex, allEndpoints(c).filter((e) => !c.plan.target.clientURLs.includes(e)))
      } catch (e) {
        if (!/member not found/i.test(errText(e))) throw new ClusterError(`MemberRemove(${s.memberIdHex}) failed: ${errText(e)}`, 'remove-failed')
      }
      for (let i = 0; i < 20; i++) {
        if (!(await liveList(c)).members.some((m) => m.idHex === s.memberIdHex)) return { removed: s.memberIdHex }
        await sleep(250)
      }
      throw new ClusterError(`member ${s.memberIdHex} still listed after MemberRemove`, 'remove-failed')
    },
  },

  'archive-data-dir': {
    async done(s, c) {
      const ident = existsSync(s.dataDir) ? readWalIdentity(s.dataDir) : undefined
      const ours = findArchives(s.dataDir, s.expectMemberIdHex).filter((a) => readManifest(a)?.opId === c.plan.opId)
      if (ident?.memberIdHex === s.expectMemberIdHex) {
        if (ours.length > 0) refuse('archive-ambiguous', `${s.dataDir} still holds member ${s.expectMemberIdHex} although ${ours[0]} was archived by this operation; a human must decide`)
        return undefined
      }
      if (ours.length > 0) return { archive: ours.at(-1) }
      // Renamed by this operation but its manifest never written: not done, act writes the manifest.
      if (bareArchive(s, c)) return undefined
      if (dirAbsentOrEmpty(s.dataDir) || ident) return { dataDir: 'holds no WAL of the target', ident: ident?.memberIdHex ?? null }
      return undefined
    },
    async pre(s, c) {
      if (bareArchive(s, c)) return
      if ((await oldRunning(c)).running) refuse('target-running', `member ${s.expectMemberIdHex} is running on ${c.plan.target.clientURLs[0]}; not moving its data dir`)
      const ident = await identifyDataDir(s.dataDir, { quick: true })
      if (ident?.inUse) refuse('data-dir-in-use', `${s.dataDir} is locked by a running etcd (/proc/locks); not moving it`)
      if (!ident) refuse('data-dir-unidentified', `${s.dataDir} has no readable WAL metadata; not archiving a dir that is not positively identified`)
      if (ident!.memberIdHex !== s.expectMemberIdHex || ident!.clusterIdHex !== s.expectClusterIdHex) {
        refuse('data-dir-other-member', `${s.dataDir} belongs to member ${ident!.memberIdHex} of cluster ${ident!.clusterIdHex}, expected ${s.expectMemberIdHex} of ${s.expectClusterIdHex}; not archiving`)
      }
    },
    async act(s, c) {
      const bare = bareArchive(s, c)
      if (bare) {
        // The manifest is computed from the archive exactly as the normal path does; nothing else is moved.
        const m = completeManifest({ archive: bare, originalPath: s.dataDir, memberIdHex: s.expectMemberIdHex, clusterIdHex: s.expectClusterIdHex, opId: c.plan.opId, reason: c.plan.reason })
        c.setFact('archivePath', m.archivePath)
        return { archive: m.archivePath, manifest: 'written on resume (the run stopped between the rename and the manifest)', files: m.files.length, bytes: m.files.reduce((a, f) => a + f.size, 0) }
      }
      const preHash = c.preHash?.dataDir === s.dataDir ? await c.preHash.promise : undefined
      const m = archiveDataDir({ dataDir: s.dataDir, memberIdHex: s.expectMemberIdHex, clusterIdHex: s.expectClusterIdHex, opId: c.plan.opId, reason: c.plan.reason, ...(preHash ? { preHash } : {}), afterRename: () => c.hook('archive-data-dir', 'renamed') })
      c.setFact('archivePath', m.archivePath)
      return { archive: m.archivePath, files: m.files.length, bytes: m.files.reduce((a, f) => a + f.size, 0) }
    },
  },

  'add-learner': {
    async done(_s, c) {
      const nm = newMember(c, await liveList(c))
      if (!nm) return undefined
      c.setFact('newIdHex', nm.idHex)
      return { newIdHex: nm.idHex, isLearner: nm.isLearner, started: nm.name !== '' }
    },
    async pre(_s, c) {
      const l = await liveList(c)
      if (c.plan.mode === 'in-place' && l.members.some((m) => m.idHex === c.plan.target.idHex)) refuse('target-still-member', `member ${c.plan.target.idHex} is still in the cluster; not adding`)
      if (c.plan.mode === 'surge') {
        const { voters, healthy } = await healthyVoters(c, l)
        const down = voters.filter((v) => !healthy.includes(v))
        if (down.length > 0) refuse('voter-down', `voter ${down.join(', ')} is unhealthy; a surge add needs every voter connected; not adding`)
      }
      const ln = l.members.filter((m) => m.isLearner)
      if (ln.length > 0) refuse('learner-pending', `another learner is pending (${ln.map((m) => `${m.idHex} ${m.peerURLs.join(',')}`).join('; ')}); not adding`)
      const d = c.plan.replacement.dataDir
      if (!dirAbsentOrEmpty(d)) refuse('data-dir-not-empty', `${d} is not empty; a new member must start from an empty dir`)
    },
    async act(s, c) {
      const eps = allEndpoints(c).filter((e) => !c.plan.target.clientURLs.includes(e))
      // A voter that just restarted needs 5 s of connectivity before etcd accepts an add ("unhealthy cluster").
      for (let attempt = 0; ; attempt++) {
        try {
          const m = await c.ops.memberAddLearner(s.peerURLs, eps)
          c.setFact('newIdHex', m.idHex)
          return { newIdHex: m.idHex, peerURLs: m.peerURLs, isLearner: m.isLearner }
        } catch (e) {
          const msg = errText(e)
          if (/Peer URLs already exists/i.test(msg)) {
            const nm = newMember(c, await liveList(c))
            if (nm && nm.isLearner && nm.name === '') { c.setFact('newIdHex', nm.idHex); return { adopted: nm.idHex } }
            refuse('peer-url-taken', `${s.peerURLs.join(',')} is owned by a started member ${nm?.idHex ?? '?'}; stopping`)
          }
          if (/unhealthy cluster|not enough started/i.test(msg) && attempt < 20) { await sleep(1000); continue }
          throw new ClusterError(`MemberAdd(learner) failed: ${msg}`, 'add-failed')
        }
      }
    },
  },

  'write-config': {
    async done(s) {
      return existsSync(s.path) && readFileSync(s.path, 'utf8') === s.content ? { path: s.path } : undefined
    },
    async act(s) {
      let backup: string | undefined
      if (existsSync(s.path)) {
        backup = `${s.path}.bak-${utcStamp()}`
        copyFileSync(s.path, backup)
      }
      const tmp = `${s.path}.tmp-${process.pid}`
      writeFileSync(tmp, s.content, { mode: 0o600 })
      const fd = openSync(tmp, 'r')
      fsyncSync(fd)
      closeSync(fd)
      renameSync(tmp, s.path)
      return { path: s.path, backup }
    },
  },

  'start-member': {
    async done(s, c) {
      const nm = newMember(c, await liveList(c))
      if (!nm || nm.name === '') return undefined
      const st = await c.ops.status(s.clientURLs[0]!, 3000)
      return st.ok && st.memberIdHex === nm.idHex ? { newIdHex: nm.idHex, name: nm.name, isLearner: st.isLearner } : undefined
    },
    async pre(s, c) {
      const nm = newMember(c, await liveList(c))
      if (!nm) refuse('no-learner', 'the replacement member is not in the cluster; run the add step first (resume)')
      const dd = c.plan.replacement.dataDir
      const ident = existsSync(dd) ? readWalIdentity(dd) : undefined
      if (ident && ident.memberIdHex !== nm!.idHex) refuse('data-dir-not-empty', `${dd} holds member ${ident.memberIdHex}, not the new ${nm!.idHex}; not starting`)
      if (!ident && !dirAbsentOrEmpty(dd) && readdirSync(dd).some((n) => n !== 'member')) {
        refuse('data-dir-not-empty', `${dd} is not empty; not starting`)
      }
    },
    async act(s, c) {
      const out = await startMember(s.control)
      const deadline = Date.now() + s.startTimeoutMs
      while (Date.now() < deadline) {
        const ev = await handlers['start-member'].done(s, c)
        if (ev) return { ...ev, output: out.trim().slice(-300) }
        await sleep(200)
      }
      throw new ClusterError(`the new member did not answer on ${s.clientURLs[0]} within ${s.startTimeoutMs / 1000}s; check its log`, 'start-timeout')
    },
  },

  'wait-caught-up': {
    async done(s, c) {
      const l = await liveList(c)
      const nm = newMember(c, l)
      if (nm && !nm.isLearner) return { promoted: true }
      return undefined
    },
    async act(s, c) {
      // Progress is the learner's own applied index; while it does not answer, the leader's match
      // for it (raft progress from /debug/vars) stands in, so a frozen learner still has a number.
      let best = -1n
      let lastMove = Date.now()
      let lastAnswer: number | undefined
      for (let polls = 0; ; polls++) {
        const l = await liveList(c)
        const nm = newMember(c, l)
        if (!nm) refuse('no-learner', 'the learner disappeared from the membership')
        if (!nm!.isLearner) return { promoted: true }
        const others = l.members.filter((m) => m.idHex !== nm!.idHex && m.clientURLs.length > 0)
        const [ls, ...sts] = await Promise.all([c.ops.status(s.clientURLs[0]!, 3000), ...others.map((m) => c.ops.status(m.clientURLs[0]!, 3000))])
        const leaderSt = sts.find((x) => x.ok && x.leaderHex === x.memberIdHex) ?? sts.find((x) => x.ok)
        const leaderIdx = leaderSt?.raftIndex ?? 0n
        let applied: bigint | undefined
        let source: 'learner' | 'leader-match' | 'none' = 'none'
        if (ls.ok) { applied = ls.raftAppliedIndex ?? 0n; source = 'learner'; lastAnswer = Date.now() } else if (leaderSt?.ok) {
          const match = await c.ops.learnerMatch(leaderSt.endpoint, nm!.idHex)
          if (match !== undefined) { applied = match; source = 'leader-match' }
        }
        c.progress(`learner ${nm!.idHex}: applied ${applied ?? '?'} / leader ${leaderIdx}${ls.ok ? '' : ' (learner not answering)'}`)
        if (polls === 0) c.inside('wait-caught-up')
        if (ls.ok && leaderIdx > 0n && applied! + 10n >= leaderIdx) return { applied: applied!.toString(), leaderIndex: leaderIdx.toString(), polls }
        if (applied !== undefined && applied > best) { best = applied; lastMove = Date.now() }
        const still = Date.now() - lastMove
        if (still > s.stallTimeoutMs) {
          const behind = applied !== undefined ? leaderIdx - applied : undefined
          const answer = ls.ok ? 'it answers Status' : `it does not answer Status (${ls.error ?? 'no answer'}${lastAnswer ? `; last answer ${Math.round((Date.now() - lastAnswer) / 1000)}s ago` : '; no answer during this wait'})`
          throw new StalledError(
            `learner stalled: ${nm!.name || '(unstarted)'} ${nm!.idHex} made no progress for ${Math.round(still / 1000)}s (stall timeout ${s.stallTimeoutMs / 1000}s): applied index ${applied ?? 'unknown'}${source === 'leader-match' ? ' (the leader\'s match for it)' : ''} vs leader index ${leaderIdx}${behind !== undefined ? `, ${behind} entries behind` : ''}; ${answer}; nothing was lost: the old data dir stays archived and a learner does not count toward quorum`,
            'learner-stalled',
            'fix the learner (process, disk, network), then `etcd-inspect replace resume` keeps waiting',
            { learnerIdHex: nm!.idHex, appliedIndex: applied?.toString() ?? null, appliedSource: source, leaderIndex: leaderIdx.toString(), stalledForMs: still, stallTimeoutMs: s.stallTimeoutMs, learnerAnswers: ls.ok },
          )
        }
        await sleep(300)
      }
    },
  },

  'promote-learner': {
    async done(_s, c) {
      const nm = newMember(c, await liveList(c))
      return nm && !nm.isLearner ? { voter: nm.idHex } : undefined
    },
    async pre(_s, c) {
      const nm = newMember(c, await liveList(c))
      if (!nm) refuse('no-learner', 'the learner is not in the cluster')
      if (nm!.name === '') refuse('learner-unstarted', `learner ${nm!.idHex} has never started; not promoting (etcd would answer "not in sync")`)
    },
    async act(s, c) {
      const nm = newMember(c, await liveList(c))!
      let attempts = 0
      // Progress while etcd refuses: the leader's match for the learner (etcd promotes at 90 % of
      // the leader's own); the stall clock restarts whenever it moves.
      let best = -1n
      let lastMove = Date.now()
      for (;;) {
        attempts++
        try {
          await c.ops.memberPromote(nm.idHex, allEndpoints(c).filter((e) => !c.plan.target.clientURLs.includes(e)))
          return { promoted: nm.idHex, attempts }
        } catch (e) {
          const msg = errText(e)
          if (/in sync with leader/i.test(msg) || /not enough started/i.test(msg)) {
            const l = await liveList(c)
            const sts = await Promise.all(l.members.filter((m) => m.idHex !== nm.idHex && m.clientURLs.length > 0).map((m) => c.ops.status(m.clientURLs[0]!, 3000)))
            const leaderSt = sts.find((x) => x.ok && x.leaderHex === x.memberIdHex)
            const match = leaderSt ? await c.ops.learnerMatch(leaderSt.endpoint, nm.idHex) : undefined
            if (match !== undefined && match > best) { best = match; lastMove = Date.now() }
            const still = Date.now() - lastMove
            if (still > s.stallTimeoutMs) {
              const leaderIdx = leaderSt?.raftIndex
              const behind = match !== undefined && leaderIdx !== undefined ? `, ${leaderIdx - match} entries behind` : ''
              throw new StalledError(
                `learner stalled: promotion of ${nm.name || '(unstarted)'} ${nm.idHex} refused for ${Math.round(still / 1000)}s without progress (stall timeout ${s.stallTimeoutMs / 1000}s, ${attempts} attempts): applied index ${match ?? 'unknown'} (the leader's match for it) vs leader index ${leaderIdx ?? 'unknown'}${behind}; etcd says: ${msg.split(':').pop()?.trim()}; nothing was lost: a learner does not count toward quorum`,
                'promote-stalled', 'fix the learner (process, disk, network), then `etcd-inspect replace resume` retries the promotion',
                { learnerIdHex: nm.idHex, appliedIndex: match?.toString() ?? null, appliedSource: 'leader-match', leaderIndex: leaderIdx?.toString() ?? null, attempts, lastError: msg, stalledForMs: still, stallTimeoutMs: s.stallTimeoutMs },
              )
            }
            c.progress(`promote ${nm.idHex}: ${msg.split(':').pop()?.trim()} (attempt ${attempts}, match ${match ?? '?'} / leader ${leaderSt?.raftIndex ?? '?'})`)
            await sleep(Math.min(500 * attempts, 3000))
            continue
          }
          if (/can only promote a learner member/i.test(msg)) return { promoted: nm.idHex, already: true }
          throw new ClusterError(`MemberPromote(${nm.idHex}) failed: ${msg}`, 'promote-failed')
        }
      }
    },
  },

  verify: {
    async done() {
      return undefined
    },
    async act(s, c) {
      let last = ''
      for (let i = 0; i < 60; i++) {
        const l = await liveList(c)
        const sts = await Promise.all(l.members.map((m) => c.ops.status(m.clientURLs[0] ?? '', 3000)))
        const leaders = new Set(sts.map((x) => x.leaderHex))
        const clusters = new Set(sts.map((x) => x.clusterIdHex))
        const voters = l.members.filter((m) => !m.isLearner).length
        const bad = sts.filter((x) => !x.ok)
        const reads = await Promise.all(l.members.map((m) => c.ops.linearizableRead(m.clientURLs[0] ?? '')))
        if (bad.length === 0 && leaders.size === 1 && !leaders.has('0') && clusters.size === 1 && clusters.has(c.plan.cluster.idHex) && voters === s.expectVoters && l.members.every((m) => !m.isLearner) && reads.every(Boolean)) {
          const leaderIdx = sts.find((x) => x.memberIdHex === [...leaders][0])?.raftIndex ?? 0n
          const witness = await recordWitness(c, l, leaderIdx)
          return { members: l.members.map((m) => `${m.name}=${m.idHex}`), leader: [...leaders][0], clusterIdHex: c.plan.cluster.idHex, voters, witness }
        }
        last = `unhealthy: ${bad.map((b) => `${b.endpoint} ${b.error}`).join('; ')} leaders=${[...leaders].join(',')} voters=${voters} reads=${reads.filter(Boolean).length}/${reads.length}`
        await sleep(500)
      }
      throw new ClusterError(`verification failed: ${last}`, 'verify-failed')
    },
  },
}

/**
 * After a verified replacement: the witness of the new member's data dir (RECOVERY.md §3.3, §6.3
 * step 9), so a later `check` knows which member and cluster that dir must hold, its name, and
 * the commit it had reached (anything lower later means the dir was rolled back). Read from the
 * data dir itself (read-only, also while etcd runs); skipped, with the reason as evidence, when
 * the dir is not on this host (surge onto another machine) or does not name the new member.
 */
async function recordWitness(c: StepContext, l: MemberListResult, clusterRaftIndex: bigint): Promise<Evidence> {
  const nm = newMember(c, l)
  const dir = c.plan.replacement.dataDir
  if (!nm) return { written: false, reason: 'no replacement member in the membership' }
  if (!existsSync(dir)) return { written: false, reason: `${dir} is not on this host` }
  try {
    // Loaded here: the full reader is not needed on the plan path.
    const { collectStatus } = await import('../status.js')
    const st = await collectStatus(dir)
    if (st.memberId !== nm.idHex || st.clusterId !== c.plan.cluster.idHex || st.memberId === null || st.clusterId === null || !st.hardState) {
      return { written: false, reason: `${dir} holds member ${st.memberId ?? '?'} of cluster ${st.clusterId ?? '?'}, not the new ${nm.idHex}` }
    }
    const path = await writeWitness(c.plan.stateDir, {
      clusterId: st.clusterId, memberId: st.memberId, name: nm.name, peerURLs: nm.peerURLs,
      lastSeenCommit: st.hardState.commit, lastSeenTerm: st.hardState.term, lastIndex: st.lastIndex ?? st.hardState.commit,
      revision: st.revision, clusterRaftIndex, dataDir: dir,
    }, idFromHex(st.clusterId), idFromHex(st.memberId))
    c.setFact('witnessPath', path)
    return { written: true, path, memberIdHex: nm.idHex, lastSeenCommit: st.hardState.commit.toString() }
  } catch (e) {
    // The replacement itself is verified; a missing witness only weakens later rollback checks.
    return { written: false, reason: errText(e) }
  }
}

export function handlerFor(s: Step): StepHandler {
  return handlers[s.kind] as unknown as StepHandler
}

/** True when the dir is missing or holds no entries at all. */
export function dirAbsentOrEmpty(dir: string): boolean {
  return !existsSync(dir) || readdirSync(dir).length === 0
}

export interface DataDirFacts {
  memberIdHex: string
  clusterIdHex: string
  /** etcd holds the db or WAL locks (/proc/locks). */
  inUse: boolean
  /** Which reader answered: the offline status, or the checked WAL heads (app/wal.ts readWalIdentity). */
  source: 'status' | 'wal-header'
}

/**
 * Identity of a data dir plus the lock check. `quick` (right before the rename): the checked
 * metadata record of the first segment. `headers` (plan): the checked metadata record heading
 * every segment, all of which must agree (a few KiB each, against 0.33-0.63 s for the full offline
 * status of a 100 MB member on the shared 2-core machine). Otherwise, or when the heads disagree,
 * the offline `collectStatus`, and the first segment's head as the last resort. Undefined when the
 * dir has no WAL or nothing identifies it.
 */
export async function identifyDataDir(dataDir: string, opts: { quick?: boolean; headers?: boolean } = {}): Promise<DataDirFacts | undefined> {
  if (!existsSync(dataDir)) return undefined
  const segs = walSegmentPaths(dataDir)
  if (segs.length === 0) return undefined
  const locked = async () => {
    const db = join(dataDir, 'member', 'snap', 'db')
    const { checkLocks } = await import('../../io/locks.js')
    return checkLocks([...(existsSync(db) ? [db] : []), ...segs]).held
  }
  if (opts.quick || opts.headers) {
    const { identity: id, problem } = checkWalIdentity(dataDir, { allSegments: opts.headers && !opts.quick })
    // A damaged head identifies nothing, and the archive step reads the same head: refuse here,
    // naming the byte, rather than guess the owner from what follows it.
    if (problem) {
      throw new UnsafeOperationError(`${problem.file} at offset ${problem.offset}: ${problem.detail}: the WAL head that identifies ${dataDir} is damaged (${problem.code}); nothing was changed`,
        'data-dir-head-damaged', `etcd-inspect wal verify ${dataDir}; if the dir is to be replaced anyway, move it aside by hand and plan again`)
    }
    if (id) return { memberIdHex: id.memberIdHex, clusterIdHex: id.clusterIdHex, inUse: await locked(), source: 'wal-header' }
    if (opts.quick) return undefined
  }
  let inUse = false
  try {
    const { collectStatus } = await import('../status.js')
    const st = await collectStatus(dataDir)
    inUse = st.inUse.held
    if (st.memberId && st.clusterId) return { memberIdHex: st.memberId, clusterIdHex: st.clusterId, inUse, source: 'status' }
  } catch {
    // The offline status failed: the checked head of the first segment may still identify the dir.
  }
  const id = readWalIdentity(dataDir)
  return id ? { memberIdHex: id.memberIdHex, clusterIdHex: id.clusterIdHex, inUse, source: 'wal-header' } : undefined
}
