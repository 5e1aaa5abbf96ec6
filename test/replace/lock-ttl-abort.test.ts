/**
 * `--lock-ttl` validation (CLI and plan file), and `replace abort` next to a live run: it refuses
 * while the local lock's holder runs, changing nothing, and says when the cluster lock could not
 * be looked at. The cluster here is unreachable on purpose (a closed loopback port); the live
 * cases (lock held, lease TTL granted) are in test/live/replace-guards.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseLockTtl, planOptionsFrom } from '../../src/cli/commands/replace.js'
import { readPlan } from '../../src/app/replace/plan.js'
import { abortOp } from '../../src/app/replace/apply.js'
import { Journal } from '../../src/io/journal.js'
import { InputError, UnsafeOperationError, UsageError } from '../../src/errors.js'
import { freePort, tempDir } from '../support/etcd.js'

describe('--lock-ttl', () => {
  it('accepts whole seconds 5..600, as a number or a Go duration', () => {
    expect(parseLockTtl('5')).toBe(5)
    expect(parseLockTtl('30')).toBe(30)
    expect(parseLockTtl('30s')).toBe(30)
    expect(parseLockTtl('2m')).toBe(120)
    expect(parseLockTtl('600')).toBe(600)
  })

  it.each(['4', '601', '0', '-10', '10.5', '1500ms', 'abc', ''])('refuses %j with one usage line', (v) => {
    expect(() => parseLockTtl(v)).toThrow(UsageError)
    expect(() => parseLockTtl(v)).toThrow(`invalid --lock-ttl "${v}": whole seconds between 5 and 600 (e.g. 30 or 2m)`)
  })

  it('is carried from the flags into the plan options; absent means the default', () => {
    const base = { config: '/etc/default/etcd', systemdUnit: 'etcd.service', endpoints: 'https://127.0.0.1:2379' }
    expect(planOptionsFrom({ ...base, lockTtl: '45' }, {}).lockTtlSec).toBe(45)
    expect(planOptionsFrom(base, {}).lockTtlSec).toBeUndefined()
    expect(() => planOptionsFrom({ ...base, lockTtl: '3' }, {})).toThrow(UsageError)
  })

  it('a plan file with an out-of-range lockTtlSec is refused; one without it (older plans) is read', () => {
    const dir = tempDir('plan-ttl-')
    const plan = { version: 1, opId: 'r1', steps: [] }
    writeFileSync(join(dir, 'old.json'), JSON.stringify(plan))
    expect(readPlan(join(dir, 'old.json')).lockTtlSec).toBeUndefined()
    writeFileSync(join(dir, 'ok.json'), JSON.stringify({ ...plan, lockTtlSec: 60 }))
    expect(readPlan(join(dir, 'ok.json')).lockTtlSec).toBe(60)
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ...plan, lockTtlSec: 1 }))
    expect(() => readPlan(join(dir, 'bad.json'))).toThrow(InputError)
    expect(() => readPlan(join(dir, 'bad.json'))).toThrow(`plan ${join(dir, 'bad.json')}: lockTtlSec 1: the cluster lock TTL must be whole seconds between 5 and 600`)
  })
})

describe('replace abort next to a live run', () => {
  let holder: ChildProcess | undefined
  afterEach(() => { holder?.kill('SIGKILL'); holder = undefined })

  async function journaledOp(dir: string): Promise<string> {
    const port = await freePort('127.0.0.1')
    const plan = {
      version: 1, opId: 'r-abort-1', createdAt: new Date().toISOString(), mode: 'in-place', reason: 'MEMBER',
      connection: { endpoints: [`http://127.0.0.1:${port}`], dialTimeoutMs: 1000, commandTimeoutMs: 2000 },
      cluster: { idHex: '1', leaderHex: '2', members: [] }, target: { clientURLs: [] }, replacement: { peerURLs: [] }, steps: [],
    }
    const j = Journal.open(dir)
    j.putOp({ opId: plan.opId, createdAt: plan.createdAt, updatedAt: '', status: 'running', planJson: JSON.stringify(plan), facts: {} })
    j.close()
    return plan.opId
  }

  it('refuses while the lock holder runs (exit class: refused), changes nothing, and says the cluster lock could not be checked', async () => {
    const dir = tempDir('abort-live-')
    const opId = await journaledOp(dir)
    holder = spawn('sleep', ['60'], { stdio: 'ignore' })
    const lock = JSON.stringify({ pid: holder.pid, opId, at: '2026-01-01T00:00:00.000Z' })
    writeFileSync(join(dir, 'replace.lock'), lock)

    const e = await abortOp({ stateDir: dir }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(UnsafeOperationError)
    expect((e as UnsafeOperationError).code).toBe('locked')
    expect((e as Error).message).toMatch(new RegExp(`^replace run ${opId} is still running \\(pid ${holder.pid}, since 2026-01-01T00:00:00\\.000Z\\); the cluster lock /etcd-inspect/replace-lock could not be checked \\(.*\\); nothing was changed$`))
    expect((e as Error).message).not.toContain('\n')
    expect((e as UnsafeOperationError).hint).toBe(`let it finish, or stop pid ${holder.pid} first and then abort`)
    expect(readFileSync(join(dir, 'replace.lock'), 'utf8')).toBe(lock)
    const j = Journal.open(dir)
    expect(j.getOp(opId)?.status).toBe('running')
    j.close()

    // Once the holder is gone the lock is stale: abort goes ahead and says what it could not check.
    holder.kill('SIGKILL')
    await new Promise((r) => holder!.once('exit', r))
    const r = await abortOp({ stateDir: dir })
    expect(r).toMatchObject({ opId, previousStatus: 'running', clusterLock: { state: 'unknown' } })
    expect(r.notes[0]).toBe(`released the stale lock of pid ${holder.pid}`)
    expect(r.notes[1]).toMatch(/^the cluster lock \/etcd-inspect\/replace-lock could not be checked \(.+\); the journal is marked aborted anyway$/)
    const k = Journal.open(dir)
    expect(k.getOp(opId)?.status).toBe('aborted')
    k.close()
  })
})
