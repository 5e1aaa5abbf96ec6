/**
 * `etcd-inspect report <dir> -o report.html`: one self-contained HTML page of a data dir.
 * The only file this command writes is the page: never inside the data dir (or --wal-dir), and
 * never over an existing file unless --force is given (then atomically, by rename).
 */
import type { Command } from '../commander.js'
import { closeSync, openSync, realpathSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { basename, dirname, join, resolve, sep } from 'node:path'
import { InputError, UnsafeOperationError, UsageError } from '../../errors.js'
import { VERSION } from '../program.js'

export interface ReportCliOptions {
  output?: string
  force?: boolean
  walDir?: string
  tolerant?: boolean
  buckets?: string
}

/** Where the page goes, checked: the parent exists, it is outside every dir we read, and no file is overwritten without `force`. */
export function checkOutputPath(output: string, readDirs: string[], force: boolean): string {
  const out = resolve(output)
  let parent: string
  try {
    parent = realpathSync(dirname(out))
  } catch {
    throw new InputError(`${dirname(out)}: no such directory for -o ${output}`, dirname(out), 'not-found', 'create the directory first or choose another -o path')
  }
  const target = join(parent, basename(out))
  for (const d of readDirs) {
    let real: string
    try {
      real = realpathSync(d)
    } catch {
      continue
    }
    if (target === real || target.startsWith(real.endsWith(sep) ? real : real + sep)) {
      throw new UnsafeOperationError(`refusing to write ${output} inside the data dir ${d}`, 'refused-inside-data-dir', 'write the report outside the data dir, e.g. -o /tmp/report.html')
    }
  }
  const st = statSync(target, { throwIfNoEntry: false })
  const exists = st !== undefined
  if (st?.isDirectory()) throw new UsageError(`-o ${output} is a directory`, 'give a file name, e.g. -o report.html')
  if (exists && !force) {
    throw new UnsafeOperationError(`refusing to overwrite ${output}`, 'refused-overwrite', 'pass --force to replace it, or choose another -o path')
  }
  return target
}

/** Writes the page: exclusive create, or with `force` a temp file renamed over the old one. */
export function writeOutput(target: string, text: string, force: boolean): void {
  const data = Buffer.from(text, 'utf8')
  const path = force ? `${target}.tmp-${process.pid}` : target
  let fd: number
  try {
    fd = openSync(path, 'wx', 0o644)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new UnsafeOperationError(`refusing to overwrite ${target}`, 'refused-overwrite', 'pass --force to replace it')
    throw new InputError(`${path}: cannot create: ${(err as Error).message}`, path, 'write-failed', 'check the permissions of the -o directory')
  }
  try {
    let off = 0
    while (off < data.length) off += writeSync(fd, data, off)
  } finally {
    closeSync(fd)
  }
  if (force) {
    try {
      renameSync(path, target)
    } catch (err) {
      unlinkSync(path)
      throw err
    }
  }
}

export function register(program: Command): void {
  program
    .command('report')
    .description('write one self-contained HTML page of a data dir: verdict, WAL timeline, space, members (read-only; values redacted)')
    .argument('<dir>', 'etcd --data-dir (or its member/ dir)')
    .requiredOption('-o, --output <file>', 'the HTML file to write (outside the data dir)')
    .option('--force', 'overwrite the -o file if it exists')
    .option('--wal-dir <dir>', 'WAL dir when not <data-dir>/member/wal (etcd --wal-dir)')
    .option('--tolerant', 'keep reading the WAL past bad records (as wal --tolerant)')
    .option('--buckets <n>', 'index ranges on the timeline (default 200)')
    .action(async (dir: string, o: ReportCliOptions) => {
      let buckets: number | undefined
      if (o.buckets !== undefined) {
        buckets = Number(o.buckets)
        if (!Number.isInteger(buckets) || buckets < 2 || buckets > 2000) throw new UsageError(`--buckets ${o.buckets} is not a number from 2 to 2000`, 'the default is 200')
      }
      const force = o.force ?? false
      const readDirs = [dir, ...(o.walDir ? [o.walDir] : [])]
      checkOutputPath(o.output!, readDirs, force)
      const { collectReport } = await import('../../app/report.js')
      const { renderReport, verdict } = await import('../../render/report.js')
      const r = await collectReport(dir, { walDir: o.walDir, tolerant: o.tolerant ?? false, buckets, toolVersion: VERSION })
      // The data dir proper may be above the path given (member/): check again now that it is known.
      const target = checkOutputPath(o.output!, [...readDirs, r.status.dataDir], force)
      const html = renderReport(r)
      writeOutput(target, html, force)
      const v = verdict(r.status)
      process.stderr.write(`report written to ${o.output} (${Buffer.byteLength(html)} bytes): ${v.word}\n`)
    })
}
