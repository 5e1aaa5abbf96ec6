/**
 * `etcd-inspect check [data-dir] --endpoints ...`: pre-restart verdict and exit code
 * (docs/check.md). Member flags default to etcd's own environment (ETCD_NAME, ETCD_DATA_DIR,
 * ETCD_INITIAL_ADVERTISE_PEER_URLS, ...) so `ExecStartPre=` in the etcd unit sees what etcd sees.
 */
import { Option, type Command } from '../commander.js'
import { UsageError } from '../../errors.js'
import { outputFormat, outputOption } from '../common.js'
import { addConnectionOptions, connectionOptionsFrom } from '../connection-options.js'
import { streamSink } from '../../render/output.js'
import type { ConnectionFlags } from '../../cluster/settings.js'
import type { CheckOptions } from '../../app/check.js'

export interface CheckCliOptions extends ConnectionFlags {
  writeOut?: string
  walDir?: string
  name?: string
  initialAdvertisePeerUrls?: string
  initialClusterState?: string
  snapshotCount?: string
  stateDir?: string
  witness?: boolean
  discover?: boolean
  preStart?: boolean
  allowWarn?: boolean
  config?: string
  systemdUnit?: string
}

/** argv + env → typed options for runCheck (tested on its own). */
export function checkOptions(dir: string | undefined, o: CheckCliOptions, env: NodeJS.ProcessEnv = process.env): CheckOptions & { preStart: boolean; allowWarn: boolean } {
  const dataDir = dir ?? env.ETCD_DATA_DIR
  if (!dataDir) throw new UsageError('missing data dir', 'pass the etcd --data-dir as the argument (or set ETCD_DATA_DIR)')
  const peer = o.initialAdvertisePeerUrls ?? env.ETCD_INITIAL_ADVERTISE_PEER_URLS
  const peerURLs = peer ? peer.split(',').map((s) => s.trim()).filter(Boolean) : undefined
  for (const u of peerURLs ?? []) {
    if (!/^https?:\/\/[^/]+:\d+\/?$/.test(u)) throw new UsageError(`invalid peer URL "${u}"`, 'use http(s)://host:port, as in --initial-advertise-peer-urls')
  }
  const state = o.initialClusterState ?? env.ETCD_INITIAL_CLUSTER_STATE
  if (state !== undefined && state !== 'new' && state !== 'existing') throw new UsageError(`--initial-cluster-state must be new or existing, got "${state}"`)
  const sc = o.snapshotCount ?? env.ETCD_SNAPSHOT_COUNT
  if (sc !== undefined && (!/^\d+$/.test(sc) || BigInt(sc) === 0n)) throw new UsageError(`--snapshot-count: expected a positive integer, got "${sc}"`)
  return {
    dataDir,
    walDir: o.walDir ?? env.ETCD_WAL_DIR ?? undefined,
    connection: connectionOptionsFrom(o, env),
    name: o.name ?? env.ETCD_NAME ?? undefined,
    peerURLs,
    initialClusterState: state as 'new' | 'existing' | undefined,
    snapshotCount: sc !== undefined ? BigInt(sc) : undefined,
    stateDir: o.stateDir ?? env.ETCD_INSPECT_STATE_DIR ?? undefined,
    witness: o.witness !== false,
    discover: o.discover !== false,
    preStart: !!o.preStart,
    allowWarn: !!o.allowWarn,
    ...((o.config ?? env.ETCD_INSPECT_CONFIG) ? { config: (o.config ?? env.ETCD_INSPECT_CONFIG)! } : {}),
    ...((o.systemdUnit ?? env.ETCD_INSPECT_SYSTEMD_UNIT) ? { systemdUnit: (o.systemdUnit ?? env.ETCD_INSPECT_SYSTEMD_UNIT)! } : {}),
  }
}

export function register(program: Command): void {
  const cmd = program
    .command('check')
    .description('online: is this data dir safe to start, compared with the live cluster? verdict + exit code (read-only on the data dir)')
    .argument('[data-dir]', 'the etcd data dir (default: $ETCD_DATA_DIR)')
    .addOption(outputOption())
  addConnectionOptions(cmd)
  cmd
    .option('--wal-dir <dir>', 'etcd --wal-dir, when the WAL is not under <data-dir>/member/wal (env ETCD_WAL_DIR)')
    .option('--name <name>', 'the member\'s --name (env ETCD_NAME)')
    .option('--initial-advertise-peer-urls <urls>', 'the member\'s peer URLs (env ETCD_INITIAL_ADVERTISE_PEER_URLS); needed for an empty data dir')
    .addOption(new Option('--initial-cluster-state <state>', 'the member\'s --initial-cluster-state (env ETCD_INITIAL_CLUSTER_STATE)').choices(['new', 'existing']))
    .option('--snapshot-count <n>', 'the cluster\'s --snapshot-count (env ETCD_SNAPSHOT_COUNT; default: that of the etcd version that wrote the dir, 100000 when unknown)')
    .option('--state-dir <dir>', 'where witnesses are kept (env ETCD_INSPECT_STATE_DIR; default /var/lib/etcd-inspect)')
    .option('--no-witness', 'do not record a witness on OK')
    .option('--no-discover', 'ask only --endpoints, not the other members\' client URLs')
    .option('--pre-start', 'for systemd ExecStartPre=: silent on a startable verdict, one line on stderr otherwise')
    .option('--allow-warn', 'exit 0 instead of 1 for warnings (BEHIND_NEEDS_SNAPSHOT)')
    .option('--config <file>', 'the member\'s env file or unit, for the printed replace command (env ETCD_INSPECT_CONFIG; default /etc/default/etcd)')
    .option('--systemd-unit <unit>', 'the member\'s systemd unit, for the printed replace command (env ETCD_INSPECT_SYSTEMD_UNIT; default etcd.service)')
    .action(async (dir: string | undefined, o: CheckCliOptions) => {
      const format = outputFormat(o)
      const opts = checkOptions(dir, o)
      // Read the data dir (worker thread) while the gRPC client loads and the cluster answers.
      const { offlineEvidence } = await import('../../app/check-offline.js')
      const { resolve } = await import('node:path')
      const offline = offlineEvidence(resolve(opts.dataDir), opts.walDir)
      offline.catch(() => undefined) // awaited in runCheck; no unhandled rejection meanwhile
      const { runCheck } = await import('../../app/check.js')
      const { renderCheck, preStartLine } = await import('../../render/check.js')
      // grpc-js closes a connection still waiting for the server's HTTP/2 settings (a frozen
      // member) gracefully, and its socket would keep the process alive after the answer. An
      // unref'd timer only fires if something still holds the event loop: then exit with the code.
      const exitSoon = (): void => { setTimeout(() => process.exit(), 50).unref() }
      let result
      try {
        result = await runCheck({ ...opts, offline })
      } catch (err) {
        exitSoon()
        throw err
      }
      exitSoon()
      const exit = opts.allowWarn && result.exitCode === 1 ? 0 : result.exitCode
      if (opts.preStart) {
        const line = preStartLine(result, exit)
        if (line) process.stderr.write(line + '\n')
        if (o.writeOut !== undefined && o.writeOut !== 'table') await renderCheck(result, format, streamSink(process.stdout))
      } else {
        await renderCheck(result, format, streamSink(process.stdout))
      }
      process.exitCode = exit
    })
}
