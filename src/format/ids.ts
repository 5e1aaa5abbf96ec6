/**
 * 64-bit identifiers. etcd prints member, cluster and lease IDs with `strconv.FormatUint(id, 16)`:
 * lowercase hex, no zero padding (client/pkg/types/id.go). Compare IDs as bigint, never as strings.
 */

/** etcdctl-style hex: lowercase, unpadded. */
export function idHex(id: bigint): string {
  return BigInt.asUintN(64, id).toString(16)
}

/** `%016x`, as in WAL and snap file names. */
export function hex16(v: bigint): string {
  return BigInt.asUintN(64, v).toString(16).padStart(16, '0')
}

/** Parses a member ID given as hex (etcdctl style, optional 0x) or as decimal with a `d:` prefix. */
export function parseId(s: string): bigint | undefined {
  const t = s.trim().toLowerCase()
  if (/^d:\d+$/.test(t)) return BigInt(t.slice(2))
  const h = t.startsWith('0x') ? t.slice(2) : t
  if (!/^[0-9a-f]{1,16}$/.test(h)) return undefined
  return BigInt('0x' + h)
}

/** Lowercase hex of bytes. */
export function bytesHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}

/** The bigint of an ID printed by `idHex` (results carry IDs as hex only; compare as bigint). */
export function idFromHex(h: string): bigint
export function idFromHex(h: string | null): bigint | null
export function idFromHex(h: string | null): bigint | null {
  return h === null ? null : BigInt('0x' + h)
}

/** A raft HardState as results print it: the vote is a member ID, so it is hex like every ID. */
export interface HardStateOut { term: bigint; vote: string; commit: bigint }

export function hardStateOut(hs: { term: bigint; vote: bigint; commit: bigint }): HardStateOut
export function hardStateOut(hs: { term: bigint; vote: bigint; commit: bigint } | undefined): HardStateOut | undefined
export function hardStateOut(hs: { term: bigint; vote: bigint; commit: bigint } | undefined): HardStateOut | undefined {
  return hs && { term: hs.term, vote: idHex(hs.vote), commit: hs.commit }
}
