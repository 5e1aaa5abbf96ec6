/** A problem or notable fact found by a command, as data (STYLE.md §5). */
export interface Finding {
  severity: 'error' | 'warning' | 'info'
  /** Stable code: crc-mismatch, torn-tail, invariant-violated, member-removed, ... */
  code: string
  file?: string
  offset?: number
  detail: string
  hint?: string
}
