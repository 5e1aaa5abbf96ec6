/**
 * `etcd-inspect wal <dir>` and `etcd-inspect wal verify <dir>` (docs/wal.md). Thin: argv →
 * typed options (`walOptions`, tested on its own), lazy import of the core function, render,
 * exit code from the verdict (0 clean, 5 torn tail only, 4 corruption).
 */
import { Command, Option } from '../commander.js'
import { UsageError } from '../../errors.js'
import { parseId } from '../../format/ids.js'
import { outputFormat, outputOption, type CliContext } from '../common.js'
import { ExitCode } from '../exit-codes.js'
import type { WalOptions } from '../../app/wal.js'
import type { WalFinding } from '../../format/wal/decoder.js'

export interface WalCliFlags {
  walDir?: string
  tolerant?: boolean
  startIndex?: string
  endIndex?: string
  type?: string
  key?: string
  prefix?: string
  member?: string
  fromSnapshot?: boolean
  showValues?: boolean
  writeOut?: string
  threads?: string
}

/** `--threads`: worker threads for `wal` (undefined: the default, CPUs up to 4). */
export function walThreads(v: string | undefined): number | undefined {
  if (v === undefined) return undefined
  if (!/^\d+$/.test(v.trim()) || Number(v) < 1 || Number(v) > 64) throw new UsageError(`--threads "${v}" is not a thread count`, 'give 1 to 64; 1 reads on one thread only (spares a busy host)')
  return Number(v)
}

function index(flag: string, v: string | undefined): bigint | undefined {
  if (v === undefined) return undefined
  if (!/^\d+$/.test(v.trim()) || BigInt(v.trim()) > 0xffffffffffffffffn) throw new UsageError(`${flag} "${v}" is not a raft index`, `give a decimal number, e.g. ${flag} 100`)
  return BigInt(v.trim())
}

/** Normalises flags into the core function's options (throws UsageError on bad values). */
export async function walOptions(flags: WalCliFlags): Promise<WalOptions> {
  const { TYPE_NAMES } = await import('../../app/wal.js')
  const opts: WalOptions = {
    walDir: flags.walDir, tolerant: flags.tolerant ?? false, showValues: flags.showValues ?? false, fromSnapshot: flags.fromSnapshot ?? false,
    startIndex: index('--start-index', flags.startIndex), endIndex: index('--end-index', flags.endIndex), key: flags.key, prefix: flags.prefix,
  }
  if (opts.startIndex !== undefined && opts.endIndex !== undefined && opts.startIndex > opts.endIndex) {
    throw new UsageError(`--start-index ${opts.startIndex} is above --end-index ${opts.endIndex}`, 'both bounds are inclusive')
  }
  if (flags.key !== undefined && flags.prefix !== undefined) throw new UsageError('--key and --prefix cannot be combined', 'use one of them')
  if (flags.type !== undefined) {
    const types = flags.type.split(',').map((t) => t.trim()).filter(Boolean)
    const bad = types.filter((t) => !TYPE_NAMES.includes(t))
    if (bad.length || types.length === 0) throw new UsageError(`unknown --type ${bad.join(',') || '""'}`, `use one or more of ${TYPE_NAMES.join(',')}`)
    opts.types = types
  }
  if (flags.member !== undefined) {
    const id = parseId(flags.member)
    if (id === undefined) throw new UsageError(`--member "${flags.member}" is not a member ID`, 'give it in hex as etcdctl prints it, e.g. --member 8e9e05c52164694d')
    opts.member = id
  }
  return opts
}

/**
 * The one stderr line for a bad verdict (stdout keeps the full result): the first error finding,
 * or the torn-tail finding, as `file@offset: detail (what to do next)`.
 */
export function verdictLine(verdict: 'clean' | 'torn-tail' | 'corrupt', findings: readonly WalFinding[]): string | undefined {
  if (verdict === 'clean') return undefined
  const f = verdict === 'corrupt' ? findings.find((x) => x.severity === 'error') : findings.find((x) => x.code === 'torn-tail')
  if (!f) return verdict === 'corrupt' ? 'Error: wal: corruption found (see the findings)' : undefined
  const where = f.offset >= 0 ? `${f.file}@${f.offset}` : f.file
  const more = verdict === 'corrupt' ? findings.filter((x) => x.severity === 'error').length - 1 : 0
  return `${verdict === 'corrupt' ? 'Error' : 'Warning'}: ${where}: ${f.detail}${f.hint ? ` (${f.hint})` : ''}${more > 0 ? ` [+${more} more]` : ''}`
}

/** Exit code for a WAL verdict. */
export function verdictExit(v: 'clean' | 'torn-tail' | 'corrupt'): number {
  return v === 'clean' ? ExitCode.OK : v === 'torn-tail' ? ExitCode.TornTail : ExitCode.Corrupt
}

export function register(program: Command, ctx: CliContext = {}): void {
  const wal = program
    .command('wal')
    .description('decode every WAL segment, verify the CRC-32C chain, classify the end of the log')
    .argument('<dir>', 'data dir, member/ dir or wal/ dir')
    .addOption(outputOption())
    .option('--wal-dir <dir>', 'separate WAL directory (etcd --wal-dir)')
    .option('--tolerant', 'keep going past bad records and report every finding')
    .option('--start-index <n>', 'first raft index to show (inclusive)')
    .option('--end-index <n>', 'last raft index to show (inclusive)')
    .option('--type <list>', 'entry types or request kinds, comma-separated (normal,conf,put,txn,deleteRange,lease,auth,compaction,v2,noop,...)')
    .option('--key <key>', 'entries touching this key (also inside txns and ranges)')
    .option('--prefix <prefix>', 'entries touching keys with this prefix')
    .option('--member <id>', 'conf changes for this member ID (hex)')
    .option('--from-snapshot', 'start after the newest snapshot at or below the commit index, as etcd does at boot')
    .addOption(new Option('--show-values', 'print put values (text, else hex) instead of length + sha256'))
    .option('--threads <n>', 'threads on large logs (default: CPUs, at most 4; 1 = one thread, to spare a busy host)')
    .action(async (dir: string, flags: WalCliFlags) => {
      // workers started ahead (cli/early.ts): the parallel path takes them, `stop` ends the rest
      const started = ctx.walWorkers
      ctx.walWorkers = undefined
      try {
        const format = outputFormat(flags)
        const opts = await walOptions(flags)
        const threads = walThreads(flags.threads)
        const { streamWal } = await import('../../app/wal.js')
        const { renderWalStream } = await import('../../render/wal.js')
        const { streamSink } = await import('../../render/output.js')
        const sink = streamSink(process.stdout)
        // Every format streams; large regular logs go to worker threads (app/wal-parallel.ts), same bytes either way.
        const par = threads === 1 ? null : await (await import('../../app/wal-parallel.js')).streamWalParallel(dir, opts, { threads, style: format, started })
        const items = par ? par.items : streamWal(dir, { ...opts, markReplaced: format !== 'ndjson' })
        const last = await renderWalStream(items, sink, format, { showValues: opts.showValues })
        const end = last?.summary.end ?? 'corrupt'
        const line = verdictLine(end, last?.findings ?? [])
        if (line) process.stderr.write(line + '\n')
        process.exitCode = verdictExit(end)
      } finally {
        started?.stop()
      }
    })
  wal
    .command('verify')
    .description('integrity only: one line per segment and a verdict (exit 0 clean, 5 torn tail, 4 corruption)')
    .argument('<dir>', 'data dir, member/ dir or wal/ dir')
    .addOption(outputOption('simple'))
    .option('--wal-dir <dir>', 'separate WAL directory (etcd --wal-dir)')
    .option('--tolerant', 'keep going past bad records and report every finding')
    .action(async (dir: string, own: WalCliFlags, cmd: Command) => {
      // The root program does not use positional options, so `wal verify <dir> -w json` hands -w,
      // --wal-dir and --tolerant to the parent `wal` command: take them from there when given.
      const flags: WalCliFlags = { ...own }
      for (const k of ['writeOut', 'walDir', 'tolerant'] as const) {
        if (cmd.getOptionValueSource(k) !== 'cli' && cmd.parent?.getOptionValueSource(k) === 'cli') flags[k] = cmd.parent.getOptionValue(k)
      }
      const format = outputFormat(flags)
      const { verifyWal } = await import('../../app/wal.js')
      const { renderVerify } = await import('../../render/wal.js')
      const { streamSink } = await import('../../render/output.js')
      const r = verifyWal(dir, { walDir: flags.walDir, tolerant: flags.tolerant ?? false })
      await renderVerify(r, format, streamSink(process.stdout))
      const line = verdictLine(r.verdict, r.findings)
      if (line) process.stderr.write(line + '\n')
      process.exitCode = verdictExit(r.verdict)
    })
}
