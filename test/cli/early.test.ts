/**
 * cli/early.ts: which argv starts `wal`'s workers before the CLI loads. Only a plain `wal <dir>`
 * (with -w/--write-out, --wal-dir, --debug) qualifies; every other shape starts nothing there
 * (the command starts what it needs itself). The workers' start and their use by `wal` run on the
 * compiled build: test/workers/pool.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { plainWalArgs } from '../../src/cli/early.js'

const argv = (...a: string[]) => ['node', 'etcd-inspect', ...a]

describe('plainWalArgs', () => {
  it('takes wal <dir> with the output format, a separate WAL dir and --debug, in any order', () => {
    expect(plainWalArgs(argv('wal', '/d'))).toEqual({ dir: '/d' })
    expect(plainWalArgs(argv('wal', '/d', '-w', 'json'))).toEqual({ dir: '/d' })
    expect(plainWalArgs(argv('--debug', 'wal', '-w', 'table', '/d'))).toEqual({ dir: '/d' })
    expect(plainWalArgs(argv('wal', '--write-out=simple', '/d'))).toEqual({ dir: '/d' })
    expect(plainWalArgs(argv('wal', '/d', '--wal-dir', '/w'))).toEqual({ dir: '/d', walDir: '/w' })
    expect(plainWalArgs(argv('wal', '--wal-dir=/w', '/d'))).toEqual({ dir: '/d', walDir: '/w' })
    // an option's value is not the dir
    expect(plainWalArgs(argv('wal', '-w', 'wal', '/d'))).toEqual({ dir: '/d' })
  })
  it('starts nothing for any other command, subcommand, option or shape', () => {
    for (const a of [
      [], ['snap', '/d'], ['db', '/d'], ['wal'], ['wal', 'verify', '/d'], ['wal', '/d', 'extra'],
      ['wal', '/d', '--threads', '2'], ['wal', '/d', '--threads=1'], ['wal', '/d', '--show-values'], ['wal', '/d', '--key', 'k'],
      ['wal', '/d', '--start-index', '5'], ['wal', '/d', '--tolerant'], ['wal', '/d', '--help'], ['wal', '-h'], ['--version'],
      ['wal', '/d', '-w'], ['wal', '/d', '--wal-dir'], ['wal', '-wjson', '/d'],
    ]) expect(plainWalArgs(argv(...a)), a.join(' ')).toBeNull()
  })
})
