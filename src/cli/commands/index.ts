/**
 * `etcd-inspect index <path>`: builds (or confirms current) the LMDB history index of a data dir
 * under --state-dir (app/index.ts). Reads the data dir only; writes only under the state dir.
 */
import { Command } from '../commander.js'
import { outputFormat, outputOption } from '../common.js'

type Opts = { writeOut?: string; stateDir?: string; walDir?: string; wal?: boolean; force?: boolean }

export function register(program: Command): void {
  program
    .command('index')
    .description('build the LMDB index `history` and `db get --rev` use on big dbs: key -> revisions, key -> WAL entries')
    .argument('<path>', 'data dir (db + WAL), or a db file')
    .option('--state-dir <dir>', 'where the index lives (default /var/lib/etcd-inspect; never inside a data dir)')
    .option('--wal-dir <dir>', "etcd's separate --wal-dir")
    .option('--no-wal', 'index the db only')
    .option('--force', 'rebuild even when the index is current')
    .addOption(outputOption())
    .action(async (path: string, opts: Opts) => {
      const w = outputFormat(opts)
      const { buildIndex } = await import('../../app/index.js')
      const { renderIndex } = await import('../../render/history.js')
      process.stdout.write(renderIndex(await buildIndex(path, { stateDir: opts.stateDir, walDir: opts.walDir, noWal: opts.wal === false, force: opts.force }), w))
    })
}
