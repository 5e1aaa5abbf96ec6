/**
 * The report's charts, drawn as inline SVG (no script, no library): the WAL timeline (entries per
 * index bucket, the term line, and lanes of markers for snapshots, conf changes, compactions and
 * findings) and horizontal stacked bars for space. Every bar and marker carries its numbers as
 * `data-*` attributes and a `<title>` tooltip, so the page can be checked and read without script.
 */
import type { ReportResult, WalTimeline } from '../app/report.js'
import { esc, num } from './report-html.js'

const W = 1080
const L = 96
const R = 16
const PW = W - L - R

/** Colours (also used by the legend in report.ts). */
export const COLORS = {
  committed: '#4c78a8', uncommitted: '#f58518', term: '#54a24b', election: '#2f7d32', snapRecord: '#1f5fa8', snapFile: '#8e44ad',
  conf: '#0f8a5f', compaction: '#6b6b6b', error: '#cf222e', warning: '#b7791f', commit: '#333333', grid: '#e3e6ea',
} as const

/** The WAL timeline. `snapFiles` are the `.snap` files (index, name, status) to mark beside the WAL records. */
export function timelineSvg(t: WalTimeline, snapFiles: { index: bigint; name: string; status: string }[]): string {
  const first = t.buckets[0]!
  const lastB = t.buckets[t.buckets.length - 1]!
  const lo = Number(first.from)
  const hi = Math.max(Number(lastB.to), Number(t.lastIndex ?? lastB.to)) + 1
  const span = Math.max(1, hi - lo)
  const x = (i: bigint | number): number => L + ((Math.min(Math.max(Number(i), lo), hi) - lo) / span) * PW
  const inRange = (i: bigint): boolean => Number(i) >= lo && Number(i) < hi
  const out: string[] = []

  // Lane geometry
  const barTop = 28
  const barH = 150
  const termTop = barTop + barH + 26
  const termH = 56
  const laneTop = termTop + termH + 22
  const laneH = 24
  const lanes = ['snapshots', 'conf changes', 'compactions', 'findings'] as const
  const axisY = laneTop + lanes.length * laneH + 8
  const H = axisY + 34

  out.push(`<svg id="timeline" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="WAL timeline"`
    + ` data-entries="${esc(t.entries)}" data-buckets="${esc(t.buckets.length)}" data-bucket-width="${esc(t.bucketWidth)}">`)

  // Entries per bucket: committed part below, uncommitted on top.
  const maxN = Math.max(1, ...t.buckets.map((b) => b.entries))
  const y = (n: number): number => barTop + barH - (n / maxN) * barH
  out.push(`<text class="lane" x="${L - 8}" y="${barTop + 10}" text-anchor="end">entries</text>`)
  out.push(`<text class="tick" x="${L - 8}" y="${barTop + 24}" text-anchor="end">${esc(num(maxN))}</text>`)
  out.push(`<text class="tick" x="${L - 8}" y="${barTop + barH}" text-anchor="end">0</text>`)
  out.push(`<line class="grid" x1="${L}" x2="${W - R}" y1="${barTop + barH + 0.5}" y2="${barTop + barH + 0.5}"/>`)
  // The uncommitted tail, shaded behind the bars.
  if (t.uncommitted.count > 0 && t.uncommitted.from !== undefined && t.uncommitted.to !== undefined) {
    const x0 = x(t.uncommitted.from)
    const x1 = Math.max(x0 + 6, x(t.uncommitted.to + 1n))
    out.push(`<rect class="tail" id="uncommitted-tail" x="${f(x0)}" y="${barTop - 6}" width="${f(x1 - x0)}" height="${barH + 6}" fill="${COLORS.uncommitted}" fill-opacity="0.12"`
      + ` data-count="${esc(t.uncommitted.count)}" data-from="${esc(t.uncommitted.from)}" data-to="${esc(t.uncommitted.to)}">`
      + `<title>${esc(`uncommitted tail: ${t.uncommitted.count} entries, index ${t.uncommitted.from}–${t.uncommitted.to} (above the HardState commit; a new leader may overwrite them)`)}</title></rect>`)
  }
  for (const b of t.buckets) {
    const x0 = x(b.from)
    const w = Math.max(1, x(b.to + 1n) - x0 - (t.buckets.length > 60 ? 0.5 : 1))
    const committed = b.entries - b.uncommitted
    const kinds = Object.entries(b.byKind).sort((p, q) => q[1] - p[1]).map(([k, n]) => `${k} ${num(n)}`).join(', ')
    const range = b.from === b.to ? `index ${b.from}` : `index ${b.from}–${b.to}`
    const title = `${range}: ${num(b.entries)} entries (${kinds})${b.uncommitted ? `, ${num(b.uncommitted)} uncommitted` : ''}; term ${b.minTerm === b.maxTerm ? b.minTerm : `${b.minTerm}–${b.maxTerm}`}${b.termChanges ? `, ${b.termChanges} term change(s)` : ''}`
    const attrs = `data-from="${esc(b.from)}" data-to="${esc(b.to)}" data-entries="${esc(b.entries)}" data-uncommitted="${esc(b.uncommitted)}"`
      + ` data-normal="${esc(b.byType.normal ?? 0)}" data-conf="${esc((b.byType.confChange ?? 0) + (b.byType.confChangeV2 ?? 0))}" data-term-changes="${esc(b.termChanges)}"`
    out.push(`<g class="bar" ${attrs}><title>${esc(title)}</title>`)
    if (committed > 0) out.push(`<rect x="${f(x0)}" y="${f(y(committed))}" width="${f(w)}" height="${f(barTop + barH - y(committed))}" fill="${COLORS.committed}"/>`)
    if (b.uncommitted > 0) out.push(`<rect x="${f(x0)}" y="${f(y(b.entries))}" width="${f(w)}" height="${f(y(committed) - y(b.entries))}" fill="${COLORS.uncommitted}"/>`)
    out.push('</g>')
  }
  // The commit index.
  if (t.commit !== null && t.commit >= BigInt(lo) - 1n) {
    const cx = x(t.commit + 1n)
    out.push(`<line class="commit" x1="${f(cx)}" x2="${f(cx)}" y1="${barTop - 10}" y2="${axisY}" stroke="${COLORS.commit}" stroke-dasharray="4 3"/>`)
    const tail = t.uncommitted.count ? `, ${num(t.uncommitted.count)} uncommitted after it` : ''
    out.push(`<text class="note" x="${f(cx > L + 320 ? cx - 4 : cx + 4)}" y="${barTop - 14}" text-anchor="${cx > L + 320 ? 'end' : 'start'}">${esc(`commit ${num(t.commit)}${tail}`)}</text>`)
  }

  // Term lane: the highest term per bucket as a step line, elections as ticks.
  const minT = Number(t.buckets.reduce((m, b) => (b.minTerm < m ? b.minTerm : m), first.minTerm))
  const maxT = Number(t.buckets.reduce((m, b) => (b.maxTerm > m ? b.maxTerm : m), first.maxTerm))
  const ty = (term: bigint): number => termTop + termH - (maxT === minT ? termH / 2 : ((Number(term) - minT) / (maxT - minT)) * (termH - 6) + 3)
  out.push(`<text class="lane" x="${L - 8}" y="${termTop + 10}" text-anchor="end">term</text>`)
  out.push(`<text class="tick" x="${L - 8}" y="${termTop + 24}" text-anchor="end">${esc(maxT === minT ? maxT : `${minT}–${maxT}`)}</text>`)
  out.push(`<rect class="laneBg" x="${L}" y="${termTop}" width="${PW}" height="${termH}"/>`)
  const pts: string[] = []
  for (const b of t.buckets) {
    pts.push(`${f(x(b.from))},${f(ty(b.maxTerm))}`, `${f(x(b.to + 1n))},${f(ty(b.maxTerm))}`)
  }
  out.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${COLORS.term}" stroke-width="2"/>`)
  for (const m of t.terms.items.slice(1)) {
    const mx = x(m.index)
    out.push(`<g class="mark election" data-index="${esc(m.index)}" data-term="${esc(m.term)}"><title>${esc(`index ${m.index}: ${m.label} (an election: the new leader's first entry)`)}</title>`
      + `<path d="M${f(mx)},${f(ty(m.term) - 9)} l-5,-8 h10 z" fill="${COLORS.election}"/></g>`)
  }

  // Marker lanes.
  lanes.forEach((name, i) => {
    const ly = laneTop + i * laneH
    out.push(`<rect class="laneBg" x="${L}" y="${ly + 2}" width="${PW}" height="${laneH - 4}"/>`)
    out.push(`<text class="lane" x="${L - 8}" y="${ly + laneH / 2 + 4}" text-anchor="end">${esc(name)}</text>`)
  })
  const mid = (i: number): number => laneTop + i * laneH + laneH / 2
  const edge = (i: bigint): string => (inRange(i) ? '' : Number(i) < lo ? ' (before the first entry in the WAL: drawn at the left edge)' : ' (after the last entry: drawn at the right edge)')
  for (const s of t.snapshotRecords.items) {
    const mx = x(s.index)
    out.push(`<g class="mark snap-record" data-index="${esc(s.index)}"><title>${esc(`WAL snapshot record: index ${s.index}, term ${s.term} (${s.file}@${s.offset})${edge(s.index)}`)}</title>`
      + `<path d="M${f(mx - 5)},${f(mid(0) - 7)} h10 l-5,9 z" fill="${COLORS.snapRecord}"/></g>`)
  }
  for (const s of snapFiles) {
    const mx = x(s.index)
    out.push(`<g class="mark snap-file" data-index="${esc(s.index)}"><title>${esc(`.snap file ${s.name}: index ${s.index} (${s.status})${edge(s.index)}`)}</title>`
      + `<path d="M${f(mx)},${f(mid(0))} l5,5 l-5,5 l-5,-5 z" fill="${s.status === 'ok' ? COLORS.snapFile : COLORS.error}"/></g>`)
  }
  for (const c of t.confChanges.items) {
    const mx = x(c.index)
    out.push(`<g class="mark conf-change" data-index="${esc(c.index)}"><title>${esc(`index ${c.index}, term ${c.term}: ${c.label}${c.committed ? '' : ' (uncommitted)'}`)}</title>`
      + `<circle cx="${f(mx)}" cy="${f(mid(1))}" r="5" fill="${c.committed ? COLORS.conf : '#ffffff'}" stroke="${COLORS.conf}" stroke-width="2"/></g>`)
  }
  for (const c of t.compactions.items) {
    const mx = x(c.index)
    out.push(`<g class="mark compaction" data-index="${esc(c.index)}"><title>${esc(`index ${c.index}, term ${c.term}: ${c.label}${c.committed ? '' : ' (uncommitted)'}`)}</title>`
      + `<rect x="${f(mx - 4)}" y="${f(mid(2) - 4)}" width="8" height="8" fill="${COLORS.compaction}"/></g>`)
  }
  for (const fi of t.findings.items) {
    if (fi.severity === 'info') continue
    const at = fi.afterIndex ?? BigInt(lo)
    const mx = fi.afterIndex === null ? x(lo) : x(at + 1n)
    const color = fi.severity === 'error' ? COLORS.error : COLORS.warning
    const where = fi.offset >= 0 ? `${fi.file}@${fi.offset}` : fi.file
    out.push(`<g class="mark finding ${esc(fi.severity)}" data-code="${esc(fi.code)}" data-after-index="${esc(fi.afterIndex ?? '')}"><title>${esc(`${fi.severity} ${fi.code} at ${where}, after index ${fi.afterIndex ?? '(none)'}: ${fi.detail}`)}</title>`
      + `<line x1="${f(mx)}" x2="${f(mx)}" y1="${barTop - 6}" y2="${f(mid(3) + 8)}" stroke="${color}" stroke-width="2"/>`
      + `<path d="M${f(mx - 5)},${f(mid(3) - 5)} l10,10 m0,-10 l-10,10" stroke="${color}" stroke-width="2.5"/></g>`)
    out.push(`<text class="note finding-label" x="${f(mx > W - 260 ? mx - 8 : mx + 8)}" y="${f(mid(3) + 4)}" text-anchor="${mx > W - 260 ? 'end' : 'start'}" fill="${color}">${esc(`${fi.code} at ${where}`)}</text>`)
  }

  const shown = (l: { items: unknown[] }): number => l.items.length
  const empty: [number, string][] = [
    [0, shown(t.snapshotRecords) + snapFiles.length === 0 ? 'no snapshot records or .snap files' : ''],
    [1, shown(t.confChanges) === 0 ? 'no conf change in the log' : ''],
    [2, shown(t.compactions) === 0 ? 'no compaction in the log' : ''],
    [3, t.findings.items.every((x) => x.severity === 'info') ? `none: the log ends ${t.end === 'clean' ? 'cleanly' : t.end}` : ''],
  ]
  for (const [i, text] of empty) if (text) out.push(`<text class="tick" x="${L + 8}" y="${f(mid(i) + 4)}">${esc(text)}</text>`)

  // Index axis.
  out.push(`<line class="axis" x1="${L}" x2="${W - R}" y1="${axisY}" y2="${axisY}"/>`)
  const ticks = 6
  for (let k = 0; k <= ticks; k++) {
    const i = Math.round(lo + ((hi - 1 - lo) * k) / ticks)
    const tx = x(i)
    out.push(`<line class="axis" x1="${f(tx)}" x2="${f(tx)}" y1="${axisY}" y2="${axisY + 5}"/>`)
    out.push(`<text class="tick" x="${f(tx)}" y="${axisY + 18}" text-anchor="${k === 0 ? 'start' : k === ticks ? 'end' : 'middle'}">${esc(num(i))}</text>`)
  }
  out.push(`<text class="lane" x="${L - 8}" y="${axisY + 18}" text-anchor="end">raft index</text>`)
  out.push('</svg>')
  return out.join('\n')
}

/** One horizontal stacked bar per row: `parts` are [label, value, colour]; values share one scale. */
export function stackedBars(id: string, rows: { label: string; parts: [string, number, string][]; note?: string }[], unit: (n: number) => string): string {
  const rowH = 26
  const labelW = 230
  const w = W - labelW - 270
  const H = rows.length * rowH + 8
  const max = Math.max(1, ...rows.map((r) => r.parts.reduce((s, p) => s + p[1], 0)))
  const out = [`<svg id="${esc(id)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img">`]
  rows.forEach((r, i) => {
    const y0 = 4 + i * rowH
    const total = r.parts.reduce((s, p) => s + p[1], 0)
    out.push(`<text class="lane" x="${labelW - 8}" y="${y0 + 16}" text-anchor="end">${esc(r.label.length > 34 ? r.label.slice(0, 33) + '…' : r.label)}</text>`)
    let x0 = labelW
    for (const [name, v, color] of r.parts) {
      if (v <= 0) continue
      const bw = Math.max(1, (v / max) * w)
      out.push(`<rect x="${f(x0)}" y="${y0 + 3}" width="${f(bw)}" height="${rowH - 8}" fill="${esc(color)}" data-part="${esc(name)}" data-value="${esc(v)}"><title>${esc(`${r.label}: ${name} ${unit(v)}`)}</title></rect>`)
      x0 += bw
    }
    out.push(`<text class="tick" x="${f(x0 + 6)}" y="${y0 + 16}">${esc(r.note ?? unit(total))}</text>`)
  })
  out.push('</svg>')
  return out.join('\n')
}

/** The `.snap` files to mark on the timeline. */
export function snapMarks(r: ReportResult): { index: bigint; name: string; status: string }[] {
  return (r.snap?.snapshots ?? []).flatMap((s) => {
    const index = s.index ?? s.nameIndex
    return index === null ? [] : [{ index, name: s.file, status: s.status }]
  })
}

const f = (n: number): string => (Math.round(n * 10) / 10).toString()
