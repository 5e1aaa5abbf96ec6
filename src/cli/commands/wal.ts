/** `etcd-inspect wal`: placeholder until its issue lands. */
import type { Command } from 'commander'
import { UsageError } from '../../errors.js'

export function register(program: Command): void {
  program
    .command('wal')
    .description('(not implemented yet)')
    .allowUnknownOption()
    .action(() => {
      throw new UsageError('wal is not implemented yet')
    })
}
