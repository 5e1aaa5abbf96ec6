/**
 * What the WAL's entries say about versions (issue 11): the cluster version set in the log (a v2
 * `PUT /0/version` up to 3.4, `ClusterVersionSet` from 3.5), and, for the entries after the last
 * snapshot (the ones etcd replays at boot), the lowest etcd that can read them and whether v2
 * requests remain. Rules, upstream:
 *  - server/storage/wal/version.go (etcd 3.6) MinimalEtcdVersion: the highest `etcd_version`
 *    annotation of the messages, fields and enum values used by the entries since the last
 *    snapshot; EntryConfChange => 3.0, EntryConfChangeV2 => 3.4. Field annotations in
 *    api/etcdserverpb/raft_internal.proto: lease_checkpoint (11) 3.4, auth_status (1013) 3.5,
 *    cluster_version_set (1300), cluster_member_attr_set (1301), downgrade_info_set (1302) 3.5,
 *    downgrade_version_test (9900) 3.6; RequestHeader.auth_revision (3) 3.1,
 *    requester_member_id (4) 3.7; rpc.proto AuthUserAddRequest.hashed_password (4) and
 *    AuthUserChangePasswordRequest.hashed_password (3) 3.5.
 *  - etcd 3.6 applies a v2 Request only when it is a PUT of /0/members/<id>/attributes or of
 *    /0/version; any other v2 entry panics with "detected disallowed v2 WAL for stage
 *    --v2-deprecation=write-only" (server/etcdserver/apply_v2.go, v2ToV3Request).
 *  - etcd 3.7 (main) reserves InternalRaftRequest field 2 (`v2`): v2 entries no longer decode.
 * Read-only; damage is reported by the WAL integrity check of `status`, not here.
 */
import { DecodeError } from '../errors.js'
import { decodeEntryHeaderInto, decodePayload, EntryType, type EntryHeaderPos, type Request, type RequestHeader, type V2Request } from '../format/raft/entry.js'
import { matchPut, newPutShape } from '../format/raft/put-shape.js'
import { decodeWal } from '../format/wal/decoder.js'
import { FRAME_HEADER_BYTES } from '../format/wal/frame.js'
import { RecordType } from '../format/wal/record.js'
import { listWalDir, openSegments } from '../io/wal-files.js'

/** A version rule that applied, for the report: `3.5 (ClusterVersionSet at index 12)`. */
export interface VersionReason { version: string; because: string }

export interface WalEntryScan {
  /** Segments read: from the one covering `fromIndex` to the end. */
  fromSegment: string | null
  entriesRead: number
  /** The last cluster version the log sets, and how. */
  clusterVersion: { version: string; index: bigint; via: 'WAL v2 PUT /0/version' | 'WAL ClusterVersionSet' } | null
  /** Entries with index > `afterIndex` (the last snapshot): what etcd replays at boot. */
  afterSnapshot: {
    afterIndex: bigint
    entries: number
    /** v2 Request entries (bare, or wrapped in InternalRaftRequest.v2). */
    v2: number
    /** v2 entries etcd 3.6 refuses (anything but PUT /0/version and PUT /0/members/<id>/attributes). */
    v2Disallowed: number
    firstDisallowed: { index: bigint; method: string; path: string } | null
    /** MinimalEtcdVersion of these entries (null: none read). */
    minVersion: VersionReason | null
  }
  /** Why the scan stopped early (damage), or null. */
  stopped: string | null
}

const MEMBER_ATTRIBUTES = /^\/0\/members\/[0-9a-fA-F]{1,16}\/attributes$/

const FIELD_VERSIONS: Record<string, string> = {
  leaseCheckpoint: '3.4', authStatus: '3.5', clusterVersionSet: '3.5', clusterMemberAttrSet: '3.5', downgradeInfoSet: '3.5', downgradeVersionTest: '3.6',
}

// Called for every entry of the replay range: versions are parsed once (a split per call was a
// tenth of the scan's time).
const versionRank = new Map<string, number>()
const rank = (v: string): number => {
  let r = versionRank.get(v)
  if (r === undefined) {
    const [m, n] = v.split('.').map(Number)
    r = m! * 1000 + n!
    versionRank.set(v, r)
  }
  return r
}
const cmpVersion = (a: string, b: string): number => (a === b ? 0 : rank(a) - rank(b))

/** What `requestVersion` says of a put whose header carries only its id. */
const PUT: VersionReason = { version: '3.0', because: 'put request' }

/** The version.go rule for one request (with its header). */
function requestVersion(req: Request, header: RequestHeader | undefined): VersionReason {
  let best: VersionReason = { version: '3.0', because: `${req.kind} request` }
  const bump = (version: string, because: string): void => {
    if (cmpVersion(version, best.version) > 0) best = { version, because }
  }
  if (FIELD_VERSIONS[req.kind]) bump(FIELD_VERSIONS[req.kind]!, `${req.kind} request`)
  if ((req.kind === 'authUserAdd' || req.kind === 'authUserChangePassword') && (req as { hashedPassword?: unknown }).hashedPassword !== undefined) {
    bump('3.5', `${req.kind} with hashedPassword`)
  }
  if (header?.authRevision !== undefined && header.authRevision !== 0n) bump('3.1', 'RequestHeader.auth_revision')
  if (header?.requesterMemberId !== undefined && header.requesterMemberId !== 0n) bump('3.7', 'RequestHeader.requester_member_id')
  return best
}

/**
 * Reads the WAL from the segment covering `fromIndex` (the last snapshot; 0 or null: all) and
 * classifies every entry. Framing only, no CRC: the chain is the WAL reader's answer (`status`
 * reads the WAL first and skips this scan when it is corrupt; its default read CRC-checks the last
 * segment, `--all-wal-segments` every one), and computing it again here cost 4x the rest of the
 * scan (800 vs 160 ms over the 187 k entries of bench/.cache/wal6's boot range). Cost: one
 * framing pass and one payload decode per entry in that range.
 */
export function scanWalEntries(walDir: string, fromIndex: bigint | null): WalEntryScan {
  const listing = listWalDir(walDir)
  const after = fromIndex ?? 0n
  let start = 0
  for (let i = listing.segments.length - 1; i >= 0; i--) {
    if (listing.segments[i]!.index <= after) {
      start = i
      break
    }
  }
  const segs = listing.segments.slice(start)
  const out: WalEntryScan = {
    fromSegment: segs[0]?.name ?? null, entriesRead: 0, clusterVersion: null,
    afterSnapshot: { afterIndex: after, entries: 0, v2: 0, v2Disallowed: 0, firstDisallowed: null, minVersion: null },
    stopped: null,
  }
  if (segs.length === 0) return out
  const opened = openSegments(segs)
  const a = out.afterSnapshot
  const bump = (r: VersionReason, index: bigint): void => {
    if (!a.minVersion || cmpVersion(r.version, a.minVersion.version) > 0) a.minVersion = { version: r.version, because: `${r.because} at index ${index}` }
  }
  // The entry records straight from the frame reader: the same entries the log reader yields (its
  // per-entry bookkeeping of index continuity, terms and overwrites is the WAL reader's answer, not
  // this scan's, and cost half of it cold: 1.09 M-entry bench WAL).
  const e: EntryHeaderPos = { type: 0, term: 0n, index: 0n, dataStart: 0, dataEnd: 0 }
  const put = newPutShape()
  try {
    for (const ev of decodeWal(opened.segments, { verifyCrc: false })) {
      if (ev.kind !== 'record' || ev.type !== RecordType.Entry) continue
      const dataOff = ev.offset + FRAME_HEADER_BYTES + (ev.recBytes - (ev.dataEnd - ev.dataStart))
      try {
        decodeEntryHeaderInto(ev.buf, ev.dataStart, ev.dataEnd, ev.file, dataOff - ev.dataStart, e)
      } catch (err) {
        // The log reader reports such a record (bad-protobuf) and goes on without it.
        if (err instanceof DecodeError) continue
        throw err
      }
      out.entriesRead++
      // Nearly every entry is a plain put (header {id} only): decodePayload would return exactly
      // that put, which is neither a v2 request nor a version change, and needs etcd 3.0.
      if (e.type === EntryType.Normal && matchPut(ev.buf, e.dataStart, e.dataEnd, put)) {
        if (e.index > after) {
          a.entries++
          bump(PUT, e.index)
        }
        continue
      }
      const p = decodePayload(e.type, ev.buf.subarray(e.dataStart, e.dataEnd))
      const replay = e.index > after
      let v2: V2Request | null = null
      if (p.kind === 'v2Request') v2 = p.request
      else if (p.kind === 'irr' && p.request.kind === 'v2') v2 = p.request as V2Request
      if (v2) {
        if (v2.method === 'PUT' && v2.path === '/0/version' && typeof v2.val === 'string') {
          out.clusterVersion = { version: v2.val, index: e.index, via: 'WAL v2 PUT /0/version' }
        }
        if (replay) {
          a.v2++
          if (!(v2.method === 'PUT' && (v2.path === '/0/version' || MEMBER_ATTRIBUTES.test(v2.path)))) {
            a.v2Disallowed++
            a.firstDisallowed ??= { index: e.index, method: v2.method, path: v2.path }
          }
        }
      } else if (p.kind === 'irr' && p.request.kind === 'clusterVersionSet') {
        const ver = (p.request as { ver?: string }).ver
        if (ver) out.clusterVersion = { version: ver, index: e.index, via: 'WAL ClusterVersionSet' }
      }
      if (!replay) continue
      a.entries++
      if (e.type === EntryType.ConfChange) bump({ version: '3.0', because: 'EntryConfChange' }, e.index)
      else if (e.type === EntryType.ConfChangeV2) bump({ version: '3.4', because: 'EntryConfChangeV2' }, e.index)
      else if (p.kind === 'irr') bump(requestVersion(p.request, p.header), e.index)
      else bump({ version: '3.0', because: p.kind === 'noop' ? 'empty entry' : v2 ? 'v2 Request' : 'entry' }, e.index)
    }
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err
    out.stopped = err.message
  } finally {
    opened.close()
  }
  return out
}
