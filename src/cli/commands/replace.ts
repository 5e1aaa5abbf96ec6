/** `etcd-inspect replace`: placeholder until its issue lands. */
import type { Command } from 'commander'
import { UsageError } from '../../errors.js'

export function register(program: Command): void {
  program
    .command('replace')
    .description('(not implemented yet)')
    .allowUnknownOption()
    .action(() => {
      throw new UsageError('replace is not implemented yet')
    })
}
