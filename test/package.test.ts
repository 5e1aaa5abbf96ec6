import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
const lock = JSON.parse(readFileSync(new URL('../package-lock.json', import.meta.url), 'utf8'))

describe('package.json', () => {
  it('has exactly the design card runtime dependencies, pinned', () => {
    expect(Object.keys(pkg.dependencies).sort()).toEqual(
      ['@grpc/grpc-js', 'cli-table3', 'cockatiel', 'commander', 'crc-32', 'etcd3', 'lmdb', 'long', 'protobufjs'],
    )
    for (const v of Object.values(pkg.dependencies) as string[]) expect(v).toMatch(/^\d+\.\d+\.\d+$/)
    for (const v of Object.values(pkg.devDependencies) as string[]) expect(v).toMatch(/^\d+\.\d+\.\d+$/)
  })
  it('pins the same single @grpc/grpc-js that etcd3 uses', () => {
    // src/cluster hands etcd3's pool credentials built with our import: a second copy of grpc-js
    // would make them foreign objects to etcd3's channels.
    const copies = Object.keys(lock.packages).filter((p) => p.endsWith('node_modules/@grpc/grpc-js'))
    expect(copies).toEqual(['node_modules/@grpc/grpc-js'])
    expect(lock.packages['node_modules/@grpc/grpc-js'].version).toBe(pkg.dependencies['@grpc/grpc-js'])
  })
  it('exposes the etcd-inspect bin', () => {
    expect(pkg.bin['etcd-inspect']).toBe('dist/cli/main.js')
  })
})
