/** `etcd-inspect snap <dir>`: `.snap` files, snapshot cadence, WAL alignment. */
import { Option, type Command } from '../commander.js'
import { UsageError } from '../../errors.js'
import { outputFormat, outputOption } from '../common.js'
import { streamSink } from '../../render/output.js'
import { ExitCode } from '../exit-codes.js'

export interface SnapCliOptions {
  writeOut?: string
  snapshotCount?: string
  walDir?: string
  wal?: boolean
}

/** argv options → typed options for runSnap (tested on its own). */
export function snapOptions(o: SnapCliOptions): { snapshotCount?: bigint; walDir?: string; noWal: boolean } {
  let snapshotCount: bigint | undefined
  if (o.snapshotCount !== undefined) {
    if (!/^\d+$/.test(o.snapshotCount) || BigInt(o.snapshotCount) === 0n) {
      throw new UsageError(`--snapshot-count: expected a positive integer, got "${o.snapshotCount}"`, 'e.g. --snapshot-count 10000')
    }
    snapshotCount = BigInt(o.snapshotCount)
  }
  return { snapshotCount, ...(o.walDir ? { walDir: o.walDir } : {}), noWal: o.wal === false }
}

export function register(program: Command): void {
  program
    .command('snap')
    .description('decode .snap files, snapshot cadence, WAL snapshot records and coverage (read-only)')
    .argument('<dir>', 'data dir, its member/ dir, member/snap, or one .snap file')
    .addOption(outputOption())
    .addOption(new Option('--snapshot-count <n>', 'the member\'s --snapshot-count (default 10000; etcd 3.2-3.5 default 100000)'))
    .option('--wal-dir <dir>', 'WAL dir when not <data-dir>/member/wal (etcd --wal-dir)')
    .option('--no-wal', 'do not read the WAL')
    .action(async (dir: string, o: SnapCliOptions) => {
      const format = outputFormat(o)
      const opts = snapOptions(o)
      const { runSnap, snapHasCorruption } = await import('../../app/snap.js')
      const { renderSnap } = await import('../../render/snap.js')
      const result = await runSnap(dir, opts)
      await renderSnap(result, format, streamSink(process.stdout))
      const errors = result.findings.filter((f) => f.severity === 'error')
      for (const f of errors) {
        process.stderr.write(`Error: ${f.file ? `${f.file}${f.offset !== undefined ? `@${f.offset}` : ''}: ` : ''}${f.detail}${f.hint ? ` (${f.hint})` : ''}\n`)
      }
      if (snapHasCorruption(result)) process.exitCode = ExitCode.Corrupt
    })
}
