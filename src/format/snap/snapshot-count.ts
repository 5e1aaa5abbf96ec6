/**
 * etcd's default `--snapshot-count` by version: the one table `snap` (cadence, next snapshot) and
 * `check` (BEHIND_NEEDS_SNAPSHOT) use when the flag is not given.
 *  - 2.x, 3.0, 3.1: 10,000 (etcdmain/config.go `snapshot-count` default; etcdserver DefaultSnapshotCount)
 *  - 3.2 to 3.5: 100,000 (CHANGELOG-3.2: "Increase default --snapshot-count from 10000 to 100000")
 *  - 3.6 on: 10,000 (CHANGELOG-3.6: default --snapshot-count lowered back to 10000)
 */

export interface SnapshotCountDefault {
  /** Inclusive minor-version range, e.g. ['3.2', '3.5']; `to` null = and later. */
  from: string
  to: string | null
  snapshotCount: bigint
}

export const SNAPSHOT_COUNT_DEFAULTS: readonly SnapshotCountDefault[] = [
  { from: '2.0', to: '3.1', snapshotCount: 10_000n },
  { from: '3.2', to: '3.5', snapshotCount: 100_000n },
  { from: '3.6', to: null, snapshotCount: 10_000n },
]

/** The default when the version is not known: etcd 3.4's (the version installed here, and 3.5's). */
export const FALLBACK_SNAPSHOT_COUNT = 100_000n

const num = (v: string): number | null => {
  const m = /^(\d+)\.(\d+)/.exec(v)
  return m ? Number(m[1]) * 1000 + Number(m[2]) : null
}

/** The default `--snapshot-count` of etcd `version` ("3.5", "3.5.0", "2.3.7"); null when not a version. */
export function defaultSnapshotCount(version: string | null | undefined): SnapshotCountDefault | null {
  const v = version ? num(version) : null
  if (v === null) return null
  return SNAPSHOT_COUNT_DEFAULTS.find((d) => v >= num(d.from)! && (d.to === null || v <= num(d.to)!)) ?? null
}

/** "2.0-3.1 10000, 3.2-3.5 100000, 3.6+ 10000" for messages. */
export function describeSnapshotCountDefaults(): string {
  return SNAPSHOT_COUNT_DEFAULTS.map((d) => `${d.from}${d.to ? `-${d.to}` : '+'} ${d.snapshotCount}`).join(', ')
}
