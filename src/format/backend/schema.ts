/**
 * etcd's schema on top of a bbolt file (FORMATS.md §6): the `meta`, `cluster`, `members`,
 * `members_removed`, `auth*`, `lease` and `alarm` buckets decoded into plain data. Everything here
 * reads only small buckets and the last key of `key`, so it stays fast on a multi-GB db; the full
 * pass over every key lives in hash.ts.
 */
import type { BoltFile } from '../bbolt/file.js'
import type { BucketRoot } from '../bbolt/bucket.js'
import { bucket, buckets, get, iterate, last } from '../bbolt/walk.js'
import { idHex } from '../ids.js'
import { decodeCompactRev, decodeConfState, decodeU64be, type ConfState } from './meta-keys.js'
import { decodeMember, decodeRemovedMember, type Member } from './members.js'
import { decodeAlarm, decodeLease, decodeRole, decodeUser, inBucket } from './proto.js'
import { decodeRevision } from './revision.js'

const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1')
const utf8 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')

/** The fast summary other commands (`status`, `check`) use. */
export interface DbSummary {
  /** meta/consistent_index: last applied raft index (0 when absent). */
  consistentIndex: bigint
  /** meta/term (3.5+), undefined when absent (3.4). */
  term?: bigint
  /** Main revision of the last key in `key` (etcdctl snapshot status `revision`). */
  revision: bigint
  /** meta/finishedCompactRev main (0 when never compacted). */
  compactRevision: bigint
  /** meta/scheduledCompactRev main (0 when absent). */
  scheduledCompactRevision: bigint
  members: Member[]
  removedMembers: { id: bigint | null; idHex: string }[]
  confState?: ConfState
  /** meta/storageVersion (3.6+). */
  storageVersion?: string
  /** cluster/clusterVersion, e.g. "3.4.0". */
  clusterVersion?: string
  /** Schema version per etcd's detection: storageVersion, else "3.5" with confState+term, else "3.4 or older". */
  schemaVersion: string
  /** Top-level bucket names in key order. */
  buckets: string[]
}

/**
 * The revision etcd resumes from on this db (mvcc kvstore restore, etcd-io/etcd@v3.4.0
 * mvcc/kvstore.go): the last key's revision, raised to the finished compaction, since a compaction
 * removes the tombstones at or below it and every key above the last live one may be gone. A
 * Kubernetes db often ends that way (its newest writes were deletes, compacted away): then etcd's
 * revision is above any key's.
 */
export function currentRevision(s: DbSummary): bigint {
  return s.compactRevision > s.revision ? s.compactRevision : s.revision
}

function readU64(db: BoltFile, b: BucketRoot, name: string): bigint | undefined {
  const e = get(db, b, Buffer.from(name, 'latin1'))
  return e ? decodeU64be(e.value, `meta/${name}`, db.file, e.pageOffset + e.at) : undefined
}

/** Decodes the schema summary. Missing buckets give empty/zero values (a plain bbolt file). */
export function readSummary(db: BoltFile): DbSummary {
  const names = buckets(db).map((b) => b.nameText)
  const s: DbSummary = {
    consistentIndex: 0n, revision: 0n, compactRevision: 0n, scheduledCompactRevision: 0n,
    members: [], removedMembers: [], schemaVersion: '3.4 or older', buckets: names,
  }
  const meta = bucket(db, 'meta')
  if (meta) {
    const b = meta.bucket
    s.consistentIndex = readU64(db, b, 'consistent_index') ?? 0n
    s.term = readU64(db, b, 'term')
    const fin = get(db, b, Buffer.from('finishedCompactRev'))
    if (fin) s.compactRevision = decodeCompactRev(fin.value, 'meta/finishedCompactRev', db.file, fin.pageOffset + fin.at)
    const sch = get(db, b, Buffer.from('scheduledCompactRev'))
    if (sch) s.scheduledCompactRevision = decodeCompactRev(sch.value, 'meta/scheduledCompactRev', db.file, sch.pageOffset + sch.at)
    const cs = get(db, b, Buffer.from('confState'))
    if (cs) s.confState = decodeConfState(cs.value, db.file, cs.pageOffset + cs.at)
    const sv = get(db, b, Buffer.from('storageVersion'))
    if (sv) s.storageVersion = utf8(sv.value)
    if (s.storageVersion) s.schemaVersion = s.storageVersion
    else if (cs && s.term !== undefined) s.schemaVersion = '3.5'
  }
  const key = bucket(db, 'key')
  if (key) {
    const e = last(db, key.bucket)
    if (e) s.revision = decodeRevision(e.key, db.file, e.pageOffset + e.at).main
  }
  const cluster = bucket(db, 'cluster')
  if (cluster) {
    const e = get(db, cluster.bucket, Buffer.from('clusterVersion'))
    if (e) s.clusterVersion = utf8(e.value)
  }
  const members = bucket(db, 'members')
  if (members) {
    for (const e of iterate(db, members.bucket, { name: 'members' })) {
      s.members.push(decodeMember(latin1(e.key), e.value, db.file, e.pageOffset + e.at))
    }
  }
  const removed = bucket(db, 'members_removed')
  if (removed) {
    for (const e of iterate(db, removed.bucket, { name: 'members_removed' })) s.removedMembers.push(decodeRemovedMember(latin1(e.key)))
  }
  return s
}

/** A lease as stored in the `lease` bucket. */
export interface LeaseInfo { /** etcdctl hex */ id: string; ttl: bigint; remainingTtl: bigint }
/** A user, password hash never included. */
export interface UserInfo { name: string; roles: string[]; password: string; noPassword: boolean }
export interface RoleInfo { name: string; permissions: { permType: string; key: string; rangeEnd: string }[] }
export interface AlarmInfo { /** etcdctl hex */ memberId: string; alarm: string }

/** Everything in the small buckets that `db status` shows beyond the summary. */
export interface SchemaDetails {
  leases: LeaseInfo[]
  auth: { enabled: boolean; revision?: bigint; users: UserInfo[]; roles: RoleInfo[] }
  alarms: AlarmInfo[]
  /** cluster/downgrade JSON (3.5+), as text. */
  downgrade?: string
}

/** Decodes leases, auth and alarms. */
export function readDetails(db: BoltFile): SchemaDetails {
  const d: SchemaDetails = { leases: [], auth: { enabled: false, users: [], roles: [] }, alarms: [] }
  const lease = bucket(db, 'lease')
  if (lease) {
    for (const e of iterate(db, lease.bucket, { name: 'lease' })) {
      const l = inBucket('lease', Buffer.from(e.key).toString('hex'), () => decodeLease(e.value, db.file, e.pageOffset))
      d.leases.push({ id: idHex(l.id), ttl: l.ttl, remainingTtl: l.remainingTtl })
    }
  }
  const auth = bucket(db, 'auth')
  if (auth) {
    const en = get(db, auth.bucket, Buffer.from('authEnabled'))
    d.auth.enabled = !!en && en.value.length === 1 && en.value[0] === 1
    const rev = get(db, auth.bucket, Buffer.from('authRevision'))
    if (rev) d.auth.revision = decodeU64be(rev.value, 'auth/authRevision', db.file, rev.pageOffset + rev.at)
  }
  const users = bucket(db, 'authUsers')
  if (users) {
    for (const e of iterate(db, users.bucket, { name: 'authUsers' })) {
      const u = inBucket('authUsers', latin1(e.key), () => decodeUser(e.value, db.file, e.pageOffset))
      d.auth.users.push({ name: u.name, roles: u.roles, password: u.hasPassword ? '<redacted>' : '', noPassword: u.noPassword })
    }
  }
  const roles = bucket(db, 'authRoles')
  if (roles) {
    for (const e of iterate(db, roles.bucket, { name: 'authRoles' })) {
      const r = inBucket('authRoles', latin1(e.key), () => decodeRole(e.value, db.file, e.pageOffset))
      d.auth.roles.push({ name: r.name, permissions: r.permissions.map((p) => ({ permType: p.permType, key: utf8(p.key), rangeEnd: utf8(p.rangeEnd) })) })
    }
  }
  const alarm = bucket(db, 'alarm')
  if (alarm) {
    for (const e of iterate(db, alarm.bucket, { name: 'alarm' })) {
      const a = inBucket('alarm', Buffer.from(e.key).toString('hex'), () => decodeAlarm(e.key, db.file, e.pageOffset))
      d.alarms.push({ memberId: idHex(a.memberId), alarm: a.alarm })
    }
  }
  const cluster = bucket(db, 'cluster')
  if (cluster) {
    const e = get(db, cluster.bucket, Buffer.from('downgrade'))
    if (e) d.downgrade = utf8(e.value)
  }
  return d
}

