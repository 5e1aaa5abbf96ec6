/**
 * The systemd unit checks and the re-established mask, against the test's stand-in `systemctl`
 * (helpers.ts; systemd cannot run in the test container): `checkUnit` for every LoadState the
 * runbook distinguishes and for a host without systemctl, a mask that fails once after a
 * successful stop, and `keepMasked` (what apply does when it finds the stop step already done)
 * with a real journal. The member is a `sleep` behind a pid file; the end-to-end runs against
 * real etcd are in test/live/replace-systemd.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { chmodSync, existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { checkUnit, maskUnit, stopMember, startMember } from '../../src/io/process-control.js'
import { ClusterError, UnsafeOperationError } from '../../src/errors.js'
import { Journal } from '../../src/io/journal.js'
import { keepMasked, type StepContext } from '../../src/app/replace/steps.js'
import type { Plan } from '../../src/app/replace/model.js'
import { tempDir } from '../support/etcd.js'
import { running, sleeper, writeFakeSystemctl, type FakeSystemctl } from './helpers.js'

const savedPath = process.env.PATH
afterEach(() => { process.env.PATH = savedPath })

const UNIT = 'etcd-x.service'

/** A "member" (a sleep with a pid file) behind the stand-in, which is put first on PATH. */
function setup(prefix: string, opts: { alsoLoaded?: string[] } = {}): { dir: string; fake: FakeSystemctl; pidFile: string } {
  const dir = tempDir(prefix)
  const { start, stop, pidFile } = sleeper(dir)
  const fake = writeFakeSystemctl(dir, UNIT, start, stop, opts)
  process.env.PATH = fake.env.PATH
  return { dir, fake, pidFile }
}

const refusal = async (p: Promise<unknown>): Promise<UnsafeOperationError> => {
  const e = await p.then(() => undefined, (x: unknown) => x)
  expect(e).toBeInstanceOf(UnsafeOperationError)
  return e as UnsafeOperationError
}

describe('checkUnit: is the unit known on this host (systemctl show -p LoadState --value)', () => {
  it('loaded: no warning; masked: a warning naming the unfinished replacement; both read-only', async () => {
    const { fake } = setup('unit-loaded-', { alsoLoaded: ['etcd-new.service'] })
    expect(await checkUnit(UNIT, '--systemd-unit')).toEqual({ loadState: 'loaded' })
    expect(await checkUnit('etcd-new.service', '--new-systemd-unit')).toEqual({ loadState: 'loaded' })
    writeFileSync(fake.maskFile, '')
    expect(await checkUnit(UNIT, '--systemd-unit')).toEqual({
      loadState: 'masked',
      warning: `--systemd-unit ${UNIT} is masked: a previous replacement probably stopped before its start step (see replace status; \`systemctl unmask --runtime ${UNIT}\` once nothing else needs it down)`,
    })
    expect(existsSync(fake.maskFile)).toBe(true)
    expect(fake.calls()).toEqual([`show -p LoadState --value ${UNIT}`, 'show -p LoadState --value etcd-new.service', `show -p LoadState --value ${UNIT}`])
  })

  it('not-found: refused, naming the flag and the unit; nothing else is called', async () => {
    const { fake } = setup('unit-notfound-')
    const e = await refusal(checkUnit('etcd-typo.service', '--new-systemd-unit'))
    expect(e.code).toBe('unit-not-found')
    expect(e.message).toBe('--new-systemd-unit etcd-typo.service: systemd does not know this unit on this host (LoadState not-found); nothing was changed')
    expect(e.hint).toBe('check --new-systemd-unit, or use the stop/start command options instead')
    // A unit removed since the plan answers the same.
    fake.setGone(true)
    expect((await refusal(checkUnit(UNIT, '--systemd-unit'))).code).toBe('unit-not-found')
    expect(fake.calls()).toEqual(['show -p LoadState --value etcd-typo.service', `show -p LoadState --value ${UNIT}`])
  })

  it('no systemctl on PATH: refused, saying so', async () => {
    process.env.PATH = tempDir('unit-nopath-')
    const e = await refusal(checkUnit(UNIT, '--systemd-unit'))
    expect(e.code).toBe('systemctl-missing')
    expect(e.message).toBe(`--systemd-unit ${UNIT}: systemctl not found on PATH, so this host cannot stop or start the unit; nothing was changed`)
  })

  it('a systemctl that cannot talk to systemd (exit 1): refused with its words', async () => {
    const dir = tempDir('unit-nosystemd-')
    // What systemctl prints in a container booted without systemd.
    writeFileSync(join(dir, 'systemctl'), '#!/bin/sh\necho "System has not been booted with systemd as init system (PID 1). Can\'t operate." >&2\nexit 1\n')
    chmodSync(join(dir, 'systemctl'), 0o755)
    process.env.PATH = `${dir}:${savedPath ?? ''}`
    const e = await refusal(checkUnit(UNIT, '--systemd-unit'))
    expect(e.code).toBe('unit-not-loaded')
    expect(e.message).toBe(`--systemd-unit ${UNIT}: systemd cannot load this unit (systemctl show -p LoadState --value ${UNIT} failed (exit 1): System has not been booted with systemd as init system (PID 1). Can't operate.); nothing was changed`)
  })
})

describe('a mask that fails after a successful stop', () => {
  it('stopMember: the member is down, unmasked, and the error names the mask; maskUnit then sets it (and again is a no-op)', async () => {
    const { fake, pidFile } = setup('mask-fail-')
    const c = { kind: 'systemd' as const, unit: UNIT }
    try {
      await startMember(c)
      expect(running(pidFile)).toBe(true)
      fake.failOnce('mask', 'Failed to mask unit: Read-only file system')
      const e = await stopMember(c).catch((x: unknown) => x)
      expect(e).toBeInstanceOf(ClusterError)
      expect((e as ClusterError).message).toBe(`systemctl mask --runtime ${UNIT} failed (exit 1): Failed to mask unit: Read-only file system`)
      expect(running(pidFile)).toBe(false)
      expect(existsSync(fake.maskFile)).toBe(false)
      expect(await maskUnit(UNIT)).toBe(`Created symlink /run/systemd/system/${UNIT} -> /dev/null.\n`)
      await maskUnit(UNIT)
      expect(existsSync(fake.maskFile)).toBe(true)
      expect(fake.calls()).toEqual([`unmask --runtime ${UNIT}`, `start ${UNIT}`, `stop ${UNIT}`, `mask --runtime ${UNIT}`, `mask --runtime ${UNIT}`, `mask --runtime ${UNIT}`])
    } finally {
      await stopMember(c).catch(() => undefined)
    }
  })
})

describe('keepMasked: a stop step found done re-establishes the mask until the start step begins', () => {
  const control = { kind: 'systemd' as const, unit: UNIT }
  function ctxFor(dir: string, mode: Plan['mode'], startUnit = UNIT): { ctx: StepContext; journal: Journal; plan: Plan } {
    const plan = {
      opId: 'rtest-op', mode,
      steps: [
        { n: 2, kind: 'stop-member', control, clientURLs: [], peerURLs: [], title: 'stop', destructive: true, preconditions: [], actions: [], rollback: '' },
        { n: 3, kind: 'remove-member', memberIdHex: 'a', peerURLs: [], title: 'remove', destructive: true, preconditions: [], actions: [], rollback: '' },
        { n: 6, kind: 'start-member', control: { kind: 'systemd', unit: startUnit }, clientURLs: [], peerURLs: [], startTimeoutMs: 1000, title: 'start', destructive: true, preconditions: [], actions: [], rollback: '' },
      ],
    } as unknown as Plan
    const journal = Journal.open(join(dir, 'state'))
    return { ctx: { plan, journal } as unknown as StepContext, journal, plan }
  }

  it('before the start step: masks again and returns the evidence; after its intent record: leaves the unit alone', async () => {
    const { dir, fake } = setup('keep-masked-')
    const { ctx, journal, plan } = ctxFor(dir, 'in-place')
    try {
      // The earlier run failed at the mask after stopping the member.
      journal.append(plan.opId, { step: 2, kind: 'stop-member', phase: 'fail', message: 'systemctl mask --runtime failed' })
      expect(await keepMasked(plan.steps[0]!, ctx, { oldMemberRunning: false })).toEqual({
        unit: UNIT, masked: 're-established', command: `systemctl mask --runtime ${UNIT}`, output: `Created symlink /run/systemd/system/${UNIT} -> /dev/null.`,
      })
      expect(existsSync(fake.maskFile)).toBe(true)
      // Only a stop step with a systemd unit has a mask to keep.
      expect(await keepMasked(plan.steps[1]!, ctx, {})).toBeUndefined()
      // A replacement already started by other means runs under this unit: not masked.
      expect(await keepMasked(plan.steps[0]!, ctx, { oldMemberRemoved: true, replacement: 'b', replacementStarted: true })).toEqual({ unit: UNIT, masked: 'left as is', reason: 'the replacement b has started' })
      // Once the start step has an intent record the unmask may have run: never mask again.
      journal.append(plan.opId, { step: 6, kind: 'start-member', phase: 'intent', message: 'unmask; start' })
      expect(await keepMasked(plan.steps[0]!, ctx, { oldMemberRunning: false })).toEqual({ unit: UNIT, masked: 'left as is', reason: 'step 6 (start-member) has begun (journal: intent): the unit is the replacement\'s now' })
      expect(fake.calls()).toEqual([`mask --runtime ${UNIT}`])
    } finally {
      journal.close()
    }
  })

  it('surge: the old unit is never started again, so it is masked whenever its stop is found done; a failing mask throws', async () => {
    const { dir, fake } = setup('keep-masked-surge-')
    const { ctx, journal, plan } = ctxFor(dir, 'surge', 'etcd-new.service')
    try {
      journal.append(plan.opId, { step: 6, kind: 'start-member', phase: 'done', evidence: {} })
      fake.failOnce('mask', 'Failed to mask unit: Access denied')
      const e = await keepMasked(plan.steps[0]!, ctx, { oldMemberRunning: false }).catch((x: unknown) => x)
      expect((e as ClusterError).message).toBe(`systemctl mask --runtime ${UNIT} failed (exit 1): Failed to mask unit: Access denied`)
      expect(existsSync(fake.maskFile)).toBe(false)
      expect(await keepMasked(plan.steps[0]!, ctx, { oldMemberRunning: false })).toMatchObject({ unit: UNIT, masked: 're-established' })
      expect(existsSync(fake.maskFile)).toBe(true)
      expect(fake.calls()).toEqual([`mask --runtime ${UNIT}`, `mask --runtime ${UNIT}`])
    } finally {
      journal.close()
    }
  })
})
