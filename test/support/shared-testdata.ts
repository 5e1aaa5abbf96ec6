/**
 * Outside test data (`shared/testdata/`), read in place and never copied into the project. It sits
 * beside the clone (`<repo>/../shared`); from a worktree nested one level deeper it is found by
 * walking up the parents of the repo root.
 */
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { REPO_ROOT } from './cli.js'

export function sharedTestdata(sub: string): string {
  let dir = REPO_ROOT
  for (let i = 0; i < 4; i++) {
    const parent = dirname(dir)
    const p = join(parent, 'shared', 'testdata', sub)
    if (existsSync(p)) return p
    dir = parent
  }
  throw new Error(`shared/testdata/${sub} not found beside the repo root ${REPO_ROOT} (expected ../shared/testdata/${sub})`)
}
