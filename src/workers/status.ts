/**
 * Runs `collectStatus` (the offline evidence of `check`) on a worker thread of the pool
 * (workers/pool.ts), so reading a large WAL overlaps with loading the gRPC client and asking the
 * cluster instead of preceding them. Errors cross the thread as plain data and are rebuilt as our
 * typed errors.
 */
import { DecodeError, InputError, InspectError } from '../errors.js'
import type { StatusResult } from '../app/status-types.js'
import { runOnce, serve } from './pool.js'

interface Job { dir: string; walDir?: string }
type ErrorData = { name: string; message: string; code?: string; hint?: string; path?: string; file?: string; offset?: number; detail?: string }
type Reply = { ok: true; result: StatusResult } | { ok: false; error: ErrorData }

/** The job, in whichever thread: never throws (an error is part of the reply). */
export async function handle(job: Job): Promise<{ result: Reply }> {
  try {
    const { collectStatus } = await import('../app/status.js')
    return { result: { ok: true, result: await collectStatus(job.dir, job.walDir ? { walDir: job.walDir } : {}) } }
  } catch (err) {
    const e = err as Error & Omit<ErrorData, 'name' | 'message'>
    return { result: { ok: false, error: { name: e?.name ?? 'Error', message: e?.message ?? String(err), code: typeof e?.code === 'string' ? e.code : undefined, hint: e?.hint, path: e?.path, file: e?.file, offset: e?.offset, detail: e?.detail } } }
  }
}

function rebuild(e: ErrorData): Error {
  if (e.name === 'InputError') return new InputError(e.message, e.path ?? '', e.code, e.hint)
  if (e.name === 'DecodeError') return new DecodeError(e.file ?? '', e.offset ?? 0, e.code ?? 'decode', e.detail ?? e.message, e.hint)
  if (e.code) return new InspectError(e.message, e.code, e.hint)
  return new Error(e.message)
}

/**
 * collectStatus on a worker thread (in this thread from the TypeScript sources, or with
 * ETCD_INSPECT_NO_WORKER set).
 */
export async function collectStatusOffThread(dir: string, walDir?: string): Promise<StatusResult> {
  const r = await runOnce<Job, Reply>('status', { dir, walDir }, { inThread: !!process.env.ETCD_INSPECT_NO_WORKER })
  if (!r.ok) throw new Error(`status worker: ${r.message}`)
  if (!r.result.ok) throw rebuild(r.result.error)
  return r.result.result
}

serve('status', handle)
