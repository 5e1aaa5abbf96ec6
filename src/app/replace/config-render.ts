/**
 * Renders the replacement member's configuration: an environment file (`ETCD_*`, as Debian's
 * /etc/default/etcd and `EnvironmentFile=` use) or a classic systemd unit whose ExecStart carries
 * the same settings as flags. `--initial-cluster` lists every current member plus the new one
 * under its own name; `--initial-cluster-state=existing`. Shown as a diff against the old file.
 * `readConfig` is the one reader of a member's `--config` (replace, certs).
 */
import { existsSync, readFileSync } from 'node:fs'
import { InputError } from '../../errors.js'

export type ConfigFormat = 'env' | 'unit'

/** Parses `KEY=value` lines (optional single/double quotes, `#` comments). */
export function parseEnvFile(text: string): Map<string, string> {
  const m = new Map<string, string>()
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (!line || line.startsWith('#')) continue
    const eq = line.indexOf('=')
    if (eq <= 0) continue
    const k = line.slice(0, eq).replace(/^export\s+/, '').trim()
    let v = line.slice(eq + 1).trim()
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1)
    m.set(k, v)
  }
  return m
}

/** Parses the ExecStart flags of a unit file into the same ETCD_* map. */
export function parseUnitFile(text: string): Map<string, string> {
  const m = new Map<string, string>()
  const exec = text.replace(/\\\n/g, ' ').split('\n').find((l) => l.trim().startsWith('ExecStart='))
  if (!exec) return m
  const toks = exec.trim().slice('ExecStart='.length).split(/\s+/).slice(1)
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!
    if (!t.startsWith('--')) continue
    const body = t.slice(2)
    const eq = body.indexOf('=')
    const flag = eq < 0 ? body : body.slice(0, eq)
    const inline = eq < 0 ? undefined : body.slice(eq + 1)
    const key = 'ETCD_' + flag.toUpperCase().replace(/-/g, '_')
    if (inline !== undefined) m.set(key, inline)
    else if (i + 1 < toks.length && !toks[i + 1]!.startsWith('--')) m.set(key, toks[++i]!)
    else m.set(key, 'true')
  }
  return m
}

/** Reads a member's env file or unit (format detected from a `[Service]` section) into its ETCD_* settings. */
export function readConfig(path: string, format?: ConfigFormat): { text: string; settings: Map<string, string>; format: ConfigFormat } {
  if (!existsSync(path)) throw new InputError(`config file ${path} does not exist`, path, 'input', 'pass the target member\'s env file or unit with --config')
  const text = readFileSync(path, 'utf8')
  const fmt: ConfigFormat = format ?? (/^\s*\[Service\]/m.test(text) ? 'unit' : 'env')
  return { text, settings: fmt === 'env' ? parseEnvFile(text) : parseUnitFile(text), format: fmt }
}

/** A comma-separated URL list (ETCD_*_URLS) → URLs, blanks dropped. */
export const splitUrls = (s: string | undefined): string[] => (s ?? '').split(',').map((x) => x.trim()).filter(Boolean)

export interface RenderInput {
  old: Map<string, string>
  name: string
  peerURLs: string[]
  dataDir: string
  /** Every current member that will stay, as name=peerURL pairs (names of unstarted members are unknown and must not be listed). */
  others: { name: string; peerURLs: string[] }[]
}

/** The ETCD_* settings of the new member. */
export function renderSettings(inp: RenderInput): Map<string, string> {
  const s = new Map(inp.old)
  s.set('ETCD_NAME', inp.name)
  s.set('ETCD_DATA_DIR', inp.dataDir)
  s.set('ETCD_INITIAL_ADVERTISE_PEER_URLS', inp.peerURLs.join(','))
  const cluster = [...inp.others, { name: inp.name, peerURLs: inp.peerURLs }]
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((m) => m.peerURLs.map((u) => `${m.name}=${u}`))
  s.set('ETCD_INITIAL_CLUSTER', cluster.join(','))
  s.set('ETCD_INITIAL_CLUSTER_STATE', 'existing')
  return s
}

export function formatEnv(s: Map<string, string>): string {
  const lines = ['# rendered by etcd-inspect replace; ETCD_INITIAL_CLUSTER_STATE=existing joins the running cluster']
  for (const [k, v] of [...s].sort(([a], [b]) => a.localeCompare(b))) lines.push(`${k}=${/[\s#"']/.test(v) ? JSON.stringify(v) : v}`)
  return lines.join('\n') + '\n'
}

export function formatUnit(s: Map<string, string>, bin = '/usr/bin/etcd'): string {
  const flags = [...s].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `  --${k.slice(5).toLowerCase().replace(/_/g, '-')}=${v}`)
  return ['[Unit]', 'Description=etcd (rendered by etcd-inspect replace)', 'After=network-online.target', '', '[Service]', 'Type=notify',
    `ExecStart=${bin} \\`, flags.join(' \\\n'), 'Restart=on-failure', 'LimitNOFILE=65536', '', '[Install]', 'WantedBy=multi-user.target', ''].join('\n')
}

/**
 * Edits an env file in place: keeps comments, order and untouched lines verbatim, rewrites the
 * lines whose value changes, appends new keys. The diff then shows only what the replacement changes.
 */
export function editEnv(oldText: string, s: Map<string, string>): string {
  const seen = new Set<string>()
  const q = (v: string): string => (/[\s#"']/.test(v) ? JSON.stringify(v) : v)
  const lines = oldText.replace(/\n$/, '').split('\n').map((raw) => {
    const one = parseEnvFile(raw)
    const [k, v] = [...one][0] ?? []
    if (k === undefined) return raw
    seen.add(k)
    const want = s.get(k)
    if (want === undefined || want === v) return raw
    return `${raw.trimStart().startsWith('export ') ? 'export ' : ''}${k}=${q(want)}`
  })
  for (const [k, v] of s) if (!seen.has(k)) lines.push(`${k}=${q(v)}`)
  return lines.join('\n') + '\n'
}

export function render(format: ConfigFormat, s: Map<string, string>, oldText?: string): string {
  if (format === 'env') return oldText !== undefined && oldText.trim() !== '' ? editEnv(oldText, s) : formatEnv(s)
  return formatUnit(s)
}

/** A minimal line diff (LCS): ` ` kept, `-` removed, `+` added. */
export function lineDiff(a: string, b: string, labelA = 'old', labelB = 'new'): string {
  const x = a.split('\n')
  const y = b.split('\n')
  const dp: number[][] = Array.from({ length: x.length + 1 }, () => new Array<number>(y.length + 1).fill(0))
  for (let i = x.length - 1; i >= 0; i--) for (let j = y.length - 1; j >= 0; j--) dp[i]![j] = x[i] === y[j] ? dp[i + 1]![j + 1]! + 1 : Math.max(dp[i + 1]![j]!, dp[i]![j + 1]!)
  const out = [`--- ${labelA}`, `+++ ${labelB}`]
  let i = 0
  let j = 0
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) { out.push(` ${x[i]}`); i++; j++ }
    else if (i < x.length && (j >= y.length || dp[i + 1]![j]! >= dp[i]![j + 1]!)) out.push(`-${x[i++]}`)
    else out.push(`+${y[j++]}`)
  }
  return out.filter((l) => l !== ' ').join('\n') + '\n'
}
