/**
 * `etcd-inspect history <path> <key> [--prefix]`: every revision of a key the db holds, joined
 * with the WAL requests that touched it (app/history.ts). Uses the LMDB index under --state-dir
 * when `etcd-inspect index` built one for this very db, else scans.
 */
import { Command, Option } from '../commander.js'
import { outputFormat, outputOption } from '../common.js'
import { UsageError } from '../../errors.js'

type Opts = { writeOut?: string; prefix?: boolean; hex?: boolean; showValues?: boolean; valueFormat?: string; limit?: string; walDir?: string; wal?: boolean; stateDir?: string; index?: boolean }

export function register(program: Command): void {
  program
    .command('history')
    .description('every revision of a key the db still holds, joined with the WAL requests that touched it (raft index/term, txn, request ID, user)')
    .argument('<path>', 'data dir (db + WAL), or a db file (revisions only)')
    .argument('<key>', 'the key (hex with --hex or 0x…)')
    .option('--prefix', 'every key starting with <key>')
    .option('--hex', 'the key is hex')
    .option('--show-values', 'print values instead of <redacted len sha256>')
    .addOption(new Option('--value-format <fmt>', 'format of shown values: auto|hex|ascii'))
    .option('--limit <n>', 'at most n db revisions (default 1000; 0 = all)')
    .option('--wal-dir <dir>', "etcd's separate --wal-dir")
    .option('--no-wal', 'db revisions only')
    .option('--state-dir <dir>', 'where `etcd-inspect index` keeps its index (default /var/lib/etcd-inspect)')
    .option('--no-index', 'scan even when an index exists')
    .addOption(outputOption())
    .action(async (path: string, key: string, opts: Opts) => {
      const w = outputFormat(opts)
      if (opts.limit !== undefined && !/^\d+$/.test(opts.limit)) throw new UsageError(`--limit must be a non-negative integer, got "${opts.limit}"`)
      const vf = opts.valueFormat
      if (vf !== undefined && vf !== 'auto' && vf !== 'hex' && vf !== 'ascii') throw new UsageError(`unknown --value-format "${vf}"`, 'use auto, hex or ascii')
      const { keyHistory } = await import('../../app/history.js')
      const { indexSources } = await import('../../app/index-query.js')
      const { renderHistory } = await import('../../render/history.js')
      const r = await keyHistory(path, key, {
        prefix: opts.prefix, hex: opts.hex, showValues: opts.showValues, valueFormat: vf, limit: opts.limit === undefined ? undefined : Number(opts.limit),
        walDir: opts.walDir, noWal: opts.wal === false, noIndex: opts.index === false,
      }, opts.index === false ? {} : indexSources(path, { stateDir: opts.stateDir, walDir: opts.walDir }))
      process.stdout.write(renderHistory(r, w))
    })
}
