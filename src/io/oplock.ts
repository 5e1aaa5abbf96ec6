/**
 * A local operation lock: `<stateDir>/replace.lock`, created with O_EXCL and holding the owner's
 * PID and op ID. A lock whose PID no longer runs is stale and is taken over (a killed apply must
 * not block its own resume).
 */
import { openSync, writeSync, closeSync, readFileSync, unlinkSync, mkdirSync, fsyncSync } from 'node:fs'
import { join } from 'node:path'
import { UnsafeOperationError } from '../errors.js'

export interface LockInfo { pid: number; opId: string; at: string }

/** Does `pid` run (EPERM: it runs under another user)? */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The lock held by a running process other than this one, if any. */
export function liveLock(stateDir: string): LockInfo | undefined {
  const cur = readLock(stateDir)
  return cur && cur.pid !== process.pid && pidAlive(cur.pid) ? cur : undefined
}

export function readLock(stateDir: string): LockInfo | undefined {
  try {
    return JSON.parse(readFileSync(join(stateDir, 'replace.lock'), 'utf8')) as LockInfo
  } catch {
    return undefined
  }
}

export class OpLock {
  private constructor(readonly path: string, readonly info: LockInfo) {}

  /** Takes the lock or throws UnsafeOperationError naming the holder. */
  static acquire(stateDir: string, opId: string): OpLock {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 })
    const path = join(stateDir, 'replace.lock')
    const info: LockInfo = { pid: process.pid, opId, at: new Date().toISOString() }
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, 'wx', 0o600)
        writeSync(fd, JSON.stringify(info))
        fsyncSync(fd)
        closeSync(fd)
        return new OpLock(path, info)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
        const cur = readLock(stateDir)
        if (cur && pidAlive(cur.pid) && cur.pid !== process.pid) {
          throw new UnsafeOperationError(`another replace run holds ${path} (pid ${cur.pid}, op ${cur.opId}, since ${cur.at}); nothing was changed`, 'locked')
        }
        // Stale: the holder is gone.
        try { unlinkSync(path) } catch {}
      }
    }
    throw new UnsafeOperationError(`could not take ${path}; nothing was changed`, 'locked')
  }

  release(): void {
    const cur = readLock(join(this.path, '..'))
    if (cur && cur.pid === this.info.pid) {
      try { unlinkSync(this.path) } catch {}
    }
  }
}

/** Removes a stale lock (holder not running); refuses while the holder runs. */
export function breakStaleLock(stateDir: string): LockInfo | undefined {
  const cur = readLock(stateDir)
  if (!cur) return undefined
  if (pidAlive(cur.pid) && cur.pid !== process.pid) throw new UnsafeOperationError(`replace run ${cur.opId} is still running (pid ${cur.pid}); stop it first`, 'locked')
  try { unlinkSync(join(stateDir, 'replace.lock')) } catch {}
  return cur
}
