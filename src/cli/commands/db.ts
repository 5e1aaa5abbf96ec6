/**
 * `etcd-inspect db`: read a bbolt db (a data dir, or the db / snapshot file) without changing it.
 *   db <path>                         metas, the one in use and why, etcd summary
 *   db status <path>                  etcd schema + etcdctl snapshot status figures
 *   db check <path>                   structural check (exit 0 / 4)
 *   db buckets <path>                 buckets with bbolt-stats figures
 *   db keys <path> <bucket>           keys (decoded for etcd's buckets)
 *   db get <path> <bucket> <key>      one key
 *   db space <path>                   space by prefix, live/history/tombstones, compact+defrag forecast
 */
import { Command, Option } from '../commander.js'
import { outputFormat, outputOption } from '../common.js'
import { ExitCode } from '../exit-codes.js'
import { UsageError } from '../../errors.js'
import { progress, progressDone, streamSink, type OutputFormat } from '../../render/output.js'

type Out = { writeOut?: string }
type ValueOpts = Out & { showValues?: boolean; valueFormat?: string; hex?: boolean }

const write = (s: string): void => { process.stdout.write(s) }

function valueFormat(v: string | undefined): 'auto' | 'hex' | 'ascii' | undefined {
  if (v === undefined) return undefined
  if (v === 'auto' || v === 'hex' || v === 'ascii') return v
  throw new UsageError(`unknown --value-format "${v}"`, 'use auto, hex or ascii')
}

function parseLimit(s: string | undefined): number | undefined {
  if (s === undefined) return undefined
  if (!/^\d+$/.test(s)) throw new UsageError(`--limit must be a non-negative integer, got "${s}"`)
  return Number(s)
}

const valueOptions = (c: Command): Command => c
  .option('--show-values', 'print values of the `key` bucket instead of <redacted len sha256> (password hashes stay redacted)')
  .addOption(new Option('--value-format <fmt>', 'format of shown values: auto|hex|ascii'))
  .option('--hex', 'the key/prefix argument is hex')

/**
 * The root program parses options globally, so `-w` after a subcommand reaches `db` itself; each
 * subcommand also declares it (for --help) without a default, and the first one set wins.
 */
const subOutput = (): Option => new Option('-w, --write-out <format>', 'output format (table|json|ndjson|simple)')

export function register(program: Command): void {
  const fmt = (opts: Out): ReturnType<typeof outputFormat> => outputFormat({ writeOut: opts.writeOut ?? (db.opts() as Out).writeOut })
  const db: Command = program
    .command('db')
    .description('read a bbolt db read-only: metas, buckets, keys, etcd schema, structural check')
    .argument('[path]', 'data dir, member dir, or the db / `etcdctl snapshot save` file')
    .addOption(outputOption())
    .action(async (path: string | undefined, opts: Out) => {
      if (!path) throw new UsageError('missing <path>', 'etcd-inspect db <data-dir|db-file>, or db status|check|buckets|keys|get <path>')
      const w = fmt(opts)
      const { dbInfo } = await import('../../app/db.js')
      const { renderDbInfo } = await import('../../render/db.js')
      write(renderDbInfo(dbInfo(path), w))
    })

  /** A `db <name> <path>` subcommand; `run` lazily imports the core function and its renderer. */
  const onPath = (name: string, description: string, run: (path: string, w: OutputFormat) => Promise<void>): void => {
    db.command(name)
      .description(description)
      .argument('<path>')
      .addOption(subOutput())
      .action(async (path: string, opts: Out) => run(path, fmt(opts)))
  }

  onPath('status', 'etcd schema summary and the `etcdctl snapshot status` hash/revision/totalKey/totalSize figures', async (path, w) => {
    const { dbStatus } = await import('../../app/db.js')
    const { renderDbStatus } = await import('../../render/db.js')
    let last = 0
    const r = dbStatus(path, (n) => {
      const now = Date.now()
      if (now - last > 250) { last = now; progress(`hashing: ${(n / 1e6).toFixed(0)} MB`) }
    })
    progressDone()
    write(renderDbStatus(r, w))
  })

  onPath('check', 'structural check like `bbolt check`; exit 0 when sound, 4 when not', async (path, w) => {
    const { dbCheck } = await import('../../app/db.js')
    const { renderDbCheck } = await import('../../render/db.js')
    const r = dbCheck(path)
    write(renderDbCheck(r, w))
    if (!r.check.ok) {
      // The findings are the result (stdout, in the chosen format); stderr gets the one-line verdict
      // an operator or a script sees even when stdout goes to a file.
      const first = r.check.findings.find((f) => f.severity === 'error')
      process.stderr.write(`Error: ${r.path}: ${r.check.errors} structural error(s)${first ? `, first at ${first.file}@${first.offset}: ${first.code}: ${first.detail}` : ''} (do not start etcd on this db: restore it from a good copy or replace the member)\n`)
      process.exitCode = ExitCode.Corrupt
    }
  })

  onPath('buckets', 'top-level buckets with key counts, depth, page counts and bytes (like `bbolt stats`)', async (path, w) => {
    const { dbBuckets } = await import('../../app/db.js')
    const { renderDbBuckets } = await import('../../render/db.js')
    const r = dbBuckets(path)
    write(renderDbBuckets(r, w))
    if (r.problems > 0) process.exitCode = ExitCode.Corrupt
  })

  db.command('space')
    .description('bytes and keys by prefix (live / history / tombstones), largest keys, free pages, and what compact + defrag would leave')
    .argument('<path>')
    .option('--depth <n>', 'path segments per prefix for keys outside /registry/ (default 1)')
    .option('--at-revision <rev>', 'forecast a compaction at this revision (default: the current revision)')
    .option('--quota-backend-bytes <n>', "etcd's --quota-backend-bytes, to show the room left")
    .option('--top <n>', 'keys in the largest / most-revisions lists (default 10)')
    .addOption(subOutput())
    .action(async (path: string, opts: Out & { depth?: string; atRevision?: string; quotaBackendBytes?: string; top?: string }) => {
      const w = fmt(opts)
      const num = (flag: string, v: string | undefined): number | undefined => {
        if (v === undefined) return undefined
        if (!/^\d+$/.test(v)) throw new UsageError(`${flag} must be a non-negative integer, got "${v}"`)
        return Number(v)
      }
      const { collectDbSpace } = await import('../../app/db-space.js')
      const { renderDbSpace } = await import('../../render/space.js')
      const atRevision = num('--at-revision', opts.atRevision)
      write(renderDbSpace(collectDbSpace(path, {
        depth: num('--depth', opts.depth), atRevision: atRevision === undefined ? undefined : BigInt(opts.atRevision!),
        quotaBackendBytes: num('--quota-backend-bytes', opts.quotaBackendBytes), top: num('--top', opts.top),
      }), w))
    })

  valueOptions(db.command('keys')
    .description('list the keys of a bucket in order; `key` entries are decoded (revision, KeyValue, value class)')
    .argument('<path>')
    .argument('<bucket>')
    .option('--prefix <prefix>', 'only keys starting with this prefix (bbolt key bytes)')
    .option('--limit <n>', 'at most n entries (default 1000; 0 = all); -w ndjson|simple stream entries as they are read')
    .addOption(subOutput()))
    .action(async (path: string, bucket: string, opts: ValueOpts & { prefix?: string; limit?: string }) => {
      const w = fmt(opts)
      const limit = parseLimit(opts.limit)
      const keyOpts = { prefix: opts.prefix, hex: opts.hex, limit, showValues: opts.showValues, valueFormat: valueFormat(opts.valueFormat) }
      if (w === 'ndjson' || w === 'simple') {
        // Line formats stream: one entry at a time, waiting for stdout to drain, so
        // `--limit 0` over millions of keys stays flat in memory.
        const { streamDbKeys } = await import('../../app/db.js')
        const { keysLineWriter } = await import('../../render/db.js')
        const out = keysLineWriter(bucket, w, streamSink(process.stdout))
        const r = await streamDbKeys(path, bucket, keyOpts, out.entry)
        await out.end()
        if (!r.live.consistent) {
          process.stderr.write(`warning: ${r.path}: the file moved on while it was read (txid ${r.live.txid} -> ${r.live.txidAtEnd}): pages of the view may have been reused; re-run, or inspect a copy from \`etcdctl snapshot save\`\n`)
        }
        return
      }
      const { dbKeys } = await import('../../app/db.js')
      const { renderDbKeys } = await import('../../render/db.js')
      write(renderDbKeys(dbKeys(path, bucket, keyOpts), w))
    })

  valueOptions(db.command('get')
    .description('one key of a bucket (in `key`: a revision MAIN, MAIN_SUB or MAIN_SUBt, or hex with --hex)')
    .argument('<path>')
    .argument('<bucket>')
    .argument('<key>')
    .option('--rev <R>', 'in `key`: <key> is a user key; its value as of revision R, as `etcdctl get --rev R` (0 = current)')
    .option('--state-dir <dir>', 'with --rev: where `etcd-inspect index` keeps its index')
    .addOption(subOutput()))
    .action(async (path: string, bucket: string, key: string, opts: ValueOpts & { rev?: string; stateDir?: string }) => {
      const w = fmt(opts)
      if (opts.rev !== undefined) {
        if (bucket !== 'key') throw new UsageError('--rev applies to the `key` bucket only', `etcd-inspect db get ${path} key <key> --rev R`)
        if (!/^\d+$/.test(opts.rev)) throw new UsageError(`--rev must be a non-negative integer, got "${opts.rev}"`)
        const { getAtRevision } = await import('../../app/history.js')
        const { indexSources } = await import('../../app/index-query.js')
        const { renderGetAtRevision } = await import('../../render/history.js')
        const r = await getAtRevision(path, key, BigInt(opts.rev), { hex: opts.hex, showValues: opts.showValues, valueFormat: valueFormat(opts.valueFormat) },
          indexSources(path, { stateDir: opts.stateDir }))
        write(renderGetAtRevision(r, w))
        return
      }
      const { dbGet } = await import('../../app/db.js')
      const { renderDbGet } = await import('../../render/db.js')
      write(renderDbGet(dbGet(path, bucket, key, { hex: opts.hex, showValues: opts.showValues, valueFormat: valueFormat(opts.valueFormat) }), w))
    })
}
