/**
 * Renderers of `certs` results. JSON is the whole result (the contract in docs/certs.md); table
 * shows the certificates, keys and live comparison, then the findings and the verdict; simple is
 * one `severity, code, file, detail` line per finding and a closing verdict line; ndjson streams
 * one line per certificate, key, live check and finding, then a summary line.
 */
import { newTable } from './table.js'
import type { CertsResult } from '../app/certs.js'
import { renderResult, type OutputFormat, type Sink } from './output.js'

const plain = { head: [] as string[], border: [] as string[] }

export async function renderCerts(r: CertsResult, format: OutputFormat, out: Sink): Promise<void> {
  await renderResult(r, format, out, { ndjson, simple, table })
}

function* ndjson(r: CertsResult): Iterable<unknown> {
  for (const c of r.certificates) yield { type: 'certificate', ...c }
  for (const k of r.keys) yield { type: 'key', ...k }
  for (const l of r.live ?? []) yield { type: 'live', ...l }
  for (const f of r.findings) yield { type: 'finding', ...f }
  yield { type: 'summary', config: r.config, now: r.now, warnDays: r.warnDays, counts: r.counts, verdict: r.verdict }
}

function verdictLine(r: CertsResult): string {
  return `verdict: ${r.verdict} (${r.counts.errors} error${r.counts.errors === 1 ? '' : 's'}, ${r.counts.warnings} warning${r.counts.warnings === 1 ? '' : 's'})`
}

function simple(r: CertsResult): string {
  const lines = r.findings.map((f) => [f.severity, f.code, f.file ?? '-', f.detail].join(', '))
  lines.push(verdictLine(r))
  return lines.join('\n') + '\n'
}

function table(r: CertsResult): string {
  const parts: string[] = []
  if (r.certificates.length) {
    const t = newTable({ head: ['ROLE', 'FILE', '#', 'SUBJECT', 'KEY', 'NOT AFTER', 'CA', 'EXT KEY USAGE', 'SANS'], style: plain })
    for (const c of r.certificates) {
      t.push([c.role, c.file, String(c.index), c.subject, c.publicKey, c.notAfter.slice(0, 10), c.isCa === null ? '-' : String(c.isCa), c.extKeyUsage?.join(',') ?? '(any)', c.sans.join(', ') || '-'])
    }
    parts.push(t.toString())
  }
  if (r.keys.length) {
    const t = newTable({ head: ['KEY OF', 'FILE', 'MODE', 'MATCHES CERT'], style: plain })
    for (const k of r.keys) t.push([k.role, k.file, k.mode ?? '-', k.matches === null ? '-' : k.matches ? 'yes' : 'NO'])
    parts.push(t.toString())
  }
  if (r.live) {
    const t = newTable({ head: ['MEMBER', 'URL', 'SIDE', 'PRESENTED SERIAL', 'NOT AFTER', 'SAME AS DISK'], style: plain })
    for (const l of r.live) {
      t.push([`${l.name || '(unstarted)'} ${l.memberIdHex}${l.self ? ' (this)' : ''}`, l.url, l.side, l.presentedSerial ?? `- (${l.error})`, l.presentedNotAfter?.slice(0, 10) ?? '-', l.matches === null ? '-' : l.matches ? 'yes' : 'NO'])
    }
    parts.push(t.toString())
  }
  if (r.findings.length) {
    parts.push('findings:\n' + r.findings.map((f) => `  ${f.severity} ${f.code}: ${f.detail}${f.hint ? `\n    -> ${f.hint}` : ''}`).join('\n'))
  }
  parts.push(verdictLine(r))
  return parts.join('\n') + '\n'
}
