/**
 * WAL directory discovery and segment opening (read-only: readdir, stat, O_RDONLY opens).
 * Classifies every file: segments by `%016x-%016x.wal`, `.tmp` (preallocated next segment),
 * `.broken` (copies made by wal.Repair), anything else unknown.
 */
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fsError, openFile, type ByteSource } from './byte-source.js'
import { classifyWalDirEntry, orderSegments, parseWalName, type SegmentName, type SeqGap } from '../format/wal/segment-name.js'
import type { LogSegment } from '../format/wal/log.js'

export interface WalFileInfo extends SegmentName {
  path: string
  size: number
}

export interface WalDirListing {
  walDir: string
  segments: WalFileInfo[]
  gaps: SeqGap[]
  tmp: { name: string; size: number }[]
  broken: { name: string; size: number }[]
  unknown: { name: string; size: number }[]
}

/** Lists and classifies the files of a WAL directory. */
export function listWalDir(walDir: string): WalDirListing {
  let names: string[]
  try {
    names = readdirSync(walDir)
  } catch (err) {
    throw fsError(err, walDir, 'list')
  }
  const segs: WalFileInfo[] = []
  const out: WalDirListing = { walDir, segments: [], gaps: [], tmp: [], broken: [], unknown: [] }
  for (const name of names.sort()) {
    const path = join(walDir, name)
    let size = 0
    try {
      const st = statSync(path)
      if (st.isDirectory()) {
        out.unknown.push({ name: name + '/', size: 0 })
        continue
      }
      size = st.size
    } catch (err) {
      throw fsError(err, path, 'stat')
    }
    const kind = classifyWalDirEntry(name)
    if (kind === 'segment') segs.push({ ...parseWalName(name)!, path, size })
    else out[kind].push({ name, size })
  }
  const { segments, gaps } = orderSegments(segs)
  out.segments = segments as WalFileInfo[]
  out.gaps = gaps
  return out
}

/** Opens segments read-only for `readLog`; call `close()` when done. */
export function openSegments(files: readonly WalFileInfo[], display: (f: WalFileInfo) => string = (f) => f.name): { segments: LogSegment[]; sources: ByteSource[]; close(): void } {
  const sources: ByteSource[] = []
  try {
    for (const f of files) sources.push(openFile(f.path))
  } catch (err) {
    for (const s of sources) s.close()
    throw err
  }
  const segments = files.map((f, i) => ({ file: display(f), source: sources[i]!, seq: f.seq, nameIndex: f.index }))
  return { segments, sources, close: () => sources.forEach((s) => s.close()) }
}
