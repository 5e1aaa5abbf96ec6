/**
 * One ID convention in every JSON output (README "JSON contract"): every member, cluster, node,
 * vote, leader, lease and request-header ID is etcdctl-style hex — lowercase, unpadded, as
 * `etcdctl member list` and etcd's `types.ID` print it (format/ids.ts `idHex`) — in one field, never
 * beside a decimal copy. This runs every command that prints JSON (`-w json` and `-w ndjson`) on
 * every fixture data dir and the unpacked multiseg: wal, wal verify, snap, status, db status/check/
 * buckets, db keys of every bucket, db get of the ID-keyed buckets, history of every key (`/`
 * --prefix: request IDs, leases), check with no reachable endpoint
 * (its offline evidence), compare on the cluster3 members and replace status on an empty journal.
 * `replace plan|apply` and `certs` need a live cluster or a TLS set and print no data-dir IDs here;
 * `report` writes HTML and `index` an LMDB file.
 *
 * The rule, applied to every object key of every JSON value:
 * - ID field: the key is `id`/`ID`, ends in `Id`/`ID` (memberId, clusterId, nodeId, leaseId,
 *   NodeID, …), is `vote`, `lead`, `leader` or `lease`, or ends in `IdHex`/`Hex` after an ID name
 *   (`idHex`, `leaderHex`). Its value is null or a string of 1–16 lowercase hex digits.
 * - ID list: `voters`, `learners`, `votersOutgoing`, `learnersNext`, `removedMembers`,
 *   `answeredVoters` hold such strings (or objects, which are walked).
 * - No decimal twin: no key is an ID name + `Dec`/`Decimal`, and no `<x>Hex` sits beside `<x>`.
 * - Not IDs (exempt): `opId` (a replace operation's name), `pageId` (a bbolt page number), `keyId`
 *   (a KMS key name inside an encrypted Kubernetes value), and the keys of name-keyed maps
 *   (`bucketKeys`, `byKind`, `byType`: bucket or entry-kind name → count; the `lease` bucket is
 *   not a lease ID). Lowercase `uid`, `txid`, `pgid` do not match the rule.
 * - Belt and braces: no string anywhere equals the decimal form of a member or cluster ID from the
 *   fixture's MANIFEST (what etcdctl reported), whatever its key.
 * A decimal 64-bit ID has 17–20 digits unless it is below 10^16 (1 in ~1800 random IDs), so the
 * 16-digit bound catches it; the MANIFEST check catches the rest for the fixtures' own IDs.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { REPO_ROOT } from './support/cli.js'
import { allDataDirs, extractMultiseg } from './support/fixtures.js'

const HEX_ID = /^[0-9a-f]{1,16}$/
const ID_NAME = /^(id|ID|vote|lead|leader|lease)$|[a-z0-9](Id|ID)$/
const ID_LISTS = new Set(['voters', 'learners', 'votersOutgoing', 'learnersNext', 'removedMembers', 'answeredVoters'])
const NOT_IDS = new Set(['opId', 'pageId', 'keyId'])
/** Objects keyed by names (bucket name, entry kind → count): their keys are data, not fields. */
const NAME_MAPS = new Set(['bucketKeys', 'byKind', 'byType'])

/** Every violation of the rule in `v` (paths like `$.members[0].id`). */
export function idViolations(v: unknown, decimals: Set<string>, path = '$'): string[] {
  const out: string[] = []
  const walk = (x: unknown, p: string, key: string | null): void => {
    if (typeof x === 'string') {
      if (decimals.has(x)) out.push(`${p}: "${x}" is the decimal form of an ID`)
      return
    }
    if (Array.isArray(x)) {
      x.forEach((y, i) => {
        if (key !== null && ID_LISTS.has(key) && (y === null || typeof y !== 'object') && !(typeof y === 'string' && HEX_ID.test(y))) {
          out.push(`${p}[${i}]: ${JSON.stringify(y)} in ID list ${key} is not hex`)
        }
        walk(y, `${p}[${i}]`, null)
      })
      return
    }
    if (x === null || typeof x !== 'object' || (key !== null && NAME_MAPS.has(key))) return
    const o = x as Record<string, unknown>
    for (const [k, val] of Object.entries(o)) {
      const q = `${p}.${k}`
      const base = k.replace(/(Hex|Dec|Decimal)$/, '')
      const isId = !NOT_IDS.has(base) && ID_NAME.test(base)
      if (isId && /(Dec|Decimal)$/.test(k)) out.push(`${q}: a decimal twin of an ID field`)
      else if (isId && k.endsWith('Hex') && base in o) out.push(`${q}: a hex twin beside ${base}`)
      else if (isId && val !== null && typeof val !== 'object' && !(typeof val === 'string' && HEX_ID.test(val))) {
        out.push(`${q}: ${JSON.stringify(val)} is not etcdctl hex`)
      }
      walk(val, q, k)
    }
  }
  walk(v, path, null)
  return out
}

/** Runs the CLI for every `args` in one process (test/support/cli-batch.mjs). */
function batch(runs: string[][]): { args: string[]; code: number; stdout: string; stderr: string }[] {
  const d = mkdtempSync(join(tmpdir(), 'etcd-inspect-ids-'))
  try {
    writeFileSync(join(d, 'runs.json'), JSON.stringify(runs))
    execFileSync(process.execPath, [join(REPO_ROOT, 'test/support/cli-batch.mjs'), join(d, 'runs.json'), join(d, 'out.json')], { stdio: 'inherit' })
    return JSON.parse(readFileSync(join(d, 'out.json'), 'utf8'))
  } finally {
    rmSync(d, { recursive: true, force: true })
  }
}

/** The JSON values of one output: the whole text for -w json, one per line for ndjson. */
function jsonValues(args: string[], stdout: string): unknown[] {
  const nd = args[args.indexOf('-w') + 1] === 'ndjson'
  return nd ? stdout.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l)) : [JSON.parse(stdout)]
}

const stateDir = mkdtempSync(join(tmpdir(), 'etcd-inspect-ids-state-'))
afterAll(() => rmSync(stateDir, { recursive: true, force: true }))

describe('every JSON output prints IDs as etcdctl hex, once', () => {
  it('the rule catches decimal IDs, twins and hex IDs in the wrong form (checked on hand-made JSON)', () => {
    const dec = new Set(['3775283703364875144'])
    expect(idViolations({ memberId: '34648086a1627388', hardState: { vote: '0', term: '2' }, uid: 'a-b', txid: '81', opId: 'r2026', pageId: 3 }, dec)).toEqual([])
    expect(idViolations({ hardState: { vote: '3775283703364875144' } }, new Set())).toHaveLength(1)
    expect(idViolations({ members: [{ id: '34648086a1627388', idDecimal: '3775283703364875144' }] }, new Set())).toHaveLength(1)
    expect(idViolations({ nodeId: '34648086a1627388', nodeIdHex: '34648086a1627388' }, new Set())).toHaveLength(1)
    expect(idViolations({ lease: 42 }, new Set())).toHaveLength(1)
    expect(idViolations({ confState: { voters: ['34648086A1627388'] } }, new Set())).toHaveLength(1)
    expect(idViolations({ detail: 'x', n: '3775283703364875144' }, dec)).toHaveLength(1)
  })

  it('wal, wal verify, snap, status, db status|check|buckets|keys|get, history, check (offline evidence), compare, replace status on every fixture', () => {
    const ms = extractMultiseg({ shared: true })
    const dirs = [...allDataDirs().map((d) => ({ name: `${d.fixture}/${d.key}`, dir: d.dir, ids: [d.manifest.memberId, d.manifest.clusterId] })),
      ...Object.entries(ms.dataDirs).map(([k, dir]) => ({ name: `multiseg/${k}`, dir, ids: [ms.manifest.dataDirs[k]!.memberId, ms.manifest.dataDirs[k]!.clusterId] }))]
    const decimals = new Set(dirs.flatMap((d) => d.ids.map((h) => BigInt('0x' + h).toString())).filter((s) => s.length > 1))
    const formats = ['json', 'ndjson']
    const perDir = (dir: string): string[][] => [
      ['wal', dir], ['wal', 'verify', dir], ['snap', dir], ['status', dir], ['db', 'status', dir], ['db', 'check', dir], ['db', 'buckets', dir],
      ['history', dir, '/', '--prefix'],
      ['check', dir, '--endpoints', '127.0.0.1:1', '--dial-timeout', '300ms', '--command-timeout', '500ms', '--no-witness', '--state-dir', stateDir],
    ]
    const cluster3 = dirs.filter((d) => d.name.startsWith('cluster3/')).map((d) => d.dir)
    const first = batch([...dirs.flatMap((d) => perDir(d.dir).flatMap((a) => formats.map((f) => [...a, '-w', f]))),
      ...formats.map((f) => ['compare', ...cluster3, '-w', f]), ['replace', 'status', '--state-dir', stateDir, '-w', 'json']])
    // db keys of every bucket `db buckets` lists, then db get of the first key of the ID-keyed buckets.
    const keysRuns = first.filter((r) => r.args[1] === 'buckets' && r.args.at(-1) === 'json').flatMap((r) => {
      const buckets = (JSON.parse(r.stdout) as { buckets: { name: string }[] }).buckets.map((b) => b.name)
      return buckets.flatMap((b) => formats.map((f) => ['db', 'keys', r.args[2]!, b, '-w', f]))
    })
    const second = batch(keysRuns)
    const getRuns = second.filter((r) => r.args.at(-1) === 'json' && ['members', 'members_removed', 'lease', 'alarm'].includes(r.args[3]!)).flatMap((r) => {
      const e = (JSON.parse(r.stdout) as { entries: { key: { text?: string; hex?: string } }[] }).entries[0]
      if (!e) return []
      const key = e.key.text !== undefined ? [e.key.text] : [e.key.hex!, '--hex']
      return formats.map((f) => ['db', 'get', r.args[2]!, r.args[3]!, ...key, '-w', f])
    })
    const all = [...first, ...second, ...batch(getRuns)]
    expect(keysRuns.length).toBeGreaterThan(dirs.length * 2 * 8)
    expect(getRuns.length).toBeGreaterThan(dirs.length)

    const problems: string[] = []
    const seen = new Set<string>()
    for (const r of all) {
      const label = r.args.map((a) => dirs.find((d) => d.dir === a)?.name ?? a).join(' ')
      // exit codes: 0, 4/5 (corrupt/torn-tail verdicts of the crash fixture), 30 (check: UNKNOWN)
      // (an empty bucket's ndjson listing is empty)
      if (![0, 4, 5, 30].includes(r.code) || (r.stdout.length === 0 && !(r.args[1] === 'keys' && r.args.at(-1) === 'ndjson'))) {
        problems.push(`${label}: exit ${r.code}, ${r.stdout.length} bytes of stdout: ${r.stderr.trim()}`)
        continue
      }
      for (const v of jsonValues(r.args, r.stdout)) {
        for (const p of idViolations(v, decimals)) problems.push(`${label}: ${p}`)
        // What the run covered: the ID-named keys it printed.
        JSON.stringify(v, (k, x) => { if (k && ID_NAME.test(k.replace(/(Hex|Dec|Decimal)$/, ''))) seen.add(k); return x })
      }
    }
    expect(problems).toEqual([])
    // The outputs did hold IDs of every kind the convention names.
    for (const k of ['id', 'memberId', 'clusterId', 'nodeId', 'vote', 'lease', 'requestId']) expect(seen, k).toContain(k)
  }, 300_000) // ~330 runs in one process: ~8 s of CPU, minutes of wall time on a loaded 2-core host
})
