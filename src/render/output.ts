/**
 * Output plumbing shared by all commands: the `-w` format names (etcdctl's table|json|simple plus
 * ndjson for streams), a writer that honours back-pressure, and progress that goes to stderr only
 * when stderr is a TTY, so machine output on stdout is never mixed with it.
 */
import { UsageError } from '../errors.js'
import { toJson, toJsonLine } from './json.js'

export const OutputFormats = ['table', 'json', 'ndjson', 'simple'] as const
export type OutputFormat = (typeof OutputFormats)[number]

export function parseOutputFormat(s: string | undefined, fallback: OutputFormat = 'table'): OutputFormat {
  if (s === undefined) return fallback
  if ((OutputFormats as readonly string[]).includes(s)) return s as OutputFormat
  throw new UsageError(`unknown output format "${s}"`, `use -w ${OutputFormats.join('|')}`)
}

/** Where renderers write. Tests pass a collecting sink; the CLI passes stdout. */
export interface Sink {
  /** Bytes are UTF-8 (the parallel WAL reader hands over encoded batches). */
  write(s: string | Uint8Array): void | Promise<void>
  /**
   * Writes bytes the caller wants back: resolves once the sink no longer holds them (the
   * parallel WAL reader reuses its output buffers).
   */
  writeOwned?(b: Uint8Array): Promise<void>
}

/** A sink over a Node writable that waits for 'drain' so large outputs stay flat in memory. */
export function streamSink(stream: NodeJS.WritableStream): Sink {
  return {
    write(s: string | Uint8Array) {
      if (!stream.write(s)) {
        return new Promise<void>((resolve) => stream.once('drain', () => resolve()))
      }
    },
    writeOwned(b: Uint8Array) {
      // The write callback runs once the stream has handed the bytes to the OS.
      return new Promise<void>((resolve, reject) => {
        stream.write(b, (err) => (err ? reject(err) : resolve()))
      })
    },
  }
}

/** How one command's result looks in the text formats and, when it streams, in ndjson. */
export interface Views<R> {
  /** The ndjson lines; without it, ndjson is the whole result on one line. */
  ndjson?(r: R): Iterable<unknown>
  simple(r: R): string
  table(r: R): string
}

/** Writes `r` in `format`: JSON is always the whole result (the contract), the rest is `views`. */
export async function renderResult<R>(r: R, format: OutputFormat, out: Sink, views: Views<R>): Promise<void> {
  if (format === 'json') await out.write(toJson(r) + '\n')
  else if (format === 'ndjson') for (const line of views.ndjson?.(r) ?? [r]) await out.write(toJsonLine(line) + '\n')
  else if (format === 'simple') await out.write(views.simple(r))
  else await out.write(views.table(r))
}

/** Collects output in memory (tests). */
export function memorySink(): Sink & { text(): string } {
  const parts: string[] = []
  return { write: (s: string | Uint8Array) => { parts.push(typeof s === 'string' ? s : Buffer.from(s.buffer, s.byteOffset, s.byteLength).toString('utf8')) }, text: () => parts.join('') }
}

/** Progress on stderr, only on a TTY. */
export function progress(msg: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${msg}`)
}

export function progressDone(): void {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K')
}
