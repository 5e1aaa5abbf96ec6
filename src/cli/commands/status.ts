/** `etcd-inspect status <data-dir>`: offline, one screen, read-only. */
import type { Command } from '../commander.js'
import { outputFormat, outputOption } from '../common.js'
import { streamSink } from '../../render/output.js'
import { ExitCode } from '../exit-codes.js'
import type { StatusResult } from '../../app/status-types.js'

export interface StatusCliOptions {
  writeOut?: string
  walDir?: string
  allWalSegments?: boolean
}

/**
 * The exit code of a status result: 4 corruption, 3 a file or dir that could not be read (a FIFO,
 * a directory where the db belongs, a permission), 5 only a torn tail, else 0 (docs/status.md).
 */
export function statusExitCode(r: StatusResult): number {
  if (!r.integrity.ok) return ExitCode.Corrupt
  if (r.integrity.wal.status === 'unavailable' || r.integrity.db.status === 'unavailable') return ExitCode.Input
  if (r.integrity.wal.status === 'torn-tail') return ExitCode.TornTail
  return ExitCode.OK
}

export function register(program: Command): void {
  program
    .command('status')
    .description('offline: what is this data dir? identity, HardState, snapshot, db, members, integrity, locks (read-only)')
    .argument('<data-dir>', 'etcd --data-dir (or its member/ dir)')
    .addOption(outputOption())
    .option('--wal-dir <dir>', 'WAL dir when not <data-dir>/member/wal (etcd --wal-dir)')
    .option('--all-wal-segments', 'read every WAL segment, not only those from the last snapshot on (as etcd at boot)')
    .action(async (dir: string, o: StatusCliOptions) => {
      const format = outputFormat(o)
      const { collectStatus } = await import('../../app/status.js')
      const { renderStatus } = await import('../../render/status.js')
      const result = await collectStatus(dir, { scanEntries: true, ...(o.walDir ? { walDir: o.walDir } : {}), ...(o.allWalSegments ? { allWalSegments: true } : {}) })
      await renderStatus(result, format, streamSink(process.stdout))
      for (const f of result.findings.filter((x) => x.severity === 'error')) {
        process.stderr.write(`Error: ${f.file && !f.detail.startsWith(f.file) ? `${f.file}${f.offset !== undefined ? `@${f.offset}` : ''}: ` : ''}${f.detail}${f.hint ? ` (${f.hint})` : ''}\n`)
      }
      process.exitCode = statusExitCode(result)
    })
}
