/**
 * A headless Chromium driven over the DevTools protocol, for the report tests: Debian's `chromium`
 * started with `--remote-debugging-port=0` (the port is read from its stderr), spoken to through a
 * minimal WebSocket client (RFC 6455: masked text frames out, unmasked frames in) because Node 20
 * has no WebSocket without a flag and a test helper is not worth a dependency. The browser gets a
 * fresh profile dir, is told not to talk to any Google service, and is stopped by its PID.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import type { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const CHROMIUM = process.env.CHROMIUM ?? 'chromium'

/** A tiny WebSocket client: text messages only, enough for CDP. */
class WsClient {
  private buf = Buffer.alloc(0)
  private frag: Buffer[] = []
  onMessage: (text: string) => void = () => {}
  onClose: () => void = () => {}
  private constructor(private readonly sock: Socket) {
    sock.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d])
      this.parse()
    })
    sock.on('close', () => this.onClose())
    sock.on('error', () => {})
  }

  static connect(url: string): Promise<WsClient> {
    const u = new URL(url)
    return new Promise((resolve, reject) => {
      const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, headers: {
        Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
      } })
      req.on('upgrade', (_res, sock, head) => {
        const c = new WsClient(sock)
        if (head.length) {
          c.buf = Buffer.from(head)
          c.parse()
        }
        resolve(c)
      })
      req.on('response', (res) => reject(new Error(`websocket upgrade refused: HTTP ${res.statusCode}`)))
      req.on('error', reject)
      req.end()
    })
  }

  send(text: string): void {
    const payload = Buffer.from(text, 'utf8')
    const n = payload.length
    const head = n < 126 ? Buffer.from([0x81, 0x80 | n]) : n < 65536 ? Buffer.from([0x81, 0x80 | 126, n >> 8, n & 0xff]) : Buffer.alloc(10)
    if (n >= 65536) {
      head[0] = 0x81
      head[1] = 0x80 | 127
      head.writeBigUInt64BE(BigInt(n), 2)
    }
    const mask = randomBytes(4)
    for (let i = 0; i < n; i++) payload[i]! ^= mask[i & 3]!
    this.sock.write(Buffer.concat([head, mask, payload]))
  }

  private parse(): void {
    for (;;) {
      if (this.buf.length < 2) return
      const b0 = this.buf[0]!
      const b1 = this.buf[1]!
      let len = b1 & 0x7f
      let at = 2
      if (len === 126) {
        if (this.buf.length < 4) return
        len = this.buf.readUInt16BE(2)
        at = 4
      } else if (len === 127) {
        if (this.buf.length < 10) return
        len = Number(this.buf.readBigUInt64BE(2))
        at = 10
      }
      const masked = (b1 & 0x80) !== 0
      const maskAt = at
      if (masked) at += 4
      if (this.buf.length < at + len) return
      const payload = Buffer.from(this.buf.subarray(at, at + len))
      if (masked) for (let i = 0; i < len; i++) payload[i]! ^= this.buf[maskAt + (i & 3)]!
      this.buf = this.buf.subarray(at + len)
      const op = b0 & 0x0f
      const fin = (b0 & 0x80) !== 0
      if (op === 0x8) {
        this.sock.end()
        return
      }
      if (op === 0x9) continue // ping: Chrome does not send them to clients
      if (op === 0x1 || op === 0x0) {
        this.frag.push(payload)
        if (fin) {
          const text = Buffer.concat(this.frag).toString('utf8')
          this.frag = []
          this.onMessage(text)
        }
      }
    }
  }

  close(): void {
    this.sock.destroy()
  }
}

export interface PageReport {
  /** Console messages, exceptions and browser log entries of level warning or error (CSP violations land here). */
  errors: string[]
  /** Every URL the page asked for (the page's own file:// URL first), blocked or not. */
  requests: string[]
  /** Requests the browser blocked before sending (URL, reason: csp, mixed-content, ...). */
  blocked: [string, string][]
  /** The value of `evaluate` in the loaded page. */
  value: unknown
  /** PNG of the whole page. */
  screenshot: Buffer
}

/** One headless Chromium for a test file; `open` loads a page in a fresh tab. */
export class Browser {
  private id = 0
  private pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>()
  private listeners: ((m: { method: string; params: any; sessionId?: string }) => void)[] = []
  private constructor(private readonly proc: ChildProcess, private readonly ws: WsClient, private readonly profile: string, readonly stderr: string[]) {
    ws.onMessage = (text) => {
      const m = JSON.parse(text)
      if (m.id !== undefined) {
        const p = this.pending.get(m.id)
        this.pending.delete(m.id)
        if (m.error) p?.reject(new Error(`CDP: ${m.error.message}`))
        else p?.resolve(m.result)
      } else {
        for (const l of this.listeners) l(m)
      }
    }
  }

  static async launch(): Promise<Browser> {
    const profile = mkdtempSync(join(tmpdir(), 'report-chromium-'))
    const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-default-apps', '--disable-extensions', '--mute-audio', '--hide-scrollbars',
      `--user-data-dir=${profile}`, '--remote-debugging-address=127.0.0.1', '--remote-debugging-port=0', 'about:blank']
    const proc = spawn(CHROMIUM, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    const stderr: string[] = []
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`chromium did not print its DevTools URL in 30 s:\n${stderr.join('')}`)), 30_000)
      proc.on('error', (e) => {
        clearTimeout(timer)
        reject((e as NodeJS.ErrnoException).code === 'ENOENT' ? new Error(`${CHROMIUM} not found: the report tests need Debian's chromium (apt-get install -y chromium; .ci/run installs it)`) : e)
      })
      proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`chromium exited (${code}):\n${stderr.join('')}`)) })
      proc.stderr!.setEncoding('utf8')
      proc.stderr!.on('data', (d: string) => {
        stderr.push(d)
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(stderr.join(''))
        if (m) {
          clearTimeout(timer)
          resolve(m[1]!)
        }
      })
    })
    proc.removeAllListeners('exit')
    const ws = await WsClient.connect(url)
    return new Browser(proc, ws, profile, stderr)
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<any> {
    const id = ++this.id
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      this.ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }))
    })
  }

  /** Loads `url` in a new tab 1160 px wide, collects errors and requests until load (+ `settleMs`), evaluates `expression`, takes a full-page screenshot. */
  async open(url: string, expression = 'null', settleMs = 300): Promise<PageReport> {
    const { targetId } = await this.send('Target.createTarget', { url: 'about:blank' })
    const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true })
    const errors: string[] = []
    const requests: string[] = []
    const ids = new Map<string, string>()
    const blocked: [string, string][] = []
    let loaded!: () => void
    const load = new Promise<void>((r) => { loaded = r })
    const listener = (m: { method: string; params: any; sessionId?: string }): void => {
      if (m.sessionId !== sessionId) return
      const p = m.params
      switch (m.method) {
        case 'Runtime.consoleAPICalled':
          if (p.type === 'error' || p.type === 'warning' || p.type === 'assert') errors.push(`console.${p.type}: ${p.args.map((a: any) => a.value ?? a.description).join(' ')}`)
          break
        case 'Runtime.exceptionThrown':
          errors.push(`exception: ${p.exceptionDetails.exception?.description ?? p.exceptionDetails.text}`)
          break
        case 'Log.entryAdded':
          if (p.entry.level === 'error' || p.entry.level === 'warning') errors.push(`log ${p.entry.level} (${p.entry.source}): ${p.entry.text}${p.entry.url ? ` ${p.entry.url}` : ''}`)
          break
        case 'Network.requestWillBeSent':
          requests.push(p.request.url)
          ids.set(p.requestId, p.request.url)
          break
        case 'Network.loadingFailed':
          if (p.blockedReason) blocked.push([ids.get(p.requestId) ?? p.requestId, p.blockedReason])
          break
        case 'Page.loadEventFired':
          loaded()
          break
      }
    }
    this.listeners.push(listener)
    try {
      for (const d of ['Page.enable', 'Runtime.enable', 'Log.enable', 'Network.enable']) await this.send(d, {}, sessionId)
      await this.send('Emulation.setDeviceMetricsOverride', { width: 1160, height: 900, deviceScaleFactor: 1, mobile: false }, sessionId)
      const nav = await this.send('Page.navigate', { url }, sessionId)
      if (nav.errorText) throw new Error(`navigate ${url}: ${nav.errorText}`)
      await Promise.race([load, new Promise((_, rej) => setTimeout(() => rej(new Error(`no load event for ${url} in 20 s`)), 20_000))])
      await new Promise((r) => setTimeout(r, settleMs))
      const ev = await this.send('Runtime.evaluate', { expression, returnByValue: true }, sessionId)
      if (ev.exceptionDetails) throw new Error(`evaluate: ${ev.exceptionDetails.exception?.description ?? ev.exceptionDetails.text}`)
      const metrics = await this.send('Page.getLayoutMetrics', {}, sessionId)
      const height = Math.min(16_000, Math.ceil(metrics.cssContentSize?.height ?? metrics.contentSize.height))
      await this.send('Emulation.setDeviceMetricsOverride', { width: 1160, height, deviceScaleFactor: 1, mobile: false }, sessionId)
      const shot = await this.send('Page.captureScreenshot', { format: 'png' }, sessionId)
      return { errors, requests, blocked, value: ev.result.value, screenshot: Buffer.from(shot.data, 'base64') }
    } finally {
      this.listeners = this.listeners.filter((l) => l !== listener)
      await this.send('Target.closeTarget', { targetId }).catch(() => {})
    }
  }

  /** Closes the browser (Browser.close, then SIGKILL by PID if it lingers) and removes its profile. */
  async close(): Promise<void> {
    const exited = new Promise<void>((r) => (this.proc.exitCode !== null ? r() : this.proc.once('exit', () => r())))
    await Promise.race([this.send('Browser.close').catch(() => {}), new Promise((r) => setTimeout(r, 3000))])
    const t = setTimeout(() => { if (this.proc.pid && this.proc.exitCode === null) process.kill(this.proc.pid, 'SIGKILL') }, 5000)
    await exited
    clearTimeout(t)
    this.ws.close()
    rmSync(this.profile, { recursive: true, force: true })
  }
}
