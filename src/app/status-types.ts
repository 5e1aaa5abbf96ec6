/**
 * The result of `etcd-inspect status <data-dir>` (offline) and of `collectStatus()`, which the
 * online `check` command calls for its offline evidence (RECOVERY.md §3.1). Plain data: u64 values
 * are bigint (decimal strings in JSON); member, cluster and node IDs and the vote are etcdctl hex
 * strings only (format/ids.ts `idHex`; `idFromHex` gives the bigint back). Every field that could not be read is `null`, never a guess; the
 * reason is in `findings`. Version 1 of this shape is a stable contract (docs/status.md).
 */
import type { LockCheck } from '../io/locks.js'
import type { Finding } from './finding.js'
import type { Member as BackendMember } from '../format/backend/members.js'
import type { HardStateOut } from '../format/ids.js'

/** What kind of data dir this is. */
export const DataDirState = {
  /** member/wal holds at least one segment: the member has an identity. */
  Initialized: 'initialized',
  /** No member/wal and no db: never started here, or its data is gone. */
  Empty: 'empty',
  /** member/snap/db but no WAL: etcd would bootstrap from flags (no identity on disk). */
  NoWal: 'no-wal',
} as const
export type DataDirState = (typeof DataDirState)[keyof typeof DataDirState]

/** A member as the db (`members` bucket) or a `.snap` knows it (`name` is empty when never started). */
export type StatusMember = Omit<BackendMember, 'id' | 'idHex'> & { /** etcdctl hex */ id: string }

/** A membership change found in the WAL (EntryConfChange / EntryConfChangeV2). */
export interface StatusConfChange {
  index: bigint
  term: bigint
  type: 'add' | 'remove' | 'update' | 'add-learner'
  /** etcdctl hex */
  nodeId: string
  /** index <= HardState.commit: final. */
  committed: boolean
  /** From the ConfChange context (member JSON) when present. */
  peerURLs?: string[]
}

/** One of the cross-file checks etcd itself does at boot (server/verify/verify.go, bootstrap.go). */
export interface StatusInvariant {
  name: 'consistent-index<=commit' | 'db-term<=hardstate-term' | 'snapshot-index<=commit' | 'consistent-index>=snapshot-index'
  /** true holds, false violated (a CORRUPT signal), null not evaluable (a value is missing; see detail). */
  ok: boolean | null
  detail: string
}

/** A problem or notable fact, as data (STYLE.md §5). */
export type StatusFinding = Finding

export interface StatusResult {
  /** Shape version of this result (bumped only on a breaking change). */
  resultVersion: 1
  /** The path as given. */
  path: string
  dataDir: string
  walDir: string | null
  snapDir: string | null
  dbFile: string | null
  state: DataDirState

  /** WAL metadata NodeID, etcdctl hex; null without a readable WAL. */
  memberId: string | null
  /** WAL metadata ClusterID, etcdctl hex. */
  clusterId: string | null

  /** The last HardState record in the WAL. `vote` is a member ID (hex, "0" = none). */
  hardState: HardStateOut | null
  /** Index of the first entry the WAL holds (after the snapshot it starts from); null when none. */
  firstIndex: bigint | null
  /** Index of the last entry in the WAL (committed or not); null when the WAL holds no entry. */
  lastIndex: bigint | null

  /** Index and term of the last WAL snapshot record ({0,0} for a WAL that never snapshotted). */
  snapshotIndex: bigint | null
  snapshotTerm: bigint | null
  /** Snapshot details: WAL record, newest `.snap` file, and the one etcd would load at boot. */
  snapshot: {
    wal: { index: bigint; term: bigint } | null
    /** Newest `.snap` file by name, with its decode status (ok | empty | crc-mismatch | undecodable). */
    file: { name: string; index: bigint | null; term: bigint | null; status: string } | null
    /** Newest readable `.snap` matching a WAL snapshot record with index <= commit. */
    newestUsable: { name: string; index: bigint; term: bigint } | null
    /** Number of `.snap` files. */
    files: number
  }
  /**
   * The WAL segments read: from the one covering the last snapshot (as etcd reads at boot) to the
   * end, unless `allWalSegments`. Conf changes and CRC checks cover only these segments; older
   * changes are applied ones, visible in the db's members/members_removed.
   */
  walRange: { fromSegment: string; segmentsRead: number; segmentsTotal: number } | null

  /** db `meta/consistent_index` (the applied index). */
  consistentIndex: bigint | null
  /** db `meta/term` (3.5+; null on 3.4 dbs). */
  consistentTerm: bigint | null
  /** Latest main revision (last key of bucket `key`). */
  revision: bigint | null
  compactRevision: bigint | null

  members: {
    /** Bucket `members` of the db; null when the db could not be read. */
    db: StatusMember[] | null
    /** Bucket `members_removed`. */
    dbRemoved: { /** etcdctl hex */ id: string }[] | null
    /** Membership changes found in the WAL entries still on disk. */
    walConfChanges: StatusConfChange[]
    /** A RemoveNode of this member's own ID found in the WAL (the last one), or null. */
    selfRemovedInWal: StatusConfChange | null
    /** This member's ID is in the db's `members` (null: unknown). */
    selfInDb: boolean | null
    /** This member's ID is in the db's `members_removed` (null: unknown). */
    selfRemovedInDb: boolean | null
    /**
     * Membership from every source side by side, one row per member ID (etcdctl hex): `voter`,
     * `learner`, `removed` or `absent` in the db (`members`/`members_removed`) and in the newest
     * readable `.snap`'s v2 store (`/0/members`, `/0/removed_members`); the WAL column is the last
     * committed conf change read (`add@12`, `add-learner@40`, `remove@77`). null: source not read.
     */
    bySource: { id: string; wal: string | null; snap: string | null; db: string | null }[]
    /** The `.snap` the snap column comes from (and its index), null when none was read. */
    snapSource: { file: string; index: bigint } | null
    /** Every disagreement between the sources, named (also as `membership-disagrees` findings). */
    disagreements: string[]
  }

  version: {
    /** db `meta/storageVersion` (3.6+). */
    storageVersion: string | null
    /** Cluster version from the db (`cluster/clusterVersion`) or the newest `.snap`'s `/0/version`. */
    clusterVersion: string | null
    /** Best guess of the etcd minor version that last wrote this dir, e.g. "3.4", and why. */
    etcdGuess: string | null
    /** The source that decided `etcdGuess` (one of `sources[].source`), null when none could. */
    decidedBy: string | null
    /**
     * Every source that tells something about the version, in the order they are trusted:
     * db meta/storageVersion (3.6+), db cluster/clusterVersion, the WAL's last v2 PUT /0/version
     * or ClusterVersionSet, the newest .snap's v2 store /0/version, db meta/term (3.5+).
     */
    sources: { source: string; value: string; detail: string }[]
    basis: string[]
  }

  /**
   * What the WAL entries etcd replays at boot (after the last snapshot) need, and which etcd can
   * start on this dir (docs/status.md). Null when the WAL was not scanned (the `check` path).
   */
  compatibility: StatusCompatibility | null

  sizes: {
    walBytes: number
    walSegments: number
    snapFiles: number
    snapBytes: number
    dbBytes: number | null
    totalBytes: number
  }

  integrity: {
    wal: { status: 'ok' | 'torn-tail' | 'corrupt' | 'missing' | 'unavailable'; detail: string }
    db: { status: 'ok' | 'corrupt' | 'missing' | 'unavailable' | 'not-checked'; detail: string }
    invariants: StatusInvariant[]
    /** No corruption and no violated invariant (a torn tail alone keeps this true). */
    ok: boolean
  }

  /** Locks held on the db and WAL files, from /proc/locks (IN_USE evidence). */
  inUse: LockCheck

  findings: StatusFinding[]
  /** Wall time spent collecting, ms. */
  elapsedMs: number
}

/** `status`'s answer to "which etcd can start on this dir". */
export interface StatusCompatibility {
  /** Lowest etcd that can read the entries after the last snapshot (upstream wal/version.go MinimalEtcdVersion). */
  walMinVersion: { version: string; because: string } | null
  /** Entries after the last snapshot, and the v2 Request entries among them. */
  entriesAfterSnapshot: number | null
  v2EntriesAfterSnapshot: number | null
  /** v2 entries 3.6 refuses ("detected disallowed v2 WAL"): anything but PUT /0/version and member attributes. */
  v2DisallowedAfterSnapshot: number | null
  firstDisallowed: { index: bigint; method: string; path: string } | null
  /** db meta/storageVersion (3.6+), null when absent. */
  dbStorageVersion: string | null
  /** 3.4, 3.5, 3.6, 3.7: `can start`, `cannot start: <reason>` or `unknown: <what is missing>`. */
  verdicts: { version: '3.4' | '3.5' | '3.6' | '3.7'; verdict: string }[]
}

/** Options of `collectStatus`. */
export interface StatusOptions {
  /** WAL dir if not `<data-dir>/member/wal` (etcd's `--wal-dir`). */
  walDir?: string
  /** Skip the /proc/locks check (tests). */
  skipLockCheck?: boolean
  /** Read every WAL segment (full CRC chain, every conf change), not only those from the last snapshot on. */
  allWalSegments?: boolean
  /**
   * How the WAL is read when `allWalSegments` is not set. `fast` (default): the last segment with
   * its CRC chain, older segments of the boot range frame-only (cost bounded by one segment).
   * `boot`: the boot range (from the segment covering the last snapshot) with the CRC chain.
   * `frames`: as `fast`, but the last segment is frame-checked too, no CRC (`compare`: it needs the
   * identity and progress of each dir, not the integrity of its WAL).
   */
  walRead?: 'fast' | 'boot' | 'frames'
  /**
   * Decode the WAL entries after the last snapshot for the version and compatibility answers
   * (`status` does; `check`'s offline evidence does not need them and skips the cost).
   */
  scanEntries?: boolean
}
