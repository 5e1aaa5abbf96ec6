/**
 * etcdctl's global connection flags as commander options, shared by `check` and `replace`.
 * No defaults here: an unset flag falls back to `ETCDCTL_*` and then etcdctl's default in
 * cluster/connection.ts (a commander default would shadow the environment).
 */
import { Option, type Command } from './commander.js'
import { resolveConnectionOptions, type ConnectionFlags, type ConnectionOptions } from '../cluster/settings.js'

/** Adds the connection flags to `cmd`. */
export function addConnectionOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--endpoints <urls>', 'gRPC endpoints, comma-separated (env ETCDCTL_ENDPOINTS; default 127.0.0.1:2379)'))
    .addOption(new Option('--cacert <file>', 'verify server certificates with this CA bundle (env ETCDCTL_CACERT)'))
    .addOption(new Option('--cert <file>', 'client certificate for mTLS (env ETCDCTL_CERT)'))
    .addOption(new Option('--key <file>', 'key of the client certificate (env ETCDCTL_KEY)'))
    .addOption(new Option('--user <name[:password]>', 'user name, optionally with the password (env ETCDCTL_USER)'))
    .addOption(new Option('--password <password>', 'password, when --user has none (env ETCDCTL_PASSWORD)'))
    .addOption(new Option('--insecure-skip-tls-verify', 'skip server certificate verification (env ETCDCTL_INSECURE_SKIP_TLS_VERIFY)'))
    .addOption(new Option('--insecure-transport [bool]', 'plain http for endpoints without a scheme (default true, env ETCDCTL_INSECURE_TRANSPORT)').argParser((v) => !/^(false|0|f)$/i.test(v)))
    .addOption(new Option('--dial-timeout <duration>', 'dial timeout per endpoint, Go duration (env ETCDCTL_DIAL_TIMEOUT; default 2s)'))
    .addOption(new Option('--command-timeout <duration>', 'timeout per request, Go duration (env ETCDCTL_COMMAND_TIMEOUT; default 5s)'))
}

/** The raw commander values → resolved ConnectionOptions (flags, then env, then defaults). */
export function connectionOptionsFrom(opts: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): ConnectionOptions {
  return resolveConnectionOptions({
    endpoints: opts.endpoints,
    cacert: opts.cacert,
    cert: opts.cert,
    key: opts.key,
    user: opts.user,
    password: opts.password,
    insecureSkipTlsVerify: opts.insecureSkipTlsVerify,
    insecureTransport: opts.insecureTransport,
    dialTimeout: opts.dialTimeout,
    commandTimeout: opts.commandTimeout,
  }, env)
}
