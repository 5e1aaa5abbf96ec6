// Makes sure Debian's etcd-server and etcd-client (and openssl for the TLS tests, chromium for the
// report's headless-browser test) are installed before the integration tests run: installs them with apt-get when running as root, otherwise
// fails naming the packages. Never lets the suite silently skip the real-etcd tests.
import { execFileSync, spawnSync } from 'node:child_process'

const need = [
  ['etcd', 'etcd-server'],
  ['etcdctl', 'etcd-client'],
  ['openssl', 'openssl'],
  ['chromium', 'chromium'],
]
const has = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0
const missing = need.filter(([bin]) => !has(bin)).map(([, pkg]) => pkg)
if (missing.length > 0) {
  if (process.getuid && process.getuid() === 0) {
    console.error(`installing ${missing.join(' ')} with apt-get ...`)
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env })
    execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit', env })
  } else {
    console.error(`the integration tests need Debian's ${missing.join(', ')}: run  sudo apt-get install -y ${missing.join(' ')}`)
    process.exit(1)
  }
}
const v = spawnSync('etcd', ['--version'], { encoding: 'utf8' })
if (v.status !== 0) {
  console.error(`etcd --version failed: ${v.stderr}`)
  process.exit(1)
}
