/**
 * The one place that loads commander. Loaded through `require`: its ES-module entry (esm.mjs) wraps
 * the CommonJS build, so `import` costs the CommonJS load plus Node 20's ES-module loader and its
 * CommonJS export scan (measured in a fresh process: `import` about 22 ms, `require` about 10 ms, on
 * every command). Same classes either way, so `instanceof CommanderError` holds for both.
 */
import { createRequire } from 'node:module'
import type * as Commander from 'commander'

const commander = createRequire(import.meta.url)('commander') as typeof Commander

export const Command: typeof Commander.Command = commander.Command
export type Command = Commander.Command
export const Option: typeof Commander.Option = commander.Option
export type Option = Commander.Option
export const CommanderError: typeof Commander.CommanderError = commander.CommanderError
export type CommanderError = Commander.CommanderError
