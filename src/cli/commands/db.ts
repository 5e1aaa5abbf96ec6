/** `etcd-inspect db`: placeholder until its issue lands. */
import type { Command } from 'commander'
import { UsageError } from '../../errors.js'

export function register(program: Command): void {
  program
    .command('db')
    .description('(not implemented yet)')
    .allowUnknownOption()
    .action(() => {
      throw new UsageError('db is not implemented yet')
    })
}
