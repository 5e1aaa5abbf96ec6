/**
 * Runs `collectStatus` (the offline evidence of `check`) on a worker thread, so reading a large
 * WAL overlaps with loading the gRPC client and asking the cluster instead of preceding them.
 * Errors cross the thread as plain data and are rebuilt as our typed errors.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { fileURLToPath } from 'node:url'
import { DecodeError, InputError, InspectError } from '../errors.js'
import type { StatusResult } from './status-types.js'

interface Job { dir: string; walDir?: string }
type Reply = { ok: true; result: StatusResult } | { ok: false; error: { name: string; message: string; code?: string; hint?: string; path?: string; file?: string; offset?: number; detail?: string } }

async function inThread(job: Job): Promise<StatusResult> {
  const { collectStatus } = await import('./status.js')
  return collectStatus(job.dir, job.walDir ? { walDir: job.walDir } : {})
}

function rebuild(e: Extract<Reply, { ok: false }>['error']): Error {
  if (e.name === 'InputError') return new InputError(e.message, e.path ?? '', e.code, e.hint)
  if (e.name === 'DecodeError') return new DecodeError(e.file ?? '', e.offset ?? 0, e.code ?? 'decode', e.detail ?? e.message, e.hint)
  if (e.code) return new InspectError(e.message, e.code, e.hint)
  return new Error(e.message)
}

/**
 * collectStatus on a worker thread when running from the compiled build; in the same thread
 * otherwise (tests run the TypeScript sources, which a worker cannot load).
 */
export function collectStatusOffThread(dir: string, walDir?: string): Promise<StatusResult> {
  const self = fileURLToPath(import.meta.url)
  if (!self.endsWith('.js') || process.env.ETCD_INSPECT_NO_WORKER) return inThread({ dir, walDir })
  return new Promise((resolve, reject) => {
    let w: Worker
    try {
      w = new Worker(self, { workerData: { dir, walDir } satisfies Job })
    } catch {
      inThread({ dir, walDir }).then(resolve, reject)
      return
    }
    let settled = false
    w.once('message', (m: Reply) => {
      settled = true
      if (m.ok) resolve(m.result)
      else reject(rebuild(m.error))
    })
    w.once('error', (err) => { if (!settled) { settled = true; reject(err) } })
    w.once('exit', (code) => { if (!settled) { settled = true; reject(new Error(`status worker exited with code ${code}`)) } })
  })
}

if (!isMainThread && parentPort && (workerData as Job | undefined)?.dir !== undefined) {
  const port = parentPort
  inThread(workerData as Job).then(
    (result) => port.postMessage({ ok: true, result } satisfies Reply),
    (err: unknown) => {
      const e = err as Error & { code?: string; hint?: string; path?: string; file?: string; offset?: number; detail?: string }
      port.postMessage({ ok: false, error: { name: e?.name ?? 'Error', message: e?.message ?? String(err), code: typeof e?.code === 'string' ? e.code : undefined, hint: e?.hint, path: e?.path, file: e?.file, offset: e?.offset, detail: e?.detail } } satisfies Reply)
    },
  )
}
