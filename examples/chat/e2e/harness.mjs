// The chat server and headless Chromium for the end-to-end tests. Nothing here sleeps: every
// wait is for an event (a line on stdout, a selector, a text) with a timeout.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const serverBin = process.env.CHAT_SERVER_BIN ?? join(root, 'target/debug/chat-server');
const webBuild = join(root, 'examples/chat/web/build');
const tsApp = join(root, 'examples/chat-ts');
/**
 * Which example the tests run against: `rust` (examples/chat: the Rust server and its
 * contracts) or `ts` (examples/chat-ts: the SvelteKit app with TypeScript contracts).
 */
export const FRONTEND = process.env.CHAT_FRONTEND === 'ts' ? 'ts' : 'rust';
const chromiumBin = process.env.CHROMIUM ?? '/usr/bin/chromium';
const screenshots = fileURLToPath(new URL('./screenshots/', import.meta.url));

/** A `redis-server` (Debian's) on a free loopback port, for several chat servers to share. */
export class RedisServer {
  async start() {
    const port = await freePort();
    this.process = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('redis-server did not start')), 15000);
      let out = '';
      this.process.stdout.on('data', (chunk) => {
        out += chunk;
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      this.process.on('error', (e) => reject(new Error(`redis-server: ${e.message} (apt-get install redis-server)`)));
      this.process.on('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
    });
    this.url = `redis://127.0.0.1:${port}`;
    return this;
  }

  async stop() {
    if (!this.process || this.process.exitCode !== null) return;
    const exited = new Promise((resolve) => this.process.once('exit', resolve));
    this.process.kill('SIGKILL');
    await exited;
  }
}

/**
 * Runs `body(nodeA, nodeB)` against two chat servers sharing one fresh `redis-server`, and
 * stops all three afterwards, whatever `body` did.
 */
export async function withTwoNodes(body) {
  const redis = await new RedisServer().start();
  const nodeA = await new ChatServer(undefined, { redis: redis.url }).start();
  const nodeB = await new ChatServer(undefined, { redis: redis.url }).start();
  try {
    await body(nodeA, nodeB);
  } finally {
    await nodeA.destroy();
    await nodeB.destroy();
    await redis.stop();
  }
}

/** A port nobody listens on now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/**
 * The chat server on `port` (0: any free port), with its own session store; with `redis`, one
 * node of several sharing their rooms through it.
 */
export class ChatServer {
  /**
   * `env`: variables on top (the TypeScript example's deployment: `ORIGIN`, `ADDRESS_HEADER`,
   * ...); `args`: more arguments of the Rust server; `script`: another file than server.js
   * serving the TypeScript example's build.
   */
  constructor(dataDir, { redis, env = {}, args = [], script = 'server.js' } = {}) {
    this.dataDir = dataDir ?? mkdtempSync(join(tmpdir(), 'chat-e2e-'));
    this.redis = redis;
    this.env = env;
    this.args = args;
    this.script = script;
  }

  /** Starts the server; resolves once it printed its URL. */
  async start(port = 0) {
    if (FRONTEND === 'ts') {
      if (!existsSync(join(tsApp, 'build', 'handler.js'))) throw new Error(`${tsApp}/build is missing: run npm run build in examples/chat-ts`);
      this.process = spawn(process.execPath, [this.script], {
        cwd: tsApp,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          HOST: '127.0.0.1',
          PORT: String(port),
          CHAT_DATA: this.dataDir,
          ...(this.redis ? { REDIS_URL: this.redis } : {}),
          ...this.env,
        },
      });
    } else {
      if (!existsSync(serverBin)) throw new Error(`${serverBin} is missing: run cargo build -p chat-server`);
      if (!existsSync(join(webBuild, 'index.html'))) throw new Error(`${webBuild} is missing: run npm run build in examples/chat/web`);
      const args = ['--addr', `127.0.0.1:${port}`, '--web', webBuild, '--data', this.dataDir, '--notice-every', '3600'];
      if (this.redis) args.push('--redis', this.redis);
      args.push(...this.args);
      this.process = spawn(serverBin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } });
    }
    this.stderr = '';
    this.stdout = '';
    this.exited = new Promise((resolve) => this.process.once('exit', (code, signal) => resolve({ code, signal })));
    this.process.stderr.on('data', (chunk) => (this.stderr += chunk));
    this.process.stdout.on('data', (chunk) => (this.stdout += chunk));
    this.url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the ${FRONTEND} chat server did not start: ${this.stderr}`)), 15000);
      let out = '';
      this.process.stdout.on('data', (chunk) => {
        out += chunk;
        const match = out.match(/chat demo on (http:\/\/\S+)/);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      this.process.on('exit', (code) => reject(new Error(`the ${FRONTEND} chat server exited (${code}): ${this.stderr}`)));
    });
    this.port = Number(new URL(this.url).port);
    return this;
  }

  /** Stops the server (SIGKILL, or `signal`: SIGTERM for a graceful shutdown) and waits for it to exit. */
  async stop(signal = 'SIGKILL') {
    if (!this.process || this.process.exitCode !== null || this.process.signalCode !== null) return this.process?.exitCode ?? null;
    this.process.kill(signal);
    return (await this.exited).code;
  }

  /** Stops the server and forgets its sessions. */
  async destroy() {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Headless Chromium, launched as the project's machines need it. */
export async function launchBrowser() {
  if (!existsSync(chromiumBin)) {
    throw new Error(`${chromiumBin} not found: install Debian's chromium (apt-get install chromium) or set CHROMIUM`);
  }
  return chromium.launch({
    executablePath: chromiumBin,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/**
 * A tab of its own browser context (its own cookies), signed in as `user` (or a guest), on `path`.
 * @returns {Promise<import('playwright-core').Page>}
 */
export async function openTab(browser, server, { user, path }) {
  // `server.contextOptions`: e.g. `ignoreHTTPSErrors` behind a proxy with a test certificate.
  const context = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 800 }, ...server.contextOptions });
  if (user) {
    // The page's own origin, as the browser's form post sends it (SvelteKit checks it).
    const response = await context.request.post('/auth/login', { form: { user }, maxRedirects: 0, headers: { origin: server.url } });
    if (response.status() !== 303) throw new Error(`sign-in as ${user} answered ${response.status()}`);
  }
  const page = await context.newPage();
  await page.goto(path);
  await page.getByTestId('connection').filter({ hasText: 'Live' }).waitFor();
  return page;
}

/** Types a message into the chat composer and sends it. */
export async function say(page, text) {
  await page.getByTestId('message-input').fill(text);
  await page.getByTestId('send').click();
}

/** Waits until a message with `text` is shown in the chat. */
export async function seeMessage(page, text) {
  await page.getByTestId('message').filter({ hasText: text }).first().waitFor();
}

/** The texts of every chat message shown. */
export async function messages(page) {
  return page.getByTestId('message').allInnerTexts();
}

/** Runs `body`; on failure saves a screenshot of every open page, named after the test. */
export async function withScreenshots(t, browser, body) {
  try {
    await body();
  } catch (error) {
    mkdirSync(screenshots, { recursive: true });
    const name = t.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
    let i = 0;
    for (const context of browser.contexts()) {
      for (const page of context.pages()) {
        await page.screenshot({ path: join(screenshots, `${name}-${i++}.png`), fullPage: true }).catch(() => {});
      }
    }
    throw error;
  } finally {
    for (const context of browser.contexts()) await context.close();
  }
}
