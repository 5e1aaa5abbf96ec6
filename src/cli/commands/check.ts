/** `etcd-inspect check`: placeholder until its issue lands. */
import type { Command } from 'commander'
import { UsageError } from '../../errors.js'

export function register(program: Command): void {
  program
    .command('check')
    .description('(not implemented yet)')
    .allowUnknownOption()
    .action(() => {
      throw new UsageError('check is not implemented yet')
    })
}
