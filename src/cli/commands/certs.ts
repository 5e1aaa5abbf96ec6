/**
 * `etcd-inspect certs`: audit one member's TLS set (docs/certs.md). The files come from --config
 * (env file or unit, as for `replace`) and/or etcd's own flag names, which override it; etcdctl's
 * --cert/--key/--cacert name a client certificate to audit too, and with --endpoints the live
 * members' presented certificates are compared with the files.
 */
import { Option, type Command } from '../commander.js'
import { outputFormat, outputOption } from '../common.js'
import { addConnectionOptions, connectionOptionsFrom } from '../connection-options.js'
import { streamSink } from '../../render/output.js'
import { ExitCode } from '../exit-codes.js'
import { UsageError } from '../../errors.js'
import type { ConnectionFlags } from '../../cluster/settings.js'
import type { CertsResult } from '../../app/certs.js'

/** etcd flags accepted as-is; each maps to the ETCD_* variable of the same name. */
export const ETCD_FILE_FLAGS = ['cert-file', 'key-file', 'trusted-ca-file', 'peer-cert-file', 'peer-key-file', 'peer-trusted-ca-file'] as const
export const ETCD_URL_FLAGS = ['advertise-client-urls', 'listen-client-urls', 'initial-advertise-peer-urls', 'listen-peer-urls', 'name'] as const
export const ETCD_BOOL_FLAGS = ['client-cert-auth', 'peer-client-cert-auth'] as const

export interface CertsCliOptions extends ConnectionFlags {
  writeOut?: string
  config?: string
  configFormat?: 'env' | 'unit'
  warnDays?: string
  [flag: string]: unknown
}

const camel = (f: string): string => f.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())

/** The etcd flags given → ETCD_* settings (the names etcd's env parser uses). */
export function etcdFlagSettings(o: CertsCliOptions): Map<string, string> {
  const m = new Map<string, string>()
  for (const f of [...ETCD_FILE_FLAGS, ...ETCD_URL_FLAGS, ...ETCD_BOOL_FLAGS]) {
    const v = o[camel(f)]
    if (v !== undefined) m.set('ETCD_' + f.toUpperCase().replace(/-/g, '_'), String(v))
  }
  return m
}

/** 0 clean, 45 warnings only, 46 errors (README exit codes). */
export function certsExitCode(r: CertsResult): number {
  return r.verdict === 'ERRORS' ? ExitCode.CertsErrors : r.verdict === 'WARNINGS' ? ExitCode.CertsWarnings : ExitCode.OK
}

export function register(program: Command): void {
  const cmd = program
    .command('certs')
    .description("audit a member's TLS set read-only: chain, names, key usages, keys, dates, config; with --endpoints the live members' certificates")
    .addOption(outputOption())
    .option('--config <file>', "the member's env file (ETCD_*) or systemd unit, as for replace")
    .addOption(new Option('--config-format <format>', 'env or unit (default: detected)').choices(['env', 'unit']))
    .option('--warn-days <days>', 'warn about certificates expiring within this many days', '30')
  for (const f of ETCD_FILE_FLAGS) cmd.option(`--${f} <file>`, `etcd's --${f} (overrides the config)`)
  for (const f of ETCD_URL_FLAGS) cmd.option(`--${f} <${f === 'name' ? 'name' : 'urls'}>`, `etcd's --${f} (overrides the config)`)
  for (const f of ETCD_BOOL_FLAGS) cmd.addOption(new Option(`--${f} [bool]`, `etcd's --${f} (overrides the config)`).argParser((v) => String(!/^(false|0|f)$/i.test(v))))
  addConnectionOptions(cmd)
  cmd.action(async (o: CertsCliOptions) => {
    const format = outputFormat(o)
    const warnDays = Number(o.warnDays ?? '30')
    if (!Number.isFinite(warnDays) || warnDays < 0) throw new UsageError(`--warn-days ${o.warnDays} is not a number of days`, 'use e.g. --warn-days 30')
    const conn = connectionOptionsFrom(o)
    const live = o.endpoints !== undefined || !!process.env.ETCDCTL_ENDPOINTS
    const { auditCerts } = await import('../../app/certs.js')
    const { renderCerts } = await import('../../render/certs.js')
    const result = await auditCerts({
      ...(o.config ? { configPath: o.config } : {}),
      ...(o.configFormat ? { configFormat: o.configFormat } : {}),
      flags: etcdFlagSettings(o),
      client: { ...(conn.cert ? { cert: conn.cert } : {}), ...(conn.key ? { key: conn.key } : {}), ...(conn.cacert ? { cacert: conn.cacert } : {}) },
      ...(live ? { connection: conn } : {}),
      warnDays,
    })
    await renderCerts(result, format, streamSink(process.stdout))
    process.exitCode = certsExitCode(result)
  })
}
