import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))

describe('package.json', () => {
  it('has exactly the design card runtime dependencies, pinned', () => {
    expect(Object.keys(pkg.dependencies).sort()).toEqual(
      ['cli-table3', 'cockatiel', 'commander', 'crc-32', 'etcd3', 'lmdb', 'long', 'protobufjs'],
    )
    for (const v of Object.values(pkg.dependencies) as string[]) expect(v).toMatch(/^\d+\.\d+\.\d+$/)
    for (const v of Object.values(pkg.devDependencies) as string[]) expect(v).toMatch(/^\d+\.\d+\.\d+$/)
  })
  it('exposes the etcd-inspect bin', () => {
    expect(pkg.bin['etcd-inspect']).toBe('dist/cli/main.js')
  })
})
