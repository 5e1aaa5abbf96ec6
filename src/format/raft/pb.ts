/**
 * A small schema-driven, strict protobuf decoder for the raft and etcdserver messages found in
 * WAL entries. Strict like Go's gogo-generated `Unmarshal` (the rules of ../protowire.ts): a known
 * field with the wrong wire type, field 0, wire types 6/7, stray end-groups and lengths running
 * past the enclosing message are errors; unknown fields are skipped. Decoding and validation are
 * one pass, so "does it parse as an InternalRaftRequest" (FORMATS §3.3) is "does this throw".
 *
 * Output is a plain object keyed by the schema's camelCase names: uint64/int64 → bigint,
 * int32/uint32/enum → number, bool → boolean, string → string, bytes → Uint8Array view (no copy),
 * messages → objects, repeated → arrays. Absent fields are absent (never inferred from presence).
 */
import { ProtoReader, WireType } from '../protowire.js'

export type ScalarKind = 'uint64' | 'int64' | 'uint32' | 'int32' | 'bool' | 'enum' | 'string' | 'bytes'

export interface FieldDef {
  name: string
  kind: ScalarKind | 'message'
  repeated?: boolean
  /** For kind 'message'. A thunk so schemas can refer to each other (TxnRequest ↔ RequestOp). */
  msg?: () => Schema
}

export interface Schema {
  name: string
  fields: Readonly<Record<number, FieldDef>>
}

/** A decoded message: values as described in the module header. */
export type Decoded = { [name: string]: unknown }

const utf8 = new TextDecoder('utf-8')

function wireOf(kind: FieldDef['kind']): WireType {
  return kind === 'string' || kind === 'bytes' || kind === 'message' ? WireType.Bytes : WireType.Varint
}

function readScalar(r: ProtoReader, kind: ScalarKind): unknown {
  switch (kind) {
    case 'uint64': return r.varint64()
    case 'int64': return BigInt.asIntN(64, r.varint64())
    // Go truncates 32-bit varints to their low 32 bits.
    case 'uint32': return Number(BigInt.asUintN(32, r.varint64()))
    case 'int32':
    case 'enum': return Number(BigInt.asIntN(32, r.varint64()))
    case 'bool': return r.varint64() !== 0n
    case 'string': return utf8.decode(r.bytes())
    case 'bytes': return r.bytes()
  }
}

/**
 * Decodes `buf[start, end)` as `schema`. `file`/`base` place errors (base = file offset of buf[0]).
 * Throws DecodeError('bad-protobuf') at the first violation.
 */
export function decodeMessage(schema: Schema, buf: Uint8Array, start = 0, end = buf.length, file = '<bytes>', base = 0): Decoded {
  const out: Decoded = {}
  const r = new ProtoReader(buf, file, base, start, end)
  while (!r.done) {
    const at = r.pos
    const { field, wire } = r.tag()
    const def = schema.fields[field]
    if (def === undefined) {
      r.skip(wire, field)
      continue
    }
    const want = wireOf(def.kind)
    if (def.kind === 'message') {
      if (wire !== WireType.Bytes) r.fail('bad-protobuf', `protobuf: ${schema.name}.${def.name} (field ${field}) has wire type ${wire}, want 2`, at)
      const [s, e] = r.lengthDelimited()
      const v = decodeMessage(def.msg!(), buf, s, e, file, base)
      if (def.repeated) ((out[def.name] ??= []) as unknown[]).push(v)
      else out[def.name] = v
      continue
    }
    if (wire !== want) {
      // Repeated varint fields may arrive packed.
      if (def.repeated && want === WireType.Varint && wire === WireType.Bytes) {
        const [s, e] = r.lengthDelimited()
        const inner = new ProtoReader(buf, file, base, s, e)
        const arr = (out[def.name] ??= []) as unknown[]
        while (!inner.done) arr.push(readScalar(inner, def.kind))
        continue
      }
      r.fail('bad-protobuf', `protobuf: ${schema.name}.${def.name} (field ${field}) has wire type ${wire}, want ${want}`, at)
    }
    const v = readScalar(r, def.kind)
    if (def.repeated) ((out[def.name] ??= []) as unknown[]).push(v)
    else out[def.name] = v
  }
  return out
}

/** Shorthand for building schemas. */
export function msg(name: string, fields: Record<number, [string, FieldDef['kind'], (() => Schema)?, boolean?]>): Schema {
  const defs: Record<number, FieldDef> = {}
  for (const [k, [n, kind, m, repeated]] of Object.entries(fields)) {
    defs[Number(k)] = { name: n, kind, msg: m, repeated }
  }
  return { name, fields: defs }
}
