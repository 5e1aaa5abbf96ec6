import { describe, expect, it } from 'vitest'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { WAL_FINDINGS, endOfFindings, findingHint, walFinding, worseEnd, type WalFindingCode } from '../../src/format/wal/findings.js'

const SRC = join(import.meta.dirname, '..', '..', 'src')

function sources(dir: string): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = []
  for (const n of readdirSync(dir)) {
    const p = join(dir, n)
    if (statSync(p).isDirectory()) out.push(...sources(p))
    else if (n.endsWith('.ts')) out.push({ path: p.slice(SRC.length + 1), text: readFileSync(p, 'utf8') })
  }
  return out
}

/** Codes documented as reserved (in the table, produced nowhere yet). None today. */
const RESERVED: WalFindingCode[] = []

describe('the WAL finding table', () => {
  const codes = Object.keys(WAL_FINDINGS) as WalFindingCode[]
  const src = sources(SRC)

  it('every code has a severity, a meaning and a hint (every variant non-empty)', () => {
    expect(codes.length).toBeGreaterThanOrEqual(20)
    for (const code of codes) {
      const spec = WAL_FINDINGS[code] as { severity: string; means: string; hint?: string | Record<string, string> }
      expect(['error', 'warning', 'info'], code).toContain(spec.severity)
      expect(spec.means.length, code).toBeGreaterThan(10)
      expect(spec.hint, code).toBeDefined()
      const hints = typeof spec.hint === 'string' ? [spec.hint] : Object.values(spec.hint!)
      for (const h of hints) expect(h.length, code).toBeGreaterThan(10)
      expect(findingHint(code), code).toBe(typeof spec.hint === 'string' ? spec.hint : (spec.hint as Record<string, string>).default)
    }
  })

  it('every code is produced somewhere in src/ (walFinding with that code), or is reserved', () => {
    for (const code of codes) {
      const at = src.filter((f) => f.text.includes(`walFinding('${code}'`))
      if (RESERVED.includes(code)) expect(at, code).toEqual([])
      else expect(at.map((f) => f.path), code).not.toEqual([])
    }
  })

  it('no WAL reader builds a finding by hand (every one comes from the table)', () => {
    const readers = src.filter((f) => /^(format\/wal\/|io\/wal-scan\.ts|app\/wal[^/]*\.ts|app\/sources\.ts)/.test(f.path) && f.path !== 'format/wal/findings.ts')
    expect(readers.length).toBeGreaterThan(8)
    for (const f of readers) expect(f.text.match(/severity: '(error|warning|info)', code: '/g) ?? [], f.path).toEqual([])
  })

  it('walFinding takes severity and hint from the table; variants pick their hint', () => {
    const f = walFinding('crc-mismatch', 'x.wal', 64, 'wal: crc mismatch', { variant: 'last', expected: '00000001', computed: '00000002' })
    expect(f).toEqual({ severity: 'error', code: 'crc-mismatch', file: 'x.wal', offset: 64, detail: 'wal: crc mismatch', expected: '00000001', computed: '00000002',
      hint: (WAL_FINDINGS['crc-mismatch'].hint as { last: string }).last })
    expect(walFinding('crc-mismatch', 'x.wal', 64, 'd').hint).toBe(WAL_FINDINGS['crc-mismatch'].hint.default)
    expect(walFinding('seq-gap', 'x.wal', -1, 'd', { severity: 'warning', variant: 'outOfRange' })).toMatchObject({ severity: 'warning', hint: 'etcd does not read these older segments; no action needed' })
  })

  it('one vocabulary for how a log ends', () => {
    expect(worseEnd('clean', 'torn-tail')).toBe('torn-tail')
    expect(worseEnd('corrupt', 'torn-tail')).toBe('corrupt')
    expect(endOfFindings([])).toBe('clean')
    expect(endOfFindings([{ severity: 'warning', code: 'torn-tail' }])).toBe('torn-tail')
    expect(endOfFindings([{ severity: 'warning', code: 'torn-tail' }, { severity: 'error', code: 'crc-mismatch' }])).toBe('corrupt')
    expect(endOfFindings([{ severity: 'info', code: 'tmp-file' }], 'torn-tail')).toBe('torn-tail')
  })
})
