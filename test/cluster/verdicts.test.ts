/**
 * The decision table and the quorum rule on plain data (the live tests produce each verdict with
 * real etcd; these pin the order of the rules and the safety downgrades exactly).
 */
import { describe, expect, it } from 'vitest'
import { decide, DEFAULT_SNAPSHOT_COUNT, type CheckConfig } from '../../src/app/verdicts.js'
import { missingDirStatus } from '../../src/app/check.js'
import type { StatusResult } from '../../src/app/status-types.js'
import { analyseAnswers, quorumOf, type EndpointAnswer } from '../../src/cluster/view.js'
import { memberFrom, headerFrom } from '../../src/cluster/members.js'
import type { EndpointStatus } from '../../src/cluster/status.js'
import type { RaftStatus } from '../../src/cluster/debug-vars.js'

const CID = 0xc1n
const M = [0xa1n, 0xa2n, 0xa3n]
const peer = (i: number): string => `https://127.0.0.${i + 1}:2380`
const members = (ids = M, extra: { id: bigint; name: string; peer: string; learner?: boolean }[] = []) => [
  ...ids.map((id, i) => memberFrom({ ID: id.toString(), name: `m${i + 1}`, peerURLs: [peer(i)], clientURLs: [`https://127.0.0.${i + 1}:2379`], isLearner: false })),
  ...extra.map((e) => memberFrom({ ID: e.id.toString(), name: e.name, peerURLs: [e.peer], clientURLs: e.name ? ['https://127.0.0.9:2379'] : [], isLearner: !!e.learner })),
]

function answer(cluster: bigint, member: bigint, list: ReturnType<typeof members>, o: { leader?: bigint; raftIndex?: bigint; endpoint?: string } = {}): EndpointAnswer {
  const header = headerFrom({ cluster_id: cluster.toString(), member_id: member.toString(), raft_term: '5', revision: '0' })
  const status: EndpointStatus = { endpoint: o.endpoint ?? `https://x/${member}`, header, version: '3.4.23', dbSize: 1048576n, dbSizeInUse: 1n, leader: o.leader ?? M[0]!, leaderHex: (o.leader ?? M[0]!).toString(16), raftIndex: o.raftIndex ?? 1000n, raftTerm: 5n, raftAppliedIndex: 1000n, errors: [], isLearner: false }
  return { endpoint: status.endpoint, discovered: false, status, memberList: { endpoint: status.endpoint, header, members: list }, error: null }
}
const down = (endpoint: string, code = 'unreachable'): EndpointAnswer => ({ endpoint, discovered: false, status: null, memberList: null, error: { code, message: `${endpoint}: down` } })
const healthy = (list = members(), o: { raftIndex?: bigint } = {}) => analyseAnswers(M.map((id) => answer(CID, id, list, o)))

function dir(o: Partial<StatusResult> & { member?: bigint; cluster?: bigint; commit?: bigint; term?: bigint } = {}): StatusResult {
  const s = missingDirStatus('/data')
  const member = o.member ?? M[2]!
  const cluster = o.cluster ?? CID
  const commit = o.commit ?? 990n
  return {
    ...s, state: 'initialized', memberId: member.toString(16), clusterId: cluster.toString(16),
    hardState: { term: o.term ?? 5n, vote: '0', commit }, lastIndex: commit, snapshotIndex: 0n, consistentIndex: commit,
    integrity: { wal: { status: 'ok', detail: '' }, db: { status: 'ok', detail: '' }, invariants: [], ok: true },
    members: { ...s.members, db: [] }, findings: [], ...o,
  }
}
const config = (o: Partial<CheckConfig> = {}): CheckConfig => ({ dataDir: '/data', snapshotCount: DEFAULT_SNAPSHOT_COUNT, etcdctl: 'etcdctl', connectionFlags: '', ...o })
const run = (offline: StatusResult, view = healthy(), o: { config?: Partial<CheckConfig>; leader?: RaftStatus | null; witness?: never } = {}) =>
  decide({ offline, view, leaderProgress: o.leader ?? null, witness: o.witness ?? null, config: config(o.config) })

describe('quorum view', () => {
  it('q(n) = floor(n/2) + 1', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(quorumOf)).toEqual([1, 2, 2, 3, 3, 4, 4])
  })
  it('2 of 3 voters answering is a quorum; 1 of 3 is not', () => {
    const list = members()
    expect(analyseAnswers([answer(CID, M[0]!, list), answer(CID, M[1]!, list), down('https://c')]).primary?.clusterId).toBe(CID)
    const one = analyseAnswers([answer(CID, M[0]!, list), down('https://b'), down('https://c')])
    expect(one.primary).toBeNull()
    expect(one.failure).toBe('NO_QUORUM')
  })
  it('one stale endpoint of another cluster is ignored and reported', () => {
    const other = [memberFrom({ ID: '77', name: 'old', peerURLs: ['https://127.0.0.4:2380'], clientURLs: [], isLearner: false })]
    const v = analyseAnswers([...M.map((id) => answer(CID, id, members())), answer(0xdeadn, 77n, other, { leader: 77n, endpoint: 'https://stale' })])
    expect(v.primary?.clusterId).toBe(CID)
    expect(v.foreignEndpoints).toEqual(['https://stale'])
  })
  it('a stale endpoint alone never outweighs nothing: equal quorums conflict', () => {
    const a = [memberFrom({ ID: '1', name: 'a', peerURLs: ['https://a:2380'], clientURLs: [], isLearner: false })]
    const b = [memberFrom({ ID: '2', name: 'b', peerURLs: ['https://b:2380'], clientURLs: [], isLearner: false })]
    const v = analyseAnswers([answer(1n, 1n, a, { leader: 1n }), answer(2n, 2n, b, { leader: 2n })])
    expect(v.primary).toBeNull()
    expect(v.failure).toBe('CONFLICTING_CLUSTERS')
  })
  it('no answers: UNREACHABLE, AUTH or TLS', () => {
    expect(analyseAnswers([down('a'), down('b')]).failure).toBe('UNREACHABLE')
    expect(analyseAnswers([down('a', 'auth')]).failure).toBe('AUTH')
    expect(analyseAnswers([down('a', 'tls-unknown-authority'), down('b', 'tls-client-cert')]).failure).toBe('TLS')
  })
})

describe('verdict order', () => {
  it('OK, then the witness write is up to the caller', () => {
    const d = run(dir())
    expect([d.verdict, d.exitCode]).toEqual(['OK', 0])
  })
  it('IN_USE beats CORRUPT; CORRUPT beats everything online', () => {
    const locked = dir({ inUse: { checked: true, held: true, locks: [{ file: 'member/snap/db', lockClass: 'FLOCK', access: 'WRITE', pid: 42, command: 'etcd' }] }, integrity: { ...dir().integrity, ok: false } })
    expect(run(locked).verdict).toBe('IN_USE')
    const bad = dir({ integrity: { wal: { status: 'corrupt', detail: 'crc' }, db: { status: 'ok', detail: '' }, invariants: [], ok: false }, findings: [{ severity: 'error', code: 'crc-mismatch', file: 'member/wal/0.wal', offset: 4096, detail: 'wal: crc mismatch' }] })
    const d = run(bad, analyseAnswers([down('a')]))
    expect([d.verdict, d.subReason, d.exitCode]).toEqual(['CORRUPT', 'WAL', 20])
    expect(d.reason).toBe('crc-mismatch member/wal/0.wal@4096: wal: crc mismatch')
  })
  it('a db that cannot be read: permission denied is UNKNOWN/OFFLINE_UNREADABLE, anything else (a directory) is CORRUPT; never an online verdict', () => {
    const unreadableDb = (code: string, severity: 'error' | 'warning') => dir({
      integrity: { wal: { status: 'ok', detail: '' }, db: { status: 'unavailable', detail: `/data/member/snap/db: ${code}` }, invariants: [], ok: true },
      findings: [{ severity, code, detail: `/data/member/snap/db: ${code}` }],
    })
    const perm = run(unreadableDb('permission', 'error'))
    expect([perm.verdict, perm.subReason, perm.commands]).toEqual(['UNKNOWN', 'OFFLINE_UNREADABLE', ['etcd-inspect status /data']])
    const missingReader = run(unreadableDb('unavailable', 'warning'))
    expect([missingReader.verdict, missingReader.subReason]).toEqual(['UNKNOWN', 'OFFLINE_UNREADABLE'])
    const isDir = run(unreadableDb('not-a-file', 'error'))
    expect([isDir.verdict, isDir.subReason, isDir.exitCode]).toEqual(['CORRUPT', 'DB', 20])
    expect(isDir.reason).toBe('not-a-file: /data/member/snap/db: not-a-file')
  })
  it('UNKNOWN without a quorum, with the witness hint', () => {
    const d = run(dir(), analyseAnswers([down('a'), down('b')]))
    expect([d.verdict, d.subReason, d.exitCode]).toEqual(['UNKNOWN', 'UNREACHABLE', 30])
  })
  it('empty dir: NOT_ADDED, READY_TO_JOIN, DATA_LOST, CONFIG_DRIFT for new', () => {
    const empty = missingDirStatus('/data')
    expect(run(empty, healthy(), { config: { peerURLs: ['https://127.0.0.8:2380'] } }).verdict).toBe('EMPTY_NOT_ADDED')
    const added = healthy(members(M, [{ id: 0xb1n, name: '', peer: 'https://127.0.0.8:2380', learner: true }]))
    expect(run(empty, added, { config: { peerURLs: ['https://127.0.0.8:2380'] } }).verdict).toBe('EMPTY_READY_TO_JOIN')
    expect(run(empty, added, { config: { peerURLs: ['https://127.0.0.8:2380'], initialClusterState: 'new' } }).verdict).toBe('CONFIG_DRIFT')
    expect(run(empty, healthy(), { config: { peerURLs: [peer(0)] } }).verdict).toBe('DATA_LOST')
    expect(run(empty, healthy()).subReason).toBe('NO_PEER_URLS')
  })
  it('FOREIGN_CLUSTER, REMOVED_MEMBER, REPLACED', () => {
    expect(run(dir({ cluster: 0xfen })).verdict).toBe('FOREIGN_CLUSTER')
    const gone = members([M[0]!, M[1]!])
    const removed = analyseAnswers([answer(CID, M[0]!, gone), answer(CID, M[1]!, gone)])
    expect(run(dir(), removed).verdict).toBe('REMOVED_MEMBER')
    const replaced = members([M[0]!, M[1]!], [{ id: 0xb2n, name: '', peer: peer(2), learner: true }])
    const d = run(dir(), analyseAnswers([answer(CID, M[0]!, replaced), answer(CID, M[1]!, replaced)]), { config: { peerURLs: [peer(2)] } })
    expect([d.verdict, d.subReason]).toEqual(['REMOVED_MEMBER', 'REPLACED'])
  })
  it('FOREIGN_CLUSTER: the way back in depends on who holds this host\'s peer URL', () => {
    const foreign = dir({ cluster: 0xfen, member: 0xf1n })
    // Nobody: archive, add as a learner.
    const fresh = run(foreign, healthy(), { config: { name: 'm9', peerURLs: ['https://127.0.0.9:2380'] } })
    expect(fresh.commands.slice(1)).toEqual(['etcdctl member add m9 --peer-urls=https://127.0.0.9:2380 --learner'])
    // m3 owns it and is down: its data is not in this dir; remove it first, or the add is refused.
    const stopped = analyseAnswers([answer(CID, M[0]!, members()), answer(CID, M[1]!, members()), down('https://127.0.0.3:2379')])
    const gone = run(foreign, stopped, { config: { name: 'm3', peerURLs: [peer(2)] } })
    expect([gone.verdict, gone.commands.length]).toEqual(['FOREIGN_CLUSTER', 3])
    expect(gone.commands[0]).toMatch(/^mv \/data \/data\.removed-f1-/)
    expect(gone.commands.slice(1)).toEqual(['etcdctl member remove a3', `etcdctl member add m3 --peer-urls=${peer(2)} --learner`])
    // m3 owns it and answers: nothing is removed or added.
    const running = run(foreign, healthy(), { config: { name: 'm3', peerURLs: [peer(2)] } })
    expect(running.commands).toHaveLength(1)
    expect(running.next).toContain('find out which host runs it')
    // Added and never started: archive, then start with the printed settings.
    const added = healthy(members(M, [{ id: 0xb1n, name: '', peer: 'https://127.0.0.8:2380', learner: true }]))
    const ready = run(foreign, added, { config: { name: 'm9', peerURLs: ['https://127.0.0.8:2380'] } })
    expect(ready.commands.slice(1)).toEqual(['ETCD_INITIAL_CLUSTER_STATE=existing', `ETCD_INITIAL_CLUSTER=m1=${peer(0)},m2=${peer(1)},m3=${peer(2)},m9=https://127.0.0.8:2380`])
  })
  it('a stale endpoint downgrades destructive verdicts to UNKNOWN', () => {
    const gone = members([M[0]!, M[1]!])
    const other = [memberFrom({ ID: '77', name: 'old', peerURLs: ['https://127.0.0.4:2380'], clientURLs: [], isLearner: false })]
    const v = analyseAnswers([answer(CID, M[0]!, gone), answer(CID, M[1]!, gone), answer(0xdeadn, 77n, other, { leader: 77n, endpoint: 'https://stale' })])
    const d = run(dir(), v)
    expect([d.verdict, d.subReason, d.wouldBe, d.exitCode]).toEqual(['UNKNOWN', 'CONFLICTING_CLUSTERS', 'REMOVED_MEMBER', 30])
    expect(d.commands).toEqual([])
    // Non-destructive verdicts stay, with a warning.
    const ok = run(dir(), analyseAnswers([...M.map((id) => answer(CID, id, members())), answer(0xdeadn, 77n, other, { leader: 77n, endpoint: 'https://stale' })]))
    expect(ok.verdict).toBe('OK')
    expect(ok.warnings[0]).toContain('https://stale')
  })
  it('a dead configured endpoint outside the answering cluster blocks destructive verdicts', () => {
    // Only a one-member (stale) cluster answers; the dir's real cluster is down.
    const other = [memberFrom({ ID: '77', name: 'old', peerURLs: ['https://127.0.0.4:2380'], clientURLs: ['https://127.0.0.4:2379'], isLearner: false })]
    const v = analyseAnswers([answer(0xdeadn, 77n, other, { leader: 77n, endpoint: 'https://127.0.0.4:2379' }), down('https://127.0.0.1:2379'), down('https://127.0.0.2:2379')])
    const d = run(dir(), v)
    expect([d.verdict, d.subReason, d.wouldBe]).toEqual(['UNKNOWN', 'UNACCOUNTED_ENDPOINTS', 'FOREIGN_CLUSTER'])
    // A down endpoint that is a member of the answering cluster is accounted for.
    const list = members()
    const ok = analyseAnswers([answer(CID, M[0]!, list, { endpoint: 'https://127.0.0.1:2379' }), answer(CID, M[1]!, list, { endpoint: 'https://127.0.0.2:2379' }), down('https://127.0.0.3:2379')])
    expect(run(dir({ cluster: 0xfen }), ok).verdict).toBe('FOREIGN_CLUSTER')
  })

  it('ROLLED_BACK by leader progress and by the witness; DIVERGED; BEHIND; LEARNER', () => {
    const lp: RaftStatus = { endpoint: 'l', id: M[0]!, idHex: 'a1', term: 5n, commit: 1000n, applied: 1000n, lead: M[0]!, raftState: 'StateLeader', progress: [{ id: M[2]!, idHex: 'a3', match: 995n, next: 996n, state: 'StateProbe' }] }
    expect(run(dir(), healthy(), { leader: lp }).subReason).toBe('LEADER_PROGRESS')
    const w = { version: 1, clusterId: 'c1', memberId: 'a3', name: 'm3', peerURLs: [], lastSeenCommit: 995n, lastSeenTerm: 5n, lastIndex: 995n, revision: null, clusterRaftIndex: 995n, dataDir: '/data', host: 'h', ts: 't' } as never
    expect(run(dir(), healthy(), { witness: w }).subReason).toBe('WITNESS')
    expect(run(dir({ commit: 2000n })).verdict).toBe('DIVERGED')
    const far = run(dir({ commit: 10n }), healthy(members(), { raftIndex: 200_000n }))
    expect([far.verdict, far.exitCode]).toEqual(['BEHIND_NEEDS_SNAPSHOT', 1])
    expect(far.reason).toContain('about 1.0 MiB (1048576 bytes)')
    const withLearner = healthy(members(M, [{ id: 0xb3n, name: 'm4', peer: peer(3), learner: true }]))
    expect(run(dir({ member: 0xb3n }), withLearner).verdict).toBe('LEARNER_PENDING')
  })
  it('CONFIG_DRIFT and IDENTITY_MISMATCH need the configured URLs', () => {
    // The member is stopped (about to be started): it does not answer.
    const stopped = analyseAnswers([answer(CID, M[0]!, members()), answer(CID, M[1]!, members()), down('https://127.0.0.3:2379')])
    const drift = run(dir(), stopped, { config: { peerURLs: ['https://127.0.0.9:2380'] } })
    expect([drift.verdict, drift.subReason]).toEqual(['CONFIG_DRIFT', 'PEER_URLS'])
    expect(run(dir(), stopped, { config: { name: 'other' } }).subReason).toBe('NAME')
    // The member with the dir's ID answers Status elsewhere: two processes, one ID.
    const live = analyseAnswers(M.map((id, i) => answer(CID, id, members(), { endpoint: `https://127.0.0.${i + 1}:2379` })))
    const im = run(dir(), live, { config: { peerURLs: ['https://127.0.0.9:2380'] } })
    expect([im.verdict, im.exitCode]).toEqual(['IDENTITY_MISMATCH', 24])
  })
})
