/**
 * `etcd-inspect replace plan|apply|resume|status|abort`: the member-replacement runbook
 * (docs/replace.md, RECOVERY.md §6). Thin: parse flags, call app/replace, render.
 */
import { Option, type Command } from '../commander.js'
import { writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { createInterface } from 'node:readline/promises'
import { UsageError } from '../../errors.js'
import { outputFormat, outputOption } from '../common.js'
import { addConnectionOptions, connectionOptionsFrom } from '../connection-options.js'
import { parseGoDuration } from '../../cluster/settings.js'
import { progress, progressDone } from '../../render/output.js'
import type { ApplyFlags, ConnectionSpec, Plan, ProcessControlSpec } from '../../app/replace/model.js'
import type { PlanOptions } from '../../app/replace/plan.js'
import { CLUSTER_LOCK_TTL_MAX, CLUSTER_LOCK_TTL_MIN, lockTtlProblem } from '../../app/replace/cluster-lock.js'

/** The flags of plan/apply/resume/status/abort; those `replace plan` passes on to its printed apply are ApplyFlags. */
interface PlanFlags extends ApplyFlags {
  config?: string
  stateDir?: string
  out?: string
  writeOut?: string
  yes?: boolean
  plan?: string
  fromPlan?: string
  op?: string
  removeLearner?: boolean
  leaveRemoved?: boolean
}

/**
 * Ctrl-C / SIGTERM during apply or resume: one line naming the interrupted step, that nothing is
 * lost and how to continue; the journal records it (app/replace/apply.ts interruptRun). The exit
 * status stays the shell's 128 + signal number.
 */
async function onInterrupt(): Promise<void> {
  const { interruptRun } = await import('../../app/replace/apply.js')
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(sig, () => {
      progressDone()
      process.stderr.write(`${interruptRun(sig)}\n`)
      process.exit(code)
    })
  }
}

/**
 * `--lock-ttl`: whole seconds as a number or a Go duration (`30`, `30s`, `2m`), within
 * CLUSTER_LOCK_TTL_MIN..MAX.
 */
export function parseLockTtl(v: string): number {
  let ms: number
  try {
    ms = parseGoDuration(v, 'lock-ttl')
  } catch {
    ms = Number.NaN
  }
  const sec = ms / 1000
  if (!Number.isFinite(sec) || lockTtlProblem(sec)) {
    throw new UsageError(`invalid --lock-ttl "${v}": whole seconds between ${CLUSTER_LOCK_TTL_MIN} and ${CLUSTER_LOCK_TTL_MAX} (e.g. 30 or 2m)`)
  }
  return sec
}

function addPlanOptions(cmd: Command): Command {
  addConnectionOptions(cmd)
  return cmd
    .option('--config <file>', "the target member's env file (ETCD_*) or systemd unit; rewritten by apply")
    .addOption(new Option('--config-format <format>', 'env or unit (default: detected)').choices(['env', 'unit']))
    .option('--member <name|id>', 'cross-check: the target member name or hex ID')
    .option('--data-dir <dir>', 'the target data dir (default: ETCD_DATA_DIR from --config)')
    .option('--state-dir <dir>', 'journal, lock and snapshots (default /var/lib/etcd-inspect)')
    .option('--stop-cmd <cmd>', 'shell command that stops the target etcd')
    .option('--start-cmd <cmd>', 'shell command that starts the target etcd')
    .option('--systemd-unit <unit>', 'stop/start the target with systemctl (mask while removed)')
    .option('--force', 'accept a 1-/2-member cluster (no fault tolerance during the replacement)')
    .option('--stall-timeout <duration>', 'give up waiting for learner progress after this long (default 5m)')
    .option('--start-timeout <duration>', 'wait this long for the new member to answer (default 2m)')
    .option('--lock-ttl <seconds>', `TTL of the cluster lock's lease while apply runs, ${CLUSTER_LOCK_TTL_MIN}..${CLUSTER_LOCK_TTL_MAX} (default 10): how long a killed run blocks other hosts`)
    .option('--new-config <file>', 'surge mode: the new member\'s env file/unit (new name, URLs, data dir); added before the old one is removed')
    .option('--new-start-cmd <cmd>', 'surge mode: shell command that starts the new member')
    .option('--new-stop-cmd <cmd>', 'surge mode: shell command that stops the new member (rollback; default true)')
    .option('--new-systemd-unit <unit>', 'surge mode: the new member\'s systemd unit')
}

export function planOptionsFrom(f: PlanFlags, env: NodeJS.ProcessEnv = process.env): PlanOptions {
  if (!f.config) throw new UsageError('--config is required', "pass the target member's env file or unit")
  let control: ProcessControlSpec
  if (f.systemdUnit) {
    if (f.stopCmd || f.startCmd) throw new UsageError('use either --systemd-unit or --stop-cmd/--start-cmd')
    control = { kind: 'systemd', unit: f.systemdUnit }
  } else if (f.stopCmd && f.startCmd) control = { kind: 'commands', stopCmd: f.stopCmd, startCmd: f.startCmd }
  else throw new UsageError('pass --stop-cmd and --start-cmd, or --systemd-unit', 'apply must be able to stop and start the target')
  let surge: PlanOptions['surge']
  if (f.newConfig) {
    const nc: ProcessControlSpec | undefined = f.newSystemdUnit ? { kind: 'systemd', unit: f.newSystemdUnit } : f.newStartCmd ? { kind: 'commands', startCmd: f.newStartCmd, stopCmd: f.newStopCmd ?? 'true' } : undefined
    if (!nc) throw new UsageError('--new-config needs --new-start-cmd or --new-systemd-unit')
    surge = { configPath: f.newConfig, control: nc }
  } else if (f.newStartCmd || f.newSystemdUnit) throw new UsageError('--new-start-cmd/--new-systemd-unit need --new-config')
  const c = connectionOptionsFrom(f as Record<string, unknown>, env)
  const connection: ConnectionSpec = {
    endpoints: c.endpoints, dialTimeoutMs: c.dialTimeoutMs, commandTimeoutMs: c.commandTimeoutMs,
    ...(c.cacert ? { cacert: c.cacert } : {}), ...(c.cert ? { cert: c.cert } : {}), ...(c.key ? { key: c.key } : {}),
    ...(c.user ? { user: c.user } : {}), ...(c.insecureSkipTlsVerify ? { insecureSkipTlsVerify: true } : {}),
  }
  return {
    connection, configPath: f.config, control,
    ...(f.configFormat ? { configFormat: f.configFormat as 'env' | 'unit' } : {}),
    ...(f.member ? { member: f.member } : {}), ...(f.dataDir ? { dataDir: f.dataDir } : {}), ...(f.stateDir ? { stateDir: f.stateDir } : {}),
    force: !!f.force,
    ...(surge ? { surge } : {}),
    ...(f.stallTimeout ? { stallTimeoutMs: parseGoDuration(f.stallTimeout, 'stall-timeout') } : {}),
    ...(f.startTimeout ? { startTimeoutMs: parseGoDuration(f.startTimeout, 'start-timeout') } : {}),
    ...(f.lockTtl !== undefined ? { lockTtlSec: parseLockTtl(f.lockTtl) } : {}),
  }
}

async function confirm(plan: Plan, yes: boolean, render: (p: Plan) => string): Promise<void> {
  if (yes) return
  if (!process.stdin.isTTY || !process.stderr.isTTY) throw new UsageError('apply changes the cluster: pass --yes after reviewing the plan (no terminal to ask)')
  process.stderr.write(render(plan))
  const rl = createInterface({ input: process.stdin, output: process.stderr })
  const a = await rl.question(`run these ${plan.steps.length} steps against cluster ${plan.cluster.idHex}? type "yes": `)
  rl.close()
  if (a.trim() !== 'yes') throw new UsageError('not confirmed; nothing was changed')
}

/**
 * A member that hangs mid-handshake (stopped, partitioned) leaves a gRPC socket open that would
 * keep the process alive after the command has finished; never let it outlive its result.
 */
function exitSoon(): void {
  setTimeout(() => process.exit(), 2000).unref()
}

const applyHooks = {
  progress: (m: string) => progress(m),
  onStep: (s: { n: number; title: string }, phase: string, ms?: number) => {
    progressDone()
    if (process.stderr.isTTY) process.stderr.write(`[${s.n}] ${s.title}: ${phase}${ms !== undefined ? ` (${(ms / 1000).toFixed(1)}s)` : ''}\n`)
  },
}

export function register(program: Command): void {
  const replace = program.command('replace').description('replace a member: plan, apply, resume, status, abort (docs/replace.md)')

  addPlanOptions(replace.command('plan').description('read-only preflight; prints the versioned plan (changes nothing)'))
    .option('-o, --out <file>', 'also write the plan JSON to this file (for apply --plan)')
    .addOption(outputOption())
    .action(async (f: PlanFlags) => {
      const fmt = outputFormat(f)
      const { buildPlan } = await import('../../app/replace/plan.js')
      const { renderPlan } = await import('../../render/replace.js')
      const plan = await buildPlan(planOptionsFrom(f)).finally(exitSoon)
      if (f.out) writeFileSync(f.out, JSON.stringify(plan, null, 2) + '\n', { mode: 0o600 })
      const { applyCommand } = await import('../../app/replace/model.js')
      process.stdout.write(renderPlan(plan, fmt, applyCommand(plan, f, f.out ? resolve(f.out) : undefined)))
    })

  addPlanOptions(replace.command('apply').description('run a plan (--plan file) or plan-and-run with the same flags as plan'))
    .option('--plan <file>', 'the plan written by replace plan -o')
    .addOption(new Option('--from-plan <file>', 'alias of --plan').hideHelp())
    .option('--yes', 'do not ask for confirmation')
    .addOption(outputOption())
    .action(async (f: PlanFlags) => {
      const fmt = outputFormat(f)
      const { buildPlan, readPlan } = await import('../../app/replace/plan.js')
      const { applyPlan } = await import('../../app/replace/apply.js')
      const { renderApply, renderPlan } = await import('../../render/replace.js')
      const { ClusterOps } = await import('../../app/replace/cluster-ops.js')
      const file = f.plan ?? f.fromPlan
      await onInterrupt()
      // With --plan, --lock-ttl still applies: how long a killed run blocks others is not part of what the plan does.
      const lockTtlSec = f.lockTtl !== undefined ? parseLockTtl(f.lockTtl) : undefined
      // Planned in this run: apply keeps the plan's connections (no second dial of every member).
      const planOpts = file ? undefined : planOptionsFrom(f)
      const ops = planOpts ? new ClusterOps(planOpts.connection) : undefined
      try {
        const plan = file ? readPlan(file) : await buildPlan(planOpts!, ops)
        await confirm(plan, !!f.yes, (p) => renderPlan(p, 'table'))
        const r = await applyPlan(plan, { ...applyHooks, ...(ops ? { ops } : {}), ...(lockTtlSec !== undefined ? { lockTtlSec } : {}) }).finally(exitSoon)
        progressDone()
        process.stdout.write(renderApply(r, fmt))
      } finally {
        ops?.close()
      }
    })

  replace.command('resume').description('finish an interrupted operation from the live cluster state')
    .option('--op <id>', 'operation ID (default: the single unfinished one)')
    .option('--state-dir <dir>', 'default /var/lib/etcd-inspect')
    .option('--yes', 'do not ask for confirmation')
    .option('--lock-ttl <seconds>', `TTL of the cluster lock's lease, ${CLUSTER_LOCK_TTL_MIN}..${CLUSTER_LOCK_TTL_MAX} (default: the interrupted run's)`)
    .addOption(outputOption())
    .action(async (f: PlanFlags) => {
      const fmt = outputFormat(f)
      const lockTtlSec = f.lockTtl !== undefined ? parseLockTtl(f.lockTtl) : undefined
      if (!f.yes) throw new UsageError('resume continues destructive steps: pass --yes (see replace status first)')
      await onInterrupt()
      const { resumeOp } = await import('../../app/replace/apply.js')
      const { renderApply } = await import('../../render/replace.js')
      const r = await resumeOp({ ...(f.stateDir ? { stateDir: f.stateDir } : {}), ...(f.op ? { opId: f.op } : {}), ...(lockTtlSec !== undefined ? { lockTtlSec } : {}), ...applyHooks }).finally(exitSoon)
      progressDone()
      process.stdout.write(renderApply(r, fmt))
    })

  replace.command('status').description('operations in the journal and their steps')
    .option('--op <id>', 'one operation')
    .option('--state-dir <dir>', 'default /var/lib/etcd-inspect')
    .addOption(outputOption())
    .action(async (f: PlanFlags) => {
      const { replaceStatus } = await import('../../app/replace/apply.js')
      const { renderStatus } = await import('../../render/replace.js')
      process.stdout.write(renderStatus(replaceStatus({ ...(f.stateDir ? { stateDir: f.stateDir } : {}), ...(f.op ? { opId: f.op } : {}) }), outputFormat(f)))
    })

  replace.command('abort').description('mark an unfinished operation aborted; optionally remove its unstarted learner')
    .option('--op <id>', 'operation ID (default: the single unfinished one)')
    .option('--state-dir <dir>', 'default /var/lib/etcd-inspect')
    .option('--remove-learner', 'remove the replacement learner if it never started')
    .option('--leave-removed', 'abort even though this operation removed the member and no replacement votes yet (the cluster stays a member short)')
    .option('--yes', 'confirm')
    .addOption(outputOption())
    .action(async (f: PlanFlags) => {
      if (!f.yes) throw new UsageError('abort changes the journal (and with --remove-learner the cluster): pass --yes')
      const { abortOp } = await import('../../app/replace/apply.js')
      const { renderAbort } = await import('../../render/replace.js')
      // The cluster lock is looked at over gRPC: a member that hangs mid-handshake must not keep the process alive.
      const r = await abortOp({ ...(f.stateDir ? { stateDir: f.stateDir } : {}), ...(f.op ? { opId: f.op } : {}), removeLearner: !!f.removeLearner, leaveRemoved: !!f.leaveRemoved }).finally(exitSoon)
      process.stdout.write(renderAbort(r, outputFormat(f)))
    })
}
