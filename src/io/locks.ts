/**
 * Is an etcd process holding this data dir? etcd takes `flock(LOCK_EX)` on `member/snap/db`
 * (bbolt) and Linux OFD locks (`F_OFD_SETLK`, falling back to flock) on the WAL segments it has
 * open for writing (RECOVERY.md §1 "Locks"). Both show up in `/proc/locks`:
 *
 *   1: OFDLCK ADVISORY  WRITE -1 fe:00:2155695 0 EOF
 *   3: FLOCK  ADVISORY  WRITE 6756 fe:00:2155692 0 EOF
 *   4: -> FLOCK  ADVISORY  WRITE 7001 fe:00:2155692 0 EOF     (a waiter, not a holder)
 *
 * fields: id, [->], class, advisory|mandatory, READ|WRITE, pid (-1 for OFD locks), major:minor:inode
 * (hex:hex:decimal, the kernel's MAJOR/MINOR of the superblock's device), start, end.
 * We only read /proc/locks and stat the files; we never try to take a lock ourselves, because
 * even a successful non-blocking try-lock is a (brief) write to the kernel's lock table that a
 * starting etcd could collide with.
 */
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs'
import { join } from 'node:path'

/** One parsed line of /proc/locks. */
export interface ProcLock {
  id: number
  /** FLOCK, POSIX, OFDLCK, LEASE, ... */
  lockClass: string
  /** READ or WRITE (or lease states). */
  access: string
  /** Holder pid, or -1 for OFD locks (they belong to an open file description, not a process). */
  pid: number
  major: number
  minor: number
  inode: bigint
  /** True for a `->` line: a process waiting for the lock, not holding it. */
  waiter: boolean
}

/** Parses the text of /proc/locks; unknown lines are skipped. */
export function parseProcLocks(text: string): ProcLock[] {
  const out: ProcLock[] = []
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+):\s+(->\s+)?(\S+)\s+(\S+)\s+(\S+)\s+(-?\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/i.exec(line + ' ')
    if (!m) continue
    out.push({
      id: Number(m[1]), waiter: m[2] !== undefined, lockClass: m[3]!, access: m[5]!, pid: Number(m[6]),
      major: parseInt(m[7]!, 16), minor: parseInt(m[8]!, 16), inode: BigInt(m[9]!),
    })
  }
  return out
}

/** glibc's gnu_dev_major/minor of a userspace st_dev (what Node's stat returns). */
export function devMajorMinor(dev: bigint): { major: number; minor: number } {
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn))
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn))
  return { major, minor }
}

/** A lock on one of the files we asked about. */
export interface HeldLock {
  /** The file, as passed in. */
  file: string
  lockClass: string
  access: string
  /** Holder pid when the kernel knows it (flock, POSIX); null for OFD locks unless found via /proc/<pid>/fd. */
  pid: number | null
  /** /proc/<pid>/comm of the holder, when readable. */
  command: string | null
}

export interface LockCheck {
  /** False when /proc/locks could not be read (not Linux, or /proc not mounted): nothing is known. */
  checked: boolean
  /** True when at least one of the files is locked by someone. */
  held: boolean
  locks: HeldLock[]
  /** Why `checked` is false. */
  reason?: string
}

/**
 * Checks which of `files` are locked according to /proc/locks. Files that do not exist are ignored.
 * `procLocksText` lets tests inject a /proc/locks snapshot.
 */
export function checkLocks(files: string[], procLocksText?: string): LockCheck {
  let text = procLocksText
  if (text === undefined) {
    try {
      text = readFileSync('/proc/locks', 'utf8')
    } catch (err) {
      return { checked: false, held: false, locks: [], reason: `cannot read /proc/locks: ${(err as Error).message}` }
    }
  }
  const locks = parseProcLocks(text).filter((l) => !l.waiter)
  const byKey = new Map<string, ProcLock[]>()
  for (const l of locks) {
    const k = `${l.major}:${l.minor}:${l.inode}`
    const list = byKey.get(k)
    if (list) list.push(l)
    else byKey.set(k, [l])
  }
  const held: HeldLock[] = []
  for (const file of files) {
    let st
    try {
      st = statSync(file, { bigint: true })
    } catch {
      continue
    }
    const { major, minor } = devMajorMinor(st.dev)
    for (const l of byKey.get(`${major}:${minor}:${st.ino}`) ?? []) {
      const pid = l.pid > 0 ? l.pid : findOpener(st.dev, st.ino)
      held.push({ file, lockClass: l.lockClass, access: l.access, pid, command: pid ? readComm(pid) : null })
    }
  }
  return { checked: true, held: held.length > 0, locks: held }
}

function readComm(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  } catch {
    return null
  }
}

/**
 * Best effort for OFD locks (pid -1): the first process named like etcd with the file open, found
 * by walking /proc/<pid>/fd. Only processes whose comm contains "etcd" are searched, so this stays
 * fast on a busy host; fds of other users' processes are unreadable without root and skipped.
 */
function findOpener(dev: bigint, ino: bigint): number | null {
  let pids: string[]
  try {
    pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n))
  } catch {
    return null
  }
  for (const p of pids.slice(0, 4096)) {
    if (Number(p) === process.pid || !(readComm(Number(p)) ?? '').includes('etcd')) continue
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${p}/fd`)
    } catch {
      continue
    }
    for (const fd of fds.slice(0, 65536)) {
      try {
        const target = readlinkSync(join(`/proc/${p}/fd`, fd))
        if (!target.startsWith('/')) continue
        const st = statSync(join(`/proc/${p}/fd`, fd), { bigint: true })
        if (st.ino === ino && st.dev === dev) return Number(p)
      } catch {
        // The fd closed while we looked; ignore.
      }
    }
  }
  return null
}
