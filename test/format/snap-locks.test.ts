import { afterEach, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { checkLocks, devMajorMinor, parseProcLocks } from '../../src/io/locks.js'
import { tempDir } from '../support/etcd.js'

const sample = `1: OFDLCK ADVISORY  WRITE -1 fe:00:2155695 0 EOF
2: POSIX  ADVISORY  READ 812 08:11:77 0 100
3: FLOCK  ADVISORY  WRITE 6756 fe:00:2155692 0 EOF
3: -> FLOCK  ADVISORY  WRITE 7001 fe:00:2155692 0 EOF
garbage line
`

describe('/proc/locks parsing', () => {
  it('parses holders and waiters, hex device numbers, decimal inodes', () => {
    const l = parseProcLocks(sample)
    expect(l).toHaveLength(4)
    expect(l[0]).toEqual({ id: 1, waiter: false, lockClass: 'OFDLCK', access: 'WRITE', pid: -1, major: 0xfe, minor: 0, inode: 2155695n })
    expect(l[1]).toMatchObject({ lockClass: 'POSIX', access: 'READ', pid: 812, major: 8, minor: 0x11, inode: 77n })
    expect(l[3]).toMatchObject({ waiter: true, pid: 7001 })
  })
  it('decodes glibc st_dev into major/minor', () => {
    expect(devMajorMinor(0xfe00n)).toEqual({ major: 0xfe, minor: 0 })
    expect(devMajorMinor(0x811n)).toEqual({ major: 8, minor: 0x11 })
    // major 259 (nvme), minor 3: (259 & 0xfff) << 8 | 3
    expect(devMajorMinor((259n << 8n) | 3n)).toEqual({ major: 259, minor: 3 })
  })
  it('matches a file by device and inode; waiters do not count', () => {
    const dir = tempDir()
    const f = join(dir, 'db')
    writeFileSync(f, 'x')
    const st = statSync(f, { bigint: true })
    const { major, minor } = devMajorMinor(st.dev)
    const dev = `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}`
    expect(checkLocks([f], `1: FLOCK  ADVISORY  WRITE 999999 ${dev}:${st.ino} 0 EOF\n`)).toMatchObject({ checked: true, held: true, locks: [{ file: f, lockClass: 'FLOCK', pid: 999999 }] })
    expect(checkLocks([f], `1: -> FLOCK  ADVISORY  WRITE 999999 ${dev}:${st.ino} 0 EOF\n`).held).toBe(false)
    expect(checkLocks([f], `1: FLOCK  ADVISORY  WRITE 999999 ${dev}:${st.ino + 1n} 0 EOF\n`).held).toBe(false)
    expect(checkLocks([join(dir, 'missing')], '').held).toBe(false)
  })
})

describe('real kernel locks (flock and OFD), detected without taking any', () => {
  const procs: ChildProcess[] = []
  afterEach(() => {
    for (const p of procs.splice(0)) if (p.pid && p.exitCode === null) process.kill(p.pid, 'SIGKILL')
  })
  const waitFor = async (pred: () => boolean): Promise<void> => {
    for (let i = 0; i < 100 && !pred(); i++) await new Promise((r) => setTimeout(r, 50))
  }
  it('flock(LOCK_EX) as bbolt takes it: held, with the holder pid', async () => {
    const dir = tempDir()
    const f = join(dir, 'db')
    writeFileSync(f, 'x')
    expect(checkLocks([f])).toEqual({ checked: true, held: false, locks: [] })
    const p = spawn('flock', ['-x', f, 'sleep', '30'], { stdio: 'ignore' })
    procs.push(p)
    await waitFor(() => checkLocks([f]).held)
    const c = checkLocks([f])
    expect(c.held).toBe(true)
    expect(c.locks[0]).toMatchObject({ file: f, lockClass: 'FLOCK', access: 'WRITE', pid: p.pid, command: 'flock' })
  })
  it('an OFD lock as etcd takes on WAL segments: held, pid unknown (-1 in /proc/locks)', async () => {
    const dir = tempDir()
    const f = join(dir, '0000000000000000-0000000000000000.wal')
    writeFileSync(f, 'x')
    const py = `import fcntl,struct,time,os\nfd=os.open(${JSON.stringify(f)},os.O_RDWR)\nfcntl.fcntl(fd,fcntl.F_OFD_SETLK,struct.pack('hhqqi',fcntl.F_WRLCK,0,0,0,0))\nprint('locked',flush=True)\ntime.sleep(30)\n`
    const p = spawn('python3', ['-c', py], { stdio: ['ignore', 'pipe', 'inherit'] })
    procs.push(p)
    await waitFor(() => checkLocks([f]).held)
    const c = checkLocks([f])
    expect(c.held).toBe(true)
    // The holder is not named like etcd, so the /proc/<pid>/fd search does not look at it.
    expect(c.locks[0]).toMatchObject({ file: f, lockClass: 'OFDLCK', access: 'WRITE', pid: null })
  })
})
