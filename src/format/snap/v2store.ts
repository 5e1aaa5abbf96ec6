/**
 * Summary of the v2 store JSON carried in `raftpb.Snapshot.data` of a `.snap` file.
 * Mirrors etcd-io/etcd server/etcdserver/api/v2store/{store.go,node.go} (`store.Save` =
 * json.Marshal of the cloned store) and api/membership/store.go (the `/0` layout):
 *
 *   {"Root":{"Path":"/", ..., "Children":{
 *      "0":{ "Children":{ "members":{ "Children":{ "<hex id>":{ "Children":{
 *                "raftAttributes":{"Value":"{\"peerURLs\":[...],\"isLearner\":true}"},
 *                "attributes":{"Value":"{\"name\":\"..\",\"clientURLs\":[...]}"} }}}},
 *            "removed_members":{ "Children":{ "<hex id>":{"Value":"removed"} }},
 *            "version":{"Value":"3.4.0"} }},
 *      "1":{ ... v2 keys ... }}},
 *   "WatcherHub":{...}, "CurrentIndex":N, "Stats":{...}, "CurrentVersion":2}
 *
 * A node is a directory when `Children` is an object (possibly empty) and a key when it is null.
 * Up to 3.5 the whole store is cloned; 3.6/3.7 write only `/0` (FORMATS.md §4.1). Integers are
 * parsed exactly (json-big.ts); member IDs come from the hex path component.
 */
import { DecodeError } from '../../errors.js'
import { idHex } from '../ids.js'
import type { Member } from '../backend/members.js'
import { isJsonObject, parseJsonBig, type JsonBig } from './json-big.js'

/**
 * One member as the v2 membership copy under `/0/members` knows it: the backend's shape, with the
 * ID from the hex path component and `name` from `attributes` (empty when the member was added but
 * never published its attributes).
 */
export type V2Member = Member

/** What the v2 store of one `.snap` file holds, without its v2 values. */
export interface V2StoreSummary {
  /** `CurrentIndex` of the store (the raft index of the last applied v2 write). */
  currentIndex: bigint | null
  /** `CurrentVersion`: the v2 store format version (2). */
  storeVersion: bigint | null
  /** `/0/version`: the cluster version the members agreed on, e.g. "3.4.0". */
  clusterVersion: string | null
  members: V2Member[]
  /** `/0/removed_members/<hex>`: IDs that may never rejoin. */
  removedMembers: { id: bigint; idHex: string }[]
  /** Number of v2 keys (non-directory nodes) under `/1`; null when `/1` is absent (3.6+ stores). */
  v2Keys: number | null
  /** Number of v2 directories under `/1` (not counting `/1` itself); null when `/1` is absent. */
  v2Dirs: number | null
}

const utf8 = new TextDecoder('utf-8', { fatal: false })

/**
 * Summarises the v2 store JSON `data` (bytes of `raftpb.Snapshot.data`).
 * @param base file offset of data[0], so errors carry absolute offsets
 */
export function summarizeV2Store(data: Uint8Array, file = '<snap>', base = 0): V2StoreSummary {
  const text = utf8.decode(data)
  let root: JsonBig
  try {
    root = parseJsonBig(text, file, 0)
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err
    // parseJsonBig counts UTF-16 code units; report the byte offset of the same character.
    const at = Buffer.byteLength(text.slice(0, err.offset), 'utf8')
    throw new DecodeError(file, base + at, 'bad-v2store', `snap: v2 store is not valid JSON: ${err.detail}`,
      'the raft snapshot payload is damaged; etcd would fail to recover its v2 store from this file')
  }
  const bad = (detail: string): never => {
    throw new DecodeError(file, base, 'bad-v2store', `snap: v2 store: ${detail}`,
      'the raft snapshot payload is not an etcd v2 store; etcd would fail to recover from this file')
  }
  if (!isJsonObject(root)) return bad('expected a JSON object')
  const top = root.Root
  if (!isJsonObject(top)) return bad('no "Root" node')
  const children = nodeChildren(top)
  if (children === undefined) return bad('"Root" is not a directory')

  const summary: V2StoreSummary = {
    currentIndex: typeof root.CurrentIndex === 'bigint' ? root.CurrentIndex : null,
    storeVersion: typeof root.CurrentVersion === 'bigint' ? root.CurrentVersion : null,
    clusterVersion: null,
    members: [],
    removedMembers: [],
    v2Keys: null,
    v2Dirs: null,
  }

  const zero = children['0']
  const zeroKids = isJsonObject(zero) ? nodeChildren(zero) : undefined
  if (zeroKids) {
    const version = zeroKids.version
    if (isJsonObject(version) && typeof version.Value === 'string') summary.clusterVersion = version.Value
    const members = isJsonObject(zeroKids.members) ? nodeChildren(zeroKids.members) : undefined
    for (const [key, node] of Object.entries(members ?? {})) {
      const id = hexId(key)
      if (id === undefined || !isJsonObject(node)) continue
      summary.members.push(readMember(id, nodeChildren(node) ?? {}, file, base))
    }
    const removed = isJsonObject(zeroKids.removed_members) ? nodeChildren(zeroKids.removed_members) : undefined
    for (const key of Object.keys(removed ?? {})) {
      const id = hexId(key)
      if (id !== undefined) summary.removedMembers.push({ id, idHex: idHex(id) })
    }
    summary.members.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    summary.removedMembers.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }

  const one = children['1']
  if (isJsonObject(one) && nodeChildren(one)) {
    const counts = { keys: 0, dirs: 0 }
    countNodes(one, counts)
    summary.v2Keys = counts.keys
    summary.v2Dirs = counts.dirs - 1
  }
  return summary
}

/** The `Children` map of a directory node, or undefined for a key node. */
function nodeChildren(node: { [k: string]: JsonBig }): { [k: string]: JsonBig } | undefined {
  const c = node.Children
  return isJsonObject(c) ? c : undefined
}

function hexId(s: string): bigint | undefined {
  return /^[0-9a-f]{1,16}$/.test(s) ? BigInt('0x' + s) : undefined
}

function countNodes(node: { [k: string]: JsonBig }, counts: { keys: number; dirs: number }): void {
  const kids = nodeChildren(node)
  if (!kids) {
    counts.keys++
    return
  }
  counts.dirs++
  // Depth is bounded by the JSON parser's nesting limit; this recursion follows the same tree.
  for (const child of Object.values(kids)) if (isJsonObject(child)) countNodes(child, counts)
}

function readMember(id: bigint, kids: { [k: string]: JsonBig }, file: string, base: number): V2Member {
  const m: V2Member = { id, idHex: idHex(id), name: '', peerURLs: [], clientURLs: [], isLearner: false }
  const raft = valueJson(kids.raftAttributes, file, base)
  if (raft) {
    m.peerURLs = stringList(raft.peerURLs)
    m.isLearner = raft.isLearner === true
  }
  const attrs = valueJson(kids.attributes, file, base)
  if (attrs) {
    if (typeof attrs.name === 'string') m.name = attrs.name
    m.clientURLs = stringList(attrs.clientURLs)
  }
  return m
}

/** Parses the JSON held in a key node's `Value`; undefined when absent or not an object. */
function valueJson(node: JsonBig | undefined, file: string, base: number): { [k: string]: JsonBig } | undefined {
  if (!isJsonObject(node) || typeof node.Value !== 'string') return undefined
  try {
    const v = parseJsonBig(node.Value, file, base)
    return isJsonObject(v) ? v : undefined
  } catch {
    // A damaged attribute value hides one member field; the summary keeps the rest.
    return undefined
  }
}

function stringList(v: JsonBig | undefined): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
}
