/** `etcd-inspect compare <data-dir> <data-dir>...`: members side by side, HashKV offline, restore source (docs/compare.md). */
import { Option, type Command } from '../commander.js'
import { UsageError } from '../../errors.js'
import { outputFormat, outputOption } from '../common.js'
import { addConnectionOptions, connectionOptionsFrom } from '../connection-options.js'
import { streamSink } from '../../render/output.js'
import { ExitCode } from '../exit-codes.js'
import type { ConnectionFlags } from '../../cluster/settings.js'
import type { CompareOptions, CompareResult } from '../../app/compare.js'

export interface CompareCliOptions extends ConnectionFlags {
  writeOut?: string
  rev?: string
  restoreDir?: string
  restoreToken?: string
  threads?: string
}

/** The exit code of a compare verdict (README, docs/compare.md). */
export function compareExitCode(r: CompareResult): number {
  switch (r.verdict) {
    case 'NOT_ONE_CLUSTER': return ExitCode.CompareNotOneCluster
    case 'DIVERGED': return ExitCode.CompareDiverged
    case 'BEHIND': return ExitCode.CompareBehind
    default: return ExitCode.OK
  }
}

/** argv + env → typed options for compareDirs. */
export function compareOptions(o: CompareCliOptions, env: NodeJS.ProcessEnv = process.env): CompareOptions {
  if (o.rev !== undefined && !/^[1-9]\d*$/.test(o.rev)) throw new UsageError(`--rev: expected a positive revision, got "${o.rev}"`)
  if (o.threads !== undefined && !/^\d+$/.test(o.threads)) throw new UsageError(`--threads: expected a number, got "${o.threads}"`)
  const live = o.endpoints !== undefined || env.ETCDCTL_ENDPOINTS !== undefined
  return {
    ...(o.rev !== undefined ? { rev: BigInt(o.rev) } : {}),
    ...(o.restoreDir ? { restoreDir: o.restoreDir } : {}),
    ...(o.restoreToken ? { restoreToken: o.restoreToken } : {}),
    ...(o.threads !== undefined ? { threads: Number(o.threads) } : {}),
    ...(live ? { connection: connectionOptionsFrom(o, env) } : {}),
  }
}

export function register(program: Command): void {
  const cmd = program
    .command('compare')
    .description('offline: several members\' data dirs side by side, etcd\'s HashKV at a common revision, where they diverge, which dir to restore from (read-only)')
    .argument('<data-dirs...>', 'two or more etcd --data-dir paths')
    .addOption(outputOption())
    .option('--rev <revision>', 'hash revision (default: the highest revision every member holds above every compaction)')
    .option('--restore-dir <dir>', 'where the printed restore commands put new data dirs (default: beside the source dir)')
    .option('--restore-token <token>', '--initial-cluster-token of the restored cluster', 'etcd-cluster-restored')
    .addOption(new Option('--threads <n>', 'hash worker threads (default: by db size)').hideHelp())
  addConnectionOptions(cmd)
  cmd.action(async (dirs: string[], o: CompareCliOptions) => {
    const format = outputFormat(o)
    const opts = compareOptions(o)
    const { compareDirs } = await import('../../app/compare.js')
    const { renderCompare } = await import('../../render/compare.js')
    const result = await compareDirs(dirs, opts)
    await renderCompare(result, format, streamSink(process.stdout))
    process.exitCode = compareExitCode(result)
  })
}
