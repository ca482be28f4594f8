// What the production tests share: the built app started as a real process (`node server.js`,
// or a fixture script serving the same build with other options), its output as events, its
// descriptors, and the official socket.io-client on the chat contract. Nothing here sleeps:
// every wait is for an event, or for a condition with a deadline.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Manager } from 'socket.io-client';

export const app = fileURLToPath(new URL('..', import.meta.url));
export const CHAT = '/rooms/[roomId]/chat';
export const FORBIDDEN = { ok: false, error: { code: 'forbidden', message: 'forbidden' } };

/**
 * The app as a process: `script` (default `server.js`, in the app's folder) with `env` on top
 * of a clean deployment environment (loopback, any free port, its own data folder).
 */
export class AppProcess {
  constructor({ script = 'server.js', env = {}, stdio, data } = {}) {
    if (!existsSync(join(app, 'build', 'index.js'))) throw new Error('build/ is missing: run npm run build first');
    // `data`: another process's folder (a restart keeps the sessions).
    this.data = data ?? mkdtempSync(join(tmpdir(), 'chat-ts-'));
    this.script = script;
    this.env = env;
    this.stdio = stdio;
    this.out = '';
    this.waiters = [];
  }

  /** Starts it; resolves with its URL once it printed it. */
  async start() {
    const base = { ...process.env, HOST: '127.0.0.1', PORT: '0', CHAT_DATA: this.data };
    // The deployment variables under test come only from `env`.
    for (const name of ['ORIGIN', 'PROTOCOL_HEADER', 'HOST_HEADER', 'PORT_HEADER', 'ADDRESS_HEADER', 'XFF_DEPTH', 'SOCKET_PATH', 'LISTEN_FDS', 'LISTEN_PID', 'IDLE_TIMEOUT', 'SHUTDOWN_TIMEOUT', 'BODY_SIZE_LIMIT']) delete base[name];
    const [command, args] = Array.isArray(this.script) ? [this.script[0], this.script.slice(1)] : [process.execPath, [this.script]];
    const env = { ...base, ...this.env };
    // `undefined` in `env` removes a variable (SOCKET_PATH wants no PORT).
    for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
    this.process = spawn(command, args, { cwd: app, env, stdio: this.stdio ?? ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.process.once('exit', (code, signal) => resolve({ code, signal })));
    const collect = (chunk) => {
      this.out += chunk;
      for (const w of this.waiters.splice(0)) if (!w()) this.waiters.push(w);
    };
    this.process.stdout.on('data', collect);
    this.process.stderr.on('data', collect);
    const line = await Promise.race([
      this.line(/chat demo on (\S+)/),
      this.exited.then(({ code }) => {
        throw new Error(`${this.script} exited (${code}): ${this.out}`);
      }),
    ]);
    this.url = line[1];
    return this;
  }

  get pid() {
    return this.process.pid;
  }

  /** Resolves with the first match of `pattern` in the output (stdout and stderr). */
  line(pattern) {
    return new Promise((resolve) => {
      const check = () => {
        const found = this.out.match(pattern);
        if (found) resolve(found);
        return Boolean(found);
      };
      if (!check()) this.waiters.push(check);
    });
  }

  /** Resolves once the output holds `count` matches of `pattern` (global). */
  lines(pattern, count) {
    return new Promise((resolve) => {
      const check = () => {
        const n = (this.out.match(pattern) ?? []).length;
        if (n >= count) resolve(n);
        return n >= count;
      };
      if (!check()) this.waiters.push(check);
    });
  }

  /** Its open descriptors, as `/proc/<pid>/fd` lists them (target of each link). */
  descriptors() {
    const dir = `/proc/${this.pid}/fd`;
    return readdirSync(dir).map((fd) => {
      try {
        return readlinkSync(join(dir, fd));
      } catch {
        return 'gone';
      }
    });
  }

  async stop() {
    if (this.process && this.process.exitCode === null && this.process.signalCode === null) {
      this.process.kill('SIGKILL');
      await this.exited;
    }
    rmSync(this.data, { recursive: true, force: true });
  }
}

/**
 * Waits until `condition()` holds, checking every `every` ms, up to `within` ms. For states no
 * event announces (another process's descriptors); fails with `describe()`.
 */
export async function eventually(condition, { within = 20000, every = 50, describe = () => '' } = {}) {
  const deadline = Date.now() + within;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) assert.fail(`not within ${within} ms: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}

/** Signs in through the app's endpoint; returns the session cookie. */
export async function signIn(url, user, origin = url) {
  const response = await fetch(`${url}/auth/login`, {
    method: 'POST',
    body: new URLSearchParams({ user }),
    headers: { origin },
    redirect: 'manual',
  });
  assert.equal(response.status, 303, `sign-in as ${user}`);
  const cookie = response.headers.get('set-cookie')?.match(/session=[0-9a-f]+/)?.[0];
  assert.ok(cookie, 'a session cookie');
  return cookie;
}

/**
 * A socket of the chat contract on `path` (official socket.io-client, websocket only), with the
 * received events. `options` go to the Manager (`extraHeaders`, `localAddress`, `ca`, ...).
 */
export function open(url, path, options = {}, managers = []) {
  const manager = new Manager(url, { transports: ['websocket'], reconnection: false, ...options });
  managers.push(manager);
  const socket = manager.socket(CHAT, { auth: { path } });
  const received = [];
  const waiters = [];
  socket.onAny((event, payload) => {
    received.push([event, payload]);
    for (const w of waiters.splice(0)) if (!w(event, payload)) waiters.push(w);
  });
  const next = (event, ok = () => true) =>
    new Promise((resolve) => {
      const seen = received.find(([e, p]) => e === event && ok(p));
      if (seen) return resolve(seen[1]);
      waiters.push((e, p) => e === event && ok(p) && (resolve(p), true));
    });
  /** Resolves `{ connected: true }` or `{ connected: false, error }` (the connect_error). */
  const outcome = new Promise((resolve) => {
    socket.once('connect', () => resolve({ connected: true }));
    socket.once('connect_error', (error) => resolve({ connected: false, error }));
  });
  socket.connect();
  return { manager, socket, received, next, outcome, call: (event, payload) => socket.timeout(10000).emitWithAck(event, payload) };
}
