/**
 * The worker pool (src/workers/pool.ts). Under vitest every pool user runs its jobs in this
 * thread from the TypeScript sources, so the other tests exercise the sources, never a compiled
 * copy. This file runs the real compiled workers of dist/ (`npm test` builds first; the first test
 * fails when dist/ is older than its sources, so a stale build is never what passes), and checks
 * that a build without its worker fails loudly.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { pathToFileURL } from 'node:url'
import { InstallError } from '../../src/errors.js'
import { fromSources, orderedMap, workerFile } from '../../src/workers/pool.js'
import type { ChunkReply, ChunkRequest } from '../../src/workers/wal-chunk.js'
import { allDataDirs, extractMultiseg, materialize } from '../support/fixtures.js'
import { REPO_ROOT } from '../support/cli.js'

const DIST = join(REPO_ROOT, 'dist')
const MAIN = join(DIST, 'cli/main.js')
const temps: string[] = []
afterAll(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })))

function cli(args: string[], main = MAIN) {
  const r = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', maxBuffer: 256 << 20 })
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr }
}

describe('the pool from the sources (what every other test runs)', () => {
  it('runs jobs in this thread: no compiled file is looked for', async () => {
    expect(fromSources()).toBe(true)
    expect(workerFile('wal-chunk')).toBeNull()
  })
  it('a compiled pool whose worker file is missing throws InstallError naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pool-missing-'))
    temps.push(dir)
    const base = pathToFileURL(join(dir, 'pool.js')).href
    expect(() => workerFile('wal-chunk', base)).toThrow(InstallError)
    expect(() => workerFile('wal-chunk', base)).toThrow(join(dir, 'wal-chunk.js'))
    writeFileSync(join(dir, 'wal-chunk.js'), '')
    expect(workerFile('wal-chunk', base)).toBe(join(dir, 'wal-chunk.js'))
  })
  it('results come back in job order; a throwing job is a result, not a crash', async () => {
    function* jobs() {
      for (let i = 0; i < 3; i++) {
        // an empty chunk of a non-first position presents nothing; a bad style throws in the writer
        yield { job: { job: { id: i, segment: 0, file: 'x', first: false, base: 0, length: 0, crc: 0 }, style: (i === 1 ? 'nope' : 'ndjson') as ChunkRequest['style'], buffer: new ArrayBuffer(8) } }
      }
    }
    const got: unknown[] = []
    for await (const r of orderedMap<ChunkRequest, ChunkReply>('wal-chunk', jobs(), { threads: 2 })) got.push(r.ok ? r.result.outcome.id : 'error')
    expect(got).toEqual([0, 'error', 2])
  })
})

describe('the compiled workers of dist/', () => {
  it('dist/ is built from the current sources (else: npm run build)', () => {
    const stale: string[] = []
    for (const e of readdirSync(join(REPO_ROOT, 'src'), { recursive: true, withFileTypes: true })) {
      if (!e.isFile() || !e.name.endsWith('.ts') || e.name.endsWith('.d.ts')) continue
      const src = join(e.parentPath, e.name)
      const out = join(DIST, relative(join(REPO_ROOT, 'src'), src)).replace(/\.ts$/, '.js')
      if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) stale.push(relative(REPO_ROOT, out))
    }
    expect(stale).toEqual([])
  })
  it('wal on the wal-chunk workers prints what one thread prints (line and row writers), and fails loudly without them', () => {
    const m = extractMultiseg({ shared: true })
    for (const format of ['ndjson', 'table']) {
      const par = cli(['wal', m.dataDir, '-w', format, '--threads', '2'])
      const one = cli(['wal', m.dataDir, '-w', format, '--threads', '1'])
      expect(par.code, format).toBe(0)
      expect(par.err, format).toBe('')
      expect(par.out.length, format).toBeGreaterThan(1000)
      expect(par.out, format).toBe(one.out)
    }
    // the same build without its worker: one line naming the missing file, exit 70, nothing printed
    const root = mkdtempSync(join(tmpdir(), 'pool-nodist-'))
    temps.push(root)
    cpSync(DIST, join(root, 'dist'), { recursive: true })
    cpSync(join(REPO_ROOT, 'package.json'), join(root, 'package.json'))
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'))
    rmSync(join(root, 'dist/workers/wal-chunk.js'))
    const broken = cli(['wal', m.dataDir, '-w', 'ndjson', '--threads', '2'], join(root, 'dist/cli/main.js'))
    expect(broken.code).toBe(70)
    expect(broken.out).toBe('')
    expect(broken.err.trim().split('\n')).toHaveLength(1)
    expect(broken.err).toContain('dist/workers/wal-chunk.js is missing')
    expect(broken.err).toContain('npm run build')
    // one thread needs no worker
    const one = cli(['wal', m.dataDir, '-w', 'ndjson', '--threads', '1'], join(root, 'dist/cli/main.js'))
    expect(one.code).toBe(0)
    // nor the default threads on this log (few entries: the workers would not pay off), although
    // cli/main.ts tries to start them before the CLI loads (a log of 8 MB or more): no crash there
    const dflt = cli(['wal', m.dataDir, '-w', 'ndjson'], join(root, 'dist/cli/main.js'))
    expect(dflt.err).toBe('')
    expect(dflt.code).toBe(0)
    expect(dflt.out).toBe(one.out)
  })
  it('where the process forbids code from strings, the line writer writes its constants word by word: the same bytes', () => {
    const m = extractMultiseg({ shared: true })
    for (const format of ['ndjson', 'json']) {
      const args = [MAIN, 'wal', m.dataDir, '-w', format, '--threads', '2']
      const plain = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 256 << 20 })
      const strict = spawnSync(process.execPath, ['--disallow-code-generation-from-strings', ...args], { encoding: 'utf8', maxBuffer: 256 << 20 })
      expect(strict.status, strict.stderr).toBe(0)
      expect(strict.stderr, format).toBe('')
      expect(strict.stdout.length, format).toBeGreaterThan(1000)
      expect(strict.stdout, format).toBe(plain.stdout)
    }
    // and the flag does forbid it (else this test would prove nothing)
    const probe = spawnSync(process.execPath, ['--disallow-code-generation-from-strings', '-e', "new Function('return 1')"], { encoding: 'utf8' })
    expect(probe.status).not.toBe(0)
    expect(probe.stderr).toContain('Code generation from strings disallowed')
  })
  it('prestarted workers are the ones orderedMap uses; unused ones do not keep a process alive', async () => {
    const pool = await import(pathToFileURL(join(DIST, 'workers/pool.js')).href) as typeof import('../../src/workers/pool.js')
    const started = pool.prestart('wal-chunk', 2)!
    expect(started).toBeDefined()
    function* jobs() {
      for (let i = 0; i < 4; i++) yield { job: { job: { id: i, segment: 0, file: 'x', first: false, base: 0, length: 0, crc: 0 }, style: 'ndjson' as const, buffer: new ArrayBuffer(8) } }
    }
    const got: unknown[] = []
    for await (const r of pool.orderedMap<ChunkRequest, ChunkReply>('wal-chunk', jobs(), { threads: 2, started })) got.push(r.ok ? r.result.outcome.id : r.message)
    expect(got).toEqual([0, 1, 2, 3])
    expect(started.take()).toBeUndefined() // both were taken
    expect(started.failure).toBeUndefined()
    // prestarted and never used (a run that turns to the reader after all): the process still ends
    const t = Date.now()
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `const p = await import(${JSON.stringify(pathToFileURL(join(DIST, 'workers/pool.js')).href)}); p.prestart('wal-chunk', 2)`], { encoding: 'utf8', timeout: 30_000 })
    expect(r.status, r.stderr).toBe(0)
    expect(Date.now() - t).toBeLessThan(20_000)
  })
  it('workers started ahead (cli/early.ts): only for a log large enough, taken by the parallel path, stopped when it declines', async () => {
    const ahead = await import(pathToFileURL(join(DIST, 'app/wal-ahead.js')).href) as typeof import('../../src/app/wal-ahead.js')
    const par = await import(pathToFileURL(join(DIST, 'app/wal-parallel.js')).href) as typeof import('../../src/app/wal-parallel.js')
    const pool = await import(pathToFileURL(join(DIST, 'workers/pool.js')).href) as typeof import('../../src/workers/pool.js')
    const m = extractMultiseg({ shared: true })
    const small = materialize('single')
    temps.push(small.root)
    // the decision: a log of PARALLEL_MIN_BYTES or more, 2 lanes or more, a path that resolves
    expect(ahead.walWorkersAhead(small.dataDir, {}, 2)).toBeUndefined()
    expect(ahead.walWorkersAhead(m.dataDir, {}, 1)).toBeUndefined()
    expect(ahead.walWorkersAhead(join(m.root, 'no-such-dir'), {}, 2)).toBeUndefined()
    const w = ahead.walWorkersAhead(m.dataDir, {}, 3)
    expect(w).toBeDefined()
    w!.stop()
    // what the parallel path does with them: counted on the real object
    const counted = () => {
      const started = pool.prestart('wal-chunk', 1)!
      const c = { taken: 0, stopped: 0 }
      const take = started.take.bind(started)
      const stop = started.stop.bind(started)
      started.take = () => {
        const x = take()
        if (x) c.taken++
        return x
      }
      started.stop = () => {
        c.stopped++
        stop()
      }
      return { started, c }
    }
    const used = counted()
    const run = await par.streamWalParallel(m.dataDir, {}, { threads: 2, style: 'ndjson', started: used.started })
    expect(run).not.toBeNull()
    let blocks = 0
    for await (const it of run!.items) if (it.kind === 'block') blocks++
    expect(blocks).toBeGreaterThan(1)
    expect(used.c.taken).toBe(1)
    // options the workers do not reproduce: the reader path, and the workers are stopped
    const declined = counted()
    expect(await par.streamWalParallel(m.dataDir, { showValues: true }, { threads: 2, started: declined.started })).toBeNull()
    expect(declined.c).toEqual({ taken: 0, stopped: 1 })
    const tiny = counted()
    expect(await par.streamWalParallel(small.dataDir, {}, { threads: 2, started: tiny.started })).toBeNull()
    expect(tiny.c).toEqual({ taken: 0, stopped: 1 })
    // the CLI with the default threads (workers started ahead on this multi-segment log) prints what one thread prints
    for (const format of ['ndjson', 'table']) {
      const dflt = cli(['wal', m.dataDir, '-w', format])
      const one = cli(['wal', m.dataDir, '-w', format, '--threads', '1'])
      expect(dflt.code, format).toBe(0)
      expect(dflt.err, format).toBe('')
      expect(dflt.out, format).toBe(one.out)
    }
  })
  it('with `here`, this thread takes a job whenever every worker has its window full; results and errors stay in job order', async () => {
    const pool = await import(pathToFileURL(join(DIST, 'workers/pool.js')).href) as typeof import('../../src/workers/pool.js')
    // a buffer sent to a worker is transferred (detached here); one this thread presented is not
    const buffers: ArrayBuffer[] = []
    function* jobs() {
      for (let i = 0; i < 8; i++) {
        const buffer = new ArrayBuffer(8)
        buffers.push(buffer)
        // job 1 finds the one worker's window (1) full: this thread runs it, and it throws
        yield { job: { job: { id: i, segment: 0, file: 'x', first: false, base: 0, length: 0, crc: 0 }, style: (i === 1 ? 'nope' : 'ndjson') as ChunkRequest['style'], buffer }, transfer: [buffer] }
      }
    }
    const got: unknown[] = []
    for await (const r of pool.orderedMap<ChunkRequest, ChunkReply>('wal-chunk', jobs(), { threads: 2, window: 1, here: true })) got.push(r.ok ? r.result.outcome.id : 'error')
    expect(got).toEqual([0, 'error', 2, 3, 4, 5, 6, 7])
    const here = buffers.map((b) => b.byteLength === 8)
    expect(here[0]).toBe(false)
    expect(here[1]).toBe(true)
    expect(here.filter((h) => !h).length).toBeGreaterThanOrEqual(2)
  })
  it('db hash on the crc workers equals one thread; status on its worker equals in-thread', async () => {
    const { dbStatus } = await import(pathToFileURL(join(DIST, 'app/db.js')).href) as typeof import('../../src/app/db.js')
    const m = extractMultiseg({ shared: true })
    const one = dbStatus(m.dataDir, undefined, { threads: 0 })
    const two = dbStatus(m.dataDir, undefined, { threads: 2 })
    expect(two.hashThreads).toBe(2)
    expect(two.hash).toBe(one.hash)
    const { collectStatusOffThread } = await import(pathToFileURL(join(DIST, 'workers/status.js')).href) as typeof import('../../src/workers/status.js')
    const { collectStatus } = await import('../../src/app/status.js')
    const d = allDataDirs()[0]!.dir
    const json = (r: object) => JSON.stringify({ ...r, elapsedMs: 0 }, (_k, v) => (typeof v === 'bigint' ? String(v) : v))
    expect(json(await collectStatusOffThread(d)))
      .toBe(json(await collectStatus(d)))
  })
})
