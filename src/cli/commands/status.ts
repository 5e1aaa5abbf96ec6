/** `etcd-inspect status`: placeholder until its issue lands. */
import type { Command } from 'commander'
import { UsageError } from '../../errors.js'

export function register(program: Command): void {
  program
    .command('status')
    .description('(not implemented yet)')
    .allowUnknownOption()
    .action(() => {
      throw new UsageError('status is not implemented yet')
    })
}
