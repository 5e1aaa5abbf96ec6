/**
 * The layering of STYLE.md §2 that the code can be held to mechanically: app/ returns results
 * and never imports render/ (presentation lives in render/, worker entries wire the two together
 * in workers/); format/ does no I/O.
 */
import { describe, expect, it } from 'vitest'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const SRC = join(import.meta.dirname, '../src')

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name))
}

/** `file:line: text` of every import (static, dynamic or type-only) whose path matches `re`. */
function importsMatching(dir: string, re: RegExp): string[] {
  const out: string[] = []
  for (const f of files(dir)) {
    readFileSync(f, 'utf8').split('\n').forEach((line, i) => {
      const m = /(?:from\s+|import\s*\(\s*)['"]([^'"]+)['"]/.exec(line)
      if (m && re.test(m[1]!)) out.push(`${f.slice(SRC.length + 1)}:${i + 1}: ${line.trim()}`)
    })
  }
  return out
}

describe('layering', () => {
  it('src/app does not import src/render (not even a type); `grep -rn render/ src/app` is empty', () => {
    expect(importsMatching(join(SRC, 'app'), /(^|\/)render\//)).toEqual([])
    const mentions = files(join(SRC, 'app')).flatMap((f) => readFileSync(f, 'utf8').split('\n').map((l, i) => `${f.slice(SRC.length + 1)}:${i + 1}: ${l.trim()}`).filter((l) => l.includes('render/')))
    expect(mentions).toEqual([])
  })
  it('the native addon has one door: only format/crc32c.ts and format/digest.ts load src/native', () => {
    const users = importsMatching(SRC, /(^|\/)native\//).map((l) => l.split(':')[0]).filter((f) => !f!.startsWith('native/'))
    expect([...new Set(users)].sort()).toEqual(['format/crc32c.ts', 'format/digest.ts'])
  })
  it('src/format does not import fs, net, child_process or worker threads', () => {
    expect(importsMatching(join(SRC, 'format'), /^(node:)?(fs|fs\/promises|net|child_process|worker_threads)$/)).toEqual([])
  })
})
