/**
 * systemd control (`--systemd-unit`) through the test's stand-in `systemctl` (helpers.ts): the
 * exact call sequence, systemd's refusal to start a masked unit, and the one-line ClusterError a
 * failing or missing systemctl becomes. The member here is a `sleep` behind a pid file; the
 * end-to-end run against real etcd is test/live/replace-systemd.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startMember, stopMember, describeStart, describeStop } from '../../src/io/process-control.js'
import { ClusterError } from '../../src/errors.js'
import { tempDir } from '../support/etcd.js'
import { running, sleeper, writeFakeSystemctl } from './helpers.js'

const savedPath = process.env.PATH
afterEach(() => { process.env.PATH = savedPath })

describe('systemd unit control', () => {
  it('stop = stop + mask --runtime, start = unmask --runtime + start, in that order; the plan text names the same commands', async () => {
    const dir = tempDir('systemctl-')
    const m = sleeper(dir)
    const fake = writeFakeSystemctl(dir, 'etcd-x.service', m.start, m.stop)
    process.env.PATH = fake.env.PATH
    const c = { kind: 'systemd' as const, unit: 'etcd-x.service' }
    try {
      await startMember(c)
      expect(running(m.pidFile)).toBe(true)
      await stopMember(c)
      expect(running(m.pidFile)).toBe(false)
      expect(existsSync(fake.maskFile)).toBe(true)
      await startMember(c)
      expect(running(m.pidFile)).toBe(true)
      expect(existsSync(fake.maskFile)).toBe(false)
      expect(fake.calls()).toEqual([
        'unmask --runtime etcd-x.service', 'start etcd-x.service',
        'stop etcd-x.service', 'mask --runtime etcd-x.service',
        'unmask --runtime etcd-x.service', 'start etcd-x.service',
      ])
      expect(describeStop(c)).toEqual(['systemctl stop etcd-x.service', 'systemctl mask --runtime etcd-x.service'])
      expect(describeStart(c)).toEqual(['systemctl unmask --runtime etcd-x.service', 'systemctl start etcd-x.service'])
    } finally {
      await stopMember(c).catch(() => undefined)
    }
  })

  it('the stand-in refuses to start a masked unit, as systemd does (so a missing unmask cannot pass)', async () => {
    const dir = tempDir('systemctl-mask-')
    const m = sleeper(dir)
    const fake = writeFakeSystemctl(dir, 'etcd-x.service', m.start, m.stop)
    process.env.PATH = fake.env.PATH
    writeFileSync(fake.maskFile, '')
    const e = await startMember({ kind: 'commands', stopCmd: 'true', startCmd: 'systemctl start etcd-x.service' }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(ClusterError)
    expect((e as ClusterError).message).toBe('start command "systemctl start etcd-x.service" failed (exit 1): Failed to start etcd-x.service: Unit etcd-x.service is masked.')
    expect(running(m.pidFile)).toBe(false)
  })

  it('a failing systemctl is a ClusterError naming the command and its exit status; nothing after it runs', async () => {
    const dir = tempDir('systemctl-fail-')
    const m = sleeper(dir)
    const fake = writeFakeSystemctl(dir, 'etcd-x.service', m.start, m.stop)
    process.env.PATH = fake.env.PATH
    const e = await stopMember({ kind: 'systemd', unit: 'etcd-typo.service' }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(ClusterError)
    expect(e).toMatchObject({ code: 'process-control', message: 'systemctl stop etcd-typo.service failed (exit 5): Failed to stop etcd-typo.service: Unit etcd-typo.service not loaded.' })
    expect((e as ClusterError).hint).toBe('fix the cause, then `etcd-inspect replace resume` runs the step again')
    expect(fake.calls()).toEqual(['stop etcd-typo.service'])
    expect(existsSync(fake.maskFile)).toBe(false)
  })

  it('no systemctl on PATH: a ClusterError saying so, not an internal error', async () => {
    process.env.PATH = tempDir('empty-path-')
    const e = await stopMember({ kind: 'systemd', unit: 'etcd.service' }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(ClusterError)
    expect((e as Error).message).toBe('systemctl stop etcd.service could not run: systemctl not found on PATH')
  })
})

describe('stop/start commands', () => {
  it('a start command that leaves a daemon holding its output pipes returns once the command exits', async () => {
    const dir = tempDir('start-cmd-')
    const pidFile = join(dir, 'daemon.pid')
    const t0 = Date.now()
    try {
      const out = await startMember({ kind: 'commands', stopCmd: 'true', startCmd: `echo started; sleep 60 & echo $! > ${pidFile}` })
      expect(out).toBe('started\n')
      expect(Date.now() - t0).toBeLessThan(10000)
    } finally {
      if (existsSync(pidFile)) try { process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL') } catch {}
    }
  })
})
