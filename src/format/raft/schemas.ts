/**
 * Schemas of the messages inside WAL records and entries, with upstream field numbers:
 * raftpb (etcd-io/raft@v3.6.0:raftpb/raft.proto), etcdserverpb (etcd-io/etcd@v3.6.0:
 * api/etcdserverpb/{raft_internal.proto,rpc.proto,etcdserver.proto}), authpb, membershippb,
 * walpb.Snapshot. Every field Go knows is listed, so validation is as strict as Go's Unmarshal
 * for nested messages too (FORMATS §3.3–3.6).
 */
import { msg, type Schema } from './pb.js'

// raftpb
export const ConfState: Schema = msg('raftpb.ConfState', {
  1: ['voters', 'uint64', undefined, true], 2: ['learners', 'uint64', undefined, true],
  3: ['votersOutgoing', 'uint64', undefined, true], 4: ['learnersNext', 'uint64', undefined, true], 5: ['autoLeave', 'bool'],
})
export const HardState: Schema = msg('raftpb.HardState', { 1: ['term', 'uint64'], 2: ['vote', 'uint64'], 3: ['commit', 'uint64'] })
export const ConfChange: Schema = msg('raftpb.ConfChange', { 1: ['id', 'uint64'], 2: ['type', 'enum'], 3: ['nodeId', 'uint64'], 4: ['context', 'bytes'] })
export const ConfChangeSingle: Schema = msg('raftpb.ConfChangeSingle', { 1: ['type', 'enum'], 2: ['nodeId', 'uint64'] })
export const ConfChangeV2: Schema = msg('raftpb.ConfChangeV2', {
  1: ['transition', 'enum'], 2: ['changes', 'message', () => ConfChangeSingle, true], 3: ['context', 'bytes'],
})
// walpb / etcdserverpb records
export const WalSnapshot: Schema = msg('walpb.Snapshot', { 1: ['index', 'uint64'], 2: ['term', 'uint64'], 3: ['confState', 'message', () => ConfState] })
export const Metadata: Schema = msg('etcdserverpb.Metadata', { 1: ['nodeId', 'uint64'], 2: ['clusterId', 'uint64'] })

// etcdserverpb v2 Request (proto2)
export const V2Request: Schema = msg('etcdserverpb.Request', {
  1: ['id', 'uint64'], 2: ['method', 'string'], 3: ['path', 'string'], 4: ['val', 'string'], 5: ['dir', 'bool'],
  6: ['prevValue', 'string'], 7: ['prevIndex', 'uint64'], 8: ['prevExist', 'bool'], 9: ['expiration', 'int64'],
  10: ['wait', 'bool'], 11: ['since', 'uint64'], 12: ['recursive', 'bool'], 13: ['sorted', 'bool'], 14: ['quorum', 'bool'],
  15: ['time', 'int64'], 16: ['stream', 'bool'], 17: ['refresh', 'bool'],
})

// rpc.proto
export const RequestHeader: Schema = msg('etcdserverpb.RequestHeader', {
  1: ['id', 'uint64'], 2: ['username', 'string'], 3: ['authRevision', 'uint64'], 4: ['requesterMemberId', 'uint64'],
})
export const RangeRequest: Schema = msg('etcdserverpb.RangeRequest', {
  1: ['key', 'bytes'], 2: ['rangeEnd', 'bytes'], 3: ['limit', 'int64'], 4: ['revision', 'int64'], 5: ['sortOrder', 'enum'],
  6: ['sortTarget', 'enum'], 7: ['serializable', 'bool'], 8: ['keysOnly', 'bool'], 9: ['countOnly', 'bool'],
  10: ['minModRevision', 'int64'], 11: ['maxModRevision', 'int64'], 12: ['minCreateRevision', 'int64'], 13: ['maxCreateRevision', 'int64'],
})
export const PutRequest: Schema = msg('etcdserverpb.PutRequest', {
  1: ['key', 'bytes'], 2: ['value', 'bytes'], 3: ['lease', 'int64'], 4: ['prevKv', 'bool'], 5: ['ignoreValue', 'bool'], 6: ['ignoreLease', 'bool'],
})
export const DeleteRangeRequest: Schema = msg('etcdserverpb.DeleteRangeRequest', { 1: ['key', 'bytes'], 2: ['rangeEnd', 'bytes'], 3: ['prevKv', 'bool'] })
export const RequestOp: Schema = msg('etcdserverpb.RequestOp', {
  1: ['requestRange', 'message', () => RangeRequest], 2: ['requestPut', 'message', () => PutRequest],
  3: ['requestDeleteRange', 'message', () => DeleteRangeRequest], 4: ['requestTxn', 'message', () => TxnRequest],
})
export const Compare: Schema = msg('etcdserverpb.Compare', {
  1: ['result', 'enum'], 2: ['target', 'enum'], 3: ['key', 'bytes'], 4: ['version', 'int64'], 5: ['createRevision', 'int64'],
  6: ['modRevision', 'int64'], 7: ['value', 'bytes'], 8: ['lease', 'int64'], 64: ['rangeEnd', 'bytes'],
})
export const TxnRequest: Schema = msg('etcdserverpb.TxnRequest', {
  1: ['compare', 'message', () => Compare, true], 2: ['success', 'message', () => RequestOp, true], 3: ['failure', 'message', () => RequestOp, true],
})
export const CompactionRequest: Schema = msg('etcdserverpb.CompactionRequest', { 1: ['revision', 'int64'], 2: ['physical', 'bool'] })
export const LeaseGrantRequest: Schema = msg('etcdserverpb.LeaseGrantRequest', { 1: ['ttl', 'int64'], 2: ['id', 'int64'] })
export const LeaseRevokeRequest: Schema = msg('etcdserverpb.LeaseRevokeRequest', { 1: ['id', 'int64'] })
export const LeaseCheckpoint: Schema = msg('etcdserverpb.LeaseCheckpoint', { 1: ['id', 'int64'], 2: ['remainingTtl', 'int64'] })
export const LeaseCheckpointRequest: Schema = msg('etcdserverpb.LeaseCheckpointRequest', { 1: ['checkpoints', 'message', () => LeaseCheckpoint, true] })
export const AlarmRequest: Schema = msg('etcdserverpb.AlarmRequest', { 1: ['action', 'enum'], 2: ['memberId', 'uint64'], 3: ['alarm', 'enum'] })
const Empty = (name: string): Schema => msg(name, {})
export const InternalAuthenticateRequest: Schema = msg('etcdserverpb.InternalAuthenticateRequest', {
  1: ['name', 'string'], 2: ['password', 'string'], 3: ['simpleToken', 'string'],
})
export const UserAddOptions: Schema = msg('authpb.UserAddOptions', { 1: ['noPassword', 'bool'] })
export const Permission: Schema = msg('authpb.Permission', { 1: ['permType', 'enum'], 2: ['key', 'bytes'], 3: ['rangeEnd', 'bytes'] })
export const AuthUserAddRequest: Schema = msg('etcdserverpb.AuthUserAddRequest', {
  1: ['name', 'string'], 2: ['password', 'string'], 3: ['options', 'message', () => UserAddOptions], 4: ['hashedPassword', 'string'],
})
export const AuthUserChangePasswordRequest: Schema = msg('etcdserverpb.AuthUserChangePasswordRequest', {
  1: ['name', 'string'], 2: ['password', 'string'], 3: ['hashedPassword', 'string'],
})
const NameOnly = (name: string, field: string): Schema => msg(name, { 1: [field, 'string'] })
export const AuthUserGrantRoleRequest: Schema = msg('etcdserverpb.AuthUserGrantRoleRequest', { 1: ['user', 'string'], 2: ['role', 'string'] })
export const AuthUserRevokeRoleRequest: Schema = msg('etcdserverpb.AuthUserRevokeRoleRequest', { 1: ['name', 'string'], 2: ['role', 'string'] })
export const AuthRoleGrantPermissionRequest: Schema = msg('etcdserverpb.AuthRoleGrantPermissionRequest', {
  1: ['name', 'string'], 2: ['perm', 'message', () => Permission],
})
export const AuthRoleRevokePermissionRequest: Schema = msg('etcdserverpb.AuthRoleRevokePermissionRequest', {
  1: ['role', 'string'], 2: ['key', 'bytes'], 3: ['rangeEnd', 'bytes'],
})
// membershippb
export const Attributes: Schema = msg('membershippb.Attributes', { 1: ['name', 'string'], 2: ['clientUrls', 'string', undefined, true] })
export const ClusterVersionSetRequest: Schema = msg('membershippb.ClusterVersionSetRequest', { 1: ['ver', 'string'] })
export const ClusterMemberAttrSetRequest: Schema = msg('membershippb.ClusterMemberAttrSetRequest', {
  1: ['memberId', 'uint64'], 2: ['memberAttributes', 'message', () => Attributes],
})
export const DowngradeInfoSetRequest: Schema = msg('membershippb.DowngradeInfoSetRequest', { 1: ['enabled', 'bool'], 2: ['ver', 'string'] })

/**
 * InternalRaftRequest field number → [request kind (JSON `request.kind`), schema]. The kind is the
 * upstream field name in camelCase.
 */
export const IrrRequests: ReadonlyArray<readonly [number, string, Schema]> = [
  [2, 'v2', V2Request],
  [3, 'range', RangeRequest],
  [4, 'put', PutRequest],
  [5, 'deleteRange', DeleteRangeRequest],
  [6, 'txn', TxnRequest],
  [7, 'compaction', CompactionRequest],
  [8, 'leaseGrant', LeaseGrantRequest],
  [9, 'leaseRevoke', LeaseRevokeRequest],
  [10, 'alarm', AlarmRequest],
  [11, 'leaseCheckpoint', LeaseCheckpointRequest],
  [1000, 'authEnable', Empty('etcdserverpb.AuthEnableRequest')],
  [1011, 'authDisable', Empty('etcdserverpb.AuthDisableRequest')],
  [1012, 'authenticate', InternalAuthenticateRequest],
  [1013, 'authStatus', Empty('etcdserverpb.AuthStatusRequest')],
  [1100, 'authUserAdd', AuthUserAddRequest],
  [1101, 'authUserDelete', NameOnly('etcdserverpb.AuthUserDeleteRequest', 'name')],
  [1102, 'authUserGet', NameOnly('etcdserverpb.AuthUserGetRequest', 'name')],
  [1103, 'authUserChangePassword', AuthUserChangePasswordRequest],
  [1104, 'authUserGrantRole', AuthUserGrantRoleRequest],
  [1105, 'authUserRevokeRole', AuthUserRevokeRoleRequest],
  [1106, 'authUserList', Empty('etcdserverpb.AuthUserListRequest')],
  [1107, 'authRoleList', Empty('etcdserverpb.AuthRoleListRequest')],
  [1200, 'authRoleAdd', NameOnly('etcdserverpb.AuthRoleAddRequest', 'name')],
  [1201, 'authRoleDelete', NameOnly('etcdserverpb.AuthRoleDeleteRequest', 'role')],
  [1202, 'authRoleGet', NameOnly('etcdserverpb.AuthRoleGetRequest', 'role')],
  [1203, 'authRoleGrantPermission', AuthRoleGrantPermissionRequest],
  [1204, 'authRoleRevokePermission', AuthRoleRevokePermissionRequest],
  [1300, 'clusterVersionSet', ClusterVersionSetRequest],
  [1301, 'clusterMemberAttrSet', ClusterMemberAttrSetRequest],
  [1302, 'downgradeInfoSet', DowngradeInfoSetRequest],
  [9900, 'downgradeVersionTest', NameOnly('etcdserverpb.DowngradeVersionTestRequest', 'ver')],
]

const irrFields: Record<number, [string, 'message' | 'uint64', (() => Schema)?]> = { 1: ['id', 'uint64'], 100: ['header', 'message', () => RequestHeader] }
for (const [n, kind, s] of IrrRequests) irrFields[n] = [kind, 'message', () => s]
export const InternalRaftRequest: Schema = msg('etcdserverpb.InternalRaftRequest', irrFields)
