/**
 * The `members` and `members_removed` buckets (etcd 3.4 etcdserver/api/membership/store.go,
 * 3.6 server/storage/schema/membership.go). Keys are member IDs as unpadded lowercase hex; a
 * `members` value is the JSON of membership.Member:
 *   {"id":<uint64>,"peerURLs":[…],"name":"…","clientURLs":[…],"isLearner":true?}
 * and a `members_removed` value is the string "removed".
 */
import { DecodeError } from '../../errors.js'
import { idHex } from '../ids.js'
import { parseJsonExact, toBigInt } from './json.js'

/** One member as stored in the backend. */
export interface Member {
  /** Exact member ID. */
  id: bigint
  /** etcdctl-style hex. */
  idHex: string
  name: string
  peerURLs: string[]
  clientURLs: string[]
  isLearner: boolean
}

/** Decodes one `members` entry; `keyText` is the hex key. */
export function decodeMember(keyText: string, value: Uint8Array, file: string, offset: number): Member {
  let j: Record<string, unknown>
  try {
    j = parseJsonExact(Buffer.from(value).toString('utf8')) as Record<string, unknown>
  } catch (e) {
    throw new DecodeError(file, offset, 'bad-member', `members/${keyText}: value is not JSON (${(e as Error).message})`)
  }
  const fromKey = /^[0-9a-f]{1,16}$/.test(keyText) ? BigInt('0x' + keyText) : undefined
  const id = toBigInt(j?.id) ?? fromKey
  if (id === undefined) {
    throw new DecodeError(file, offset, 'bad-member', `members/${keyText}: no member id in the key or the JSON`)
  }
  const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [])
  return {
    id: BigInt.asUintN(64, id),
    idHex: idHex(id),
    name: typeof j.name === 'string' ? j.name : '',
    peerURLs: strings(j.peerURLs),
    clientURLs: strings(j.clientURLs),
    isLearner: j.isLearner === true,
  }
}

/** Decodes a `members_removed` key (hex member ID). */
export function decodeRemovedMember(keyText: string): { id: bigint | null; idHex: string } {
  return /^[0-9a-f]{1,16}$/.test(keyText) ? { id: BigInt('0x' + keyText), idHex: keyText } : { id: null, idHex: keyText }
}
