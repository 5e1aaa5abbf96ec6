/**
 * The one worker-thread pool of etcd-inspect: where a worker's compiled entry file is, a loud
 * InstallError when the build lacks it, jobs handed out with a bounded window (back-pressure: the
 * next job is taken only when an earlier result has been consumed) and results given back in job
 * order. Its users: the parallel `wal` chunks (workers/wal-chunk.ts), the db hash
 * (app/crc-pool.ts, workers/crc.ts), `check`'s off-thread status (workers/status.ts) and the WAL
 * pass of `index` beside its db pass (workers/index-wal.ts).
 *
 * From the TypeScript sources (vitest) a worker thread cannot load the entry modules, so jobs run
 * in this thread through the same `handle` functions: tests exercise the sources, never a stale
 * dist/. test/workers/pool.test.ts also runs the compiled workers of the build.
 */
import { existsSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import { InstallError } from '../errors.js'

// V8 compiles typed-array code without a detach check for as long as no ArrayBuffer of the isolate
// has ever been detached (its detaching protector). The pool transfers buffers both ways, and the
// first transfer threw away every optimized function of the isolate at once (32 of them in the two
// chunk workers and the main thread on bench/wal's log), all compiled again. Detaching one empty
// buffer here, at load in every thread that uses the pool and before anything is hot, has the code
// compiled once, with the check it needs after the first transfer anyway.
{
  const spent = new ArrayBuffer(0)
  structuredClone(spent, { transfer: [spent] })
}

export type WorkerName = 'wal-chunk' | 'crc' | 'status' | 'index-wal'

/** A worker's job handler: the result and the buffers to transfer (not copy) with it. */
export type Handler<J, R> = (job: J) => { result: R; transfer?: ArrayBuffer[] } | Promise<{ result: R; transfer?: ArrayBuffer[] }>

/** The entry modules' handlers, for jobs run in this thread. */
const HANDLERS: Record<'wal-chunk' | 'status' | 'index-wal', () => Promise<Handler<never, unknown>>> = {
  'wal-chunk': async () => (await import('./wal-chunk.js')).handle as Handler<never, unknown>,
  status: async () => (await import('./status.js')).handle as Handler<never, unknown>,
  'index-wal': async () => (await import('./index-wal.js')).handle as Handler<never, unknown>,
}

/** True when this module runs from the TypeScript sources (vitest): jobs then run in this thread. */
export function fromSources(base: string = import.meta.url): boolean {
  return base.endsWith('.ts')
}

/**
 * The compiled entry file of worker `name` next to this module (dist/workers/NAME.js); null from
 * the sources. Throws InstallError when the build does not have it: a missing worker is never
 * silently replaced by something else.
 */
export function workerFile(name: WorkerName, base: string = import.meta.url): string | null {
  if (fromSources(base)) return null
  const path = fileURLToPath(new URL(`./${name}.js`, base))
  if (!existsSync(path)) throw new InstallError(`etcd-inspect is incomplete: the compiled worker ${path} is missing`, path)
  return path
}

/**
 * V8's young generation per worker, in MB (0: V8's default, 3 x 16 MB semi-spaces on 64-bit, sized
 * for allocation-heavy code). The chunk workers write from bytes and allocate little, and
 * every isolate's young generation counts in the peak RSS: 4 MB saves ~9 MB at no measured cost.
 */
const YOUNG_MB = Number(process.env.ETCD_INSPECT_WORKER_YOUNG_MB ?? 4)

/** Starts worker `name` (compiled build only; throws InstallError without it). */
export function startWorker(name: WorkerName, data: Record<string, unknown> = {}): Worker {
  const file = workerFile(name)
  if (file === null) throw new InstallError(`worker ${name}: worker threads need the compiled build`, name)
  return new Worker(file, { workerData: { ...data, entry: name }, ...(YOUNG_MB > 0 ? { resourceLimits: { maxYoungGenerationSizeMb: YOUNG_MB } } : {}) })
}

/** Messages between the pool and an entry module. */
type Reply<R> = { seq: number; ok: true; result: R } | { seq: number; ok: false; message: string }

/**
 * Called by an entry module at load: in a worker started as `name`, answers each job with its
 * handler's result (errors as a message; the pool's caller decides what they mean).
 */
export function serve<J, R>(name: WorkerName, handle: Handler<J, R>): void {
  if (isMainThread || !parentPort || (workerData as { entry?: string } | null)?.entry !== name) return
  const port = parentPort
  port.on('message', async ({ seq, job }: { seq: number; job: J }) => {
    try {
      const { result, transfer } = await handle(job)
      port.postMessage({ seq, ok: true, result } satisfies Reply<R>, transfer ?? [])
    } catch (err) {
      port.postMessage({ seq, ok: false, message: (err as Error)?.message ?? String(err) } satisfies Reply<R>)
    }
  })
}

/** A job and the buffers to transfer with it. */
export interface PoolJob<J> {
  job: J
  transfer?: ArrayBuffer[]
}

/** A result in job order: the handler's result, or the message of what it threw. */
export type PoolResult<R> = { ok: true; result: R } | { ok: false; message: string }

/**
 * Workers started ahead of their jobs (`prestart`): a worker takes ~0.1 s to load (Node's
 * bootstrap of the thread and the entry's modules), which then overlaps what the caller still has
 * to read before the first job. They do not keep the process alive until `orderedMap` takes them;
 * `stop` ends them when the caller does not need them after all.
 */
export class Prestarted {
  /** What ended a worker before it was taken (its error, or its exit). */
  failure: string | undefined

  constructor(readonly name: 'wal-chunk', private readonly workers: Worker[]) {
    for (const w of workers) {
      w.unref()
      w.once('error', (e) => (this.failure ??= e.message))
      w.once('exit', (code) => (this.failure ??= `worker ${name} exited with code ${code}`))
    }
  }

  /** A started worker for orderedMap (referenced again), or undefined when none is left. */
  take(): Worker | undefined {
    const w = this.workers.pop()
    w?.ref()
    return w
  }

  stop(): void {
    for (const w of this.workers.splice(0)) void w.terminate()
  }
}

/** Threads a pool user runs on by default: the CPUs, at most 4 (a host that runs etcd has other work to do). */
export function defaultThreads(): number {
  return Math.min(4, availableParallelism())
}

/** Starts `threads` workers of `name` for a later `orderedMap` (none from the sources, where jobs run in this thread). */
export function prestart(name: 'wal-chunk', threads: number): Prestarted | undefined {
  if (fromSources()) return undefined
  return new Prestarted(name, Array.from({ length: Math.max(1, threads) }, () => startWorker(name)))
}

/**
 * Runs `jobs` on `threads` workers of entry `name` (in this thread from the sources, or with
 * `inThread`), at most `threads * window` jobs out at a time, and yields the results in job order.
 * Jobs are taken from the iterator only as results are consumed, so memory stays bounded however
 * many there are. Stopping the iteration stops the workers. `started` workers are used first.
 *
 * With `here`, this thread is one of the `threads` (threads - 1 workers): it runs a job itself
 * whenever every worker has `window` jobs out, between reading the next job and handing out the
 * results, where it would otherwise wait. On 2 cores the third thread competed for a core with the
 * two workers, and its bootstrap cost as much CPU as ~30 chunks (`wal` on bench/wal's log: a few per
 * cent less CPU, 10 MB less peak RSS, the wall time within the noise; docs/wal.md).
 */
export async function* orderedMap<J, R>(name: 'wal-chunk', jobs: Iterator<PoolJob<J>>, opts: { threads: number; window?: number; inThread?: boolean; started?: Prestarted; here?: boolean }): AsyncGenerator<PoolResult<R>> {
  if (opts.inThread || fromSources()) {
    const handle = (await HANDLERS[name]()) as Handler<J, R>
    for (let r = jobs.next(); !r.done; r = jobs.next()) {
      let out: PoolResult<R>
      try {
        out = { ok: true, result: (await handle(r.value.job)).result }
      } catch (err) {
        out = { ok: false, message: (err as Error)?.message ?? String(err) }
      }
      yield out
    }
    return
  }
  const threads = Math.max(1, opts.threads)
  const window = opts.window ?? 2
  const limit = threads * window
  const here = opts.here && threads > 1 ? ((await HANDLERS[name]()) as Handler<J, R>) : null
  const workers = Array.from({ length: here ? threads - 1 : threads }, () => ({ w: opts.started?.take() ?? startWorker(name), busy: 0 }))
  opts.started?.stop()
  const done = new Map<number, PoolResult<R>>()
  let failure: string | undefined = opts.started?.failure
  let wake: (() => void) | null = null
  const signal = () => {
    const w = wake
    wake = null
    w?.()
  }
  workers.forEach((p) => {
    p.w.on('message', (m: Reply<R>) => {
      done.set(m.seq, m.ok ? { ok: true, result: m.result } : { ok: false, message: m.message })
      p.busy--
      signal()
    })
    p.w.on('error', (e) => {
      failure ??= e.message
      signal()
    })
    p.w.on('exit', (code) => {
      failure ??= `worker ${name} exited with code ${code}`
      signal()
    })
  })
  let sent = 0
  let exhausted = false
  try {
    for (let seq = 0; ; seq++) {
      while (!exhausted && sent - seq < limit) {
        const r = jobs.next()
        if (r.done) {
          exhausted = true
          break
        }
        // the least busy worker: a slow chunk does not hold up the others
        let slot = workers[0]!
        for (const p of workers) if (p.busy < slot.busy) slot = p
        if (here !== null && slot.busy >= window) {
          // every worker has a full window: this thread takes the job, then lets their results in
          // (one job at a time: a worker that ran dry would wait for this thread)
          const s = sent++
          try {
            done.set(s, { ok: true, result: (await here(r.value.job)).result })
          } catch (err) {
            done.set(s, { ok: false, message: (err as Error)?.message ?? String(err) })
          }
          await new Promise<void>((res) => setImmediate(res))
          break
        }
        slot.busy++
        slot.w.postMessage({ seq: sent++, job: r.value.job }, r.value.transfer ?? [])
      }
      if (seq >= sent) return
      while (!done.has(seq) && failure === undefined) await new Promise<void>((r) => { wake = r })
      const res = done.get(seq)
      if (res === undefined) {
        yield { ok: false, message: failure! }
        return
      }
      done.delete(seq)
      yield res
    }
  } finally {
    for (const p of workers) p.w.removeAllListeners('exit')
    await Promise.all(workers.map((p) => p.w.terminate()))
  }
}

/**
 * Starts one job of entry `name` on a worker thread of its own (compiled build only: from the
 * sources `startWorker` throws, callers run the job in this thread instead). `stop` terminates the
 * worker; the result then settles as a failure.
 */
export function startOnce<J, R>(name: 'status' | 'index-wal', job: J): { result: Promise<PoolResult<R>>; stop: () => void } {
  const w = startWorker(name)
  const result = new Promise<PoolResult<R>>((resolve) => {
    w.once('message', (m: Reply<R>) => resolve(m.ok ? { ok: true, result: m.result } : { ok: false, message: m.message }))
    w.once('error', (e) => resolve({ ok: false, message: e.message }))
    w.once('exit', (code) => resolve({ ok: false, message: `worker ${name} exited with code ${code}` }))
    w.postMessage({ seq: 0, job })
  }).finally(() => void w.terminate())
  return { result, stop: () => void w.terminate() }
}

/**
 * Runs one job of entry `name` on a worker thread of its own (in this thread from the sources or
 * with `inThread`): for work that should overlap with this thread's (check reading the WAL while
 * the gRPC client loads).
 */
export async function runOnce<J, R>(name: 'status', job: J, opts: { inThread?: boolean } = {}): Promise<PoolResult<R>> {
  if (opts.inThread || fromSources()) {
    const handle = (await HANDLERS[name]()) as Handler<J, R>
    try {
      return { ok: true, result: (await handle(job)).result }
    } catch (err) {
      return { ok: false, message: (err as Error)?.message ?? String(err) }
    }
  }
  return startOnce<J, R>(name, job).result
}
