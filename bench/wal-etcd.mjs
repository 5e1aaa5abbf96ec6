// Helpers for bench/wal.mjs: start Debian's etcd 3.4 on 127.0.0.1 with free ports, stop it by PID.
import { spawn, execFile } from 'node:child_process'
import { createServer } from 'node:net'
import { openSync, closeSync } from 'node:fs'
import { promisify } from 'node:util'

const execFileP = promisify(execFile)

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

export async function startEtcd(dataDir, extra = []) {
  const cp = await freePort()
  let pp = await freePort()
  while (pp === cp) pp = await freePort()
  const client = `http://127.0.0.1:${cp}`
  const peer = `http://127.0.0.1:${pp}`
  const fd = openSync(`${dataDir}.log`, 'a')
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD')))
  const proc = spawn('etcd', ['--name', 'bench', '--data-dir', dataDir, '--listen-client-urls', client, '--advertise-client-urls', client,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `bench=${peer}`, '--logger', 'zap', '--log-outputs', 'stderr', ...extra],
    { stdio: ['ignore', fd, fd], env })
  closeSync(fd)
  const exited = new Promise((r) => proc.on('exit', r))
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`${client}/health`)
      if (r.ok) break
    } catch {}
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    client, proc, exited,
    etcdctl: (args, input) => execFileP('etcdctl', ['--endpoints', client, ...args], { env, input }).then((r) => r.stdout),
    async stop() { try { process.kill(proc.pid, 'SIGTERM') } catch {} ; await exited },
  }
}
