/**
 * The replace journal: an LMDB environment under the state dir (never inside a data dir).
 * Keys: `op/<opId>` -> operation record (plan + status), `ev/<opId>/<seq>` -> one event
 * (intent before each action, done/skip/fail after, with evidence). Every write commits
 * synchronously, so a SIGKILL right after a call returns cannot lose the record.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { open, type RootDatabase } from './lmdb.js'

/** `interrupted`: stopped by SIGINT/SIGTERM; like `failed`, resumable. */
export type OpStatus = 'planned' | 'running' | 'complete' | 'failed' | 'interrupted' | 'aborted'

/** Statuses `replace resume` continues (and that block a second op in the same state dir). */
export const UNFINISHED: readonly OpStatus[] = ['running', 'failed', 'interrupted']
export const isUnfinished = (r: { status: OpStatus }): boolean => UNFINISHED.includes(r.status)

/** Where the journal of a state dir lives. */
export const journalPath = (stateDir: string): string => join(stateDir, 'journal.lmdb')

export interface OpRecord {
  opId: string
  createdAt: string
  updatedAt: string
  status: OpStatus
  /** The plan as JSON text (kept verbatim so what was reviewed is what runs). */
  planJson: string
  /** Facts learned while running (new member ID, archive path, snapshot hash). */
  facts: Record<string, string>
  lastError?: string
}

export interface JournalEvent {
  seq: number
  at: string
  step: number
  kind: string
  phase: 'intent' | 'done' | 'skip' | 'fail' | 'note'
  evidence?: Record<string, unknown>
  message?: string
}

export class Journal {
  private constructor(private readonly db: RootDatabase, readonly path: string) {}

  /** Opens (creates) `<stateDir>/journal.lmdb`. */
  static open(stateDir: string): Journal {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 })
    const path = journalPath(stateDir)
    const db = open({ path, encoding: 'json', compression: false }) as RootDatabase
    return new Journal(db, path)
  }

  /**
   * Opens an existing journal read-only, or returns undefined when the state dir has none:
   * queries (`status`, `plan`, a `resume` with nothing to do) must not create files.
   */
  static openExisting(stateDir: string): Journal | undefined {
    const path = journalPath(stateDir)
    if (!existsSync(path)) return undefined
    const db = open({ path, encoding: 'json', compression: false, readOnly: true }) as RootDatabase
    return new Journal(db, path)
  }

  close(): void {
    void this.db.close()
  }

  getOp(opId: string): OpRecord | undefined {
    return this.db.get(`op/${opId}`) as OpRecord | undefined
  }

  putOp(rec: OpRecord): void {
    rec.updatedAt = new Date().toISOString()
    this.db.putSync(`op/${rec.opId}`, rec)
  }

  updateOp(opId: string, patch: Partial<Omit<OpRecord, 'opId'>>): OpRecord {
    const cur = this.getOp(opId)
    if (!cur) throw new Error(`journal: no operation ${opId}`)
    const next: OpRecord = { ...cur, ...patch, facts: { ...cur.facts, ...(patch.facts ?? {}) } }
    this.putOp(next)
    return next
  }

  setFact(opId: string, key: string, value: string): void {
    this.updateOp(opId, { facts: { [key]: value } })
  }

  listOps(): OpRecord[] {
    const out: OpRecord[] = []
    for (const { value } of this.db.getRange({ start: 'op/', end: 'op0' })) out.push(value as OpRecord)
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt))
  }

  events(opId: string): JournalEvent[] {
    const out: JournalEvent[] = []
    for (const { value } of this.db.getRange({ start: `ev/${opId}/`, end: `ev/${opId}0` })) out.push(value as JournalEvent)
    return out.sort((a, b) => a.seq - b.seq)
  }

  append(opId: string, ev: Omit<JournalEvent, 'seq' | 'at'>): JournalEvent {
    const last = this.events(opId).at(-1)
    const seq = (last?.seq ?? 0) + 1
    const full: JournalEvent = { seq, at: new Date().toISOString(), ...ev }
    this.db.putSync(`ev/${opId}/${String(seq).padStart(8, '0')}`, full)
    return full
  }

  /** The latest event per step number. */
  stepStates(opId: string): Map<number, JournalEvent> {
    const m = new Map<number, JournalEvent>()
    for (const e of this.events(opId)) if (e.phase !== 'note') m.set(e.step, e)
    return m
  }
}
