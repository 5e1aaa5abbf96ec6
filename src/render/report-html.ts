/**
 * HTML building blocks of the report page. Every string that comes from a data dir (member names,
 * URLs, file names, finding details, bucket names) is untrusted: it goes through `esc` before it
 * reaches the page, whether as text or as an attribute value. Numbers go through it too, so a
 * caller never has to decide which values are "safe".
 */

/** Escapes text and attribute values (double- or single-quoted) for HTML and inline SVG. */
export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]!)
}
const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** `<tag attr="v" ...>` with escaped attribute values; undefined/false attributes are left out. */
export function tag(name: string, attrs: Record<string, unknown> = {}, body = ''): string {
  let a = ''
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false || v === null) continue
    a += v === true ? ` ${k}` : ` ${k}="${esc(v)}"`
  }
  return `<${name}${a}>${body}</${name}>`
}

/** A table: `head` and `rows` are raw HTML cells (callers escape data with `esc`). */
export function table(head: string[], rows: string[][], attrs: Record<string, unknown> = {}): string {
  const th = head.map((h) => `<th>${h}</th>`).join('')
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n')
  return tag('table', attrs, `<thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody>`)
}

/** Key/value rows (`k` is trusted text, `v` raw HTML). */
export function facts(rows: [string, string][], attrs: Record<string, unknown> = {}): string {
  return tag('table', { class: 'facts', ...attrs }, rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`).join('\n'))
}

/** 1234567 → "1,234,567". */
export function num(n: number | bigint | null | undefined): string {
  if (n === null || n === undefined) return '–'
  return BigInt(n).toLocaleString('en-US')
}

/** Bytes in binary units, e.g. "1.5 MiB". */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '–'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return u === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`
}
