// examples/chat-ts in each way it runs: `vite dev` and `vite preview` (the app's own Vite
// config, SvelteKit's plugin and liverpc's) and production (`node server.js` on the build).
// Its contract imports the app's database module, which opens SQLite at its top, its folder
// from `$env/dynamic/private` and its file name from `$env/static/private`: in each mode the
// tutorial's checkpoints pass in Chromium and the message sent lands in that database; the
// browser never receives that code. Needs `npm run build` in examples/chat-ts first; runs
// with `npm run test:ts` (or alone: `npm run test:modes`), not with the Rust example.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { projectsAreAuthorized, roomsAreSeparate, tenantNeedsASession } from './checkpoints.mjs';
import { ChatServer, FRONTEND, launchBrowser, withScreenshots } from './harness.mjs';

const app = fileURLToPath(new URL('../../chat-ts/', import.meta.url));
const Database = createRequire(join(app, 'package.json'))('better-sqlite3');
/** Server code that must never reach the browser: the database module's and the contract's. */
const SERVER_ONLY = ['CREATE TABLE IF NOT EXISTS sessions', 'INSERT INTO messages', 'better-sqlite3', 'say something', 'liverpc.sockets'];

/** `vite dev` or `vite preview` of the app on a free loopback port, with its own data folder. */
class ViteServer {
  constructor(command) {
    this.command = command;
    this.dataDir = mkdtempSync(join(tmpdir(), `chat-ts-${command}-`));
  }

  async start() {
    const port = await freePort();
    const vite = join(app, 'node_modules', 'vite', 'bin', 'vite.js');
    this.process = spawn(process.execPath, [vite, this.command, '--host', '127.0.0.1', '--port', String(port), '--strictPort'], {
      cwd: app,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CHAT_DATA: this.dataDir, NO_COLOR: '1' },
    });
    this.url = `http://127.0.0.1:${port}`;
    let out = '';
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`vite ${this.command} did not start: ${out}`)), 60000);
      const read = (chunk) => {
        out += chunk;
        if (out.includes(this.url)) {
          clearTimeout(timer);
          resolve();
        }
      };
      this.process.stdout.on('data', read);
      this.process.stderr.on('data', (chunk) => (out += chunk));
      this.process.once('exit', (code) => reject(new Error(`vite ${this.command} exited (${code}): ${out}`)));
    });
    return this;
  }

  async destroy() {
    if (this.process.exitCode === null) {
      const exited = new Promise((resolve) => this.process.once('exit', resolve));
      this.process.kill();
      await exited;
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** The messages the app kept in its database (the contract's `keepMessage`). */
function kept(dataDir) {
  const db = new Database(join(dataDir, 'chat.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT room, author, text FROM messages ORDER BY id').all();
  } finally {
    db.close();
  }
}

// The Rust example has no such modes: this file is the TypeScript example's only.
const ts = { skip: FRONTEND !== 'ts' };

let browser;
before(async () => {
  if (ts.skip) return;
  if (!existsSync(join(app, 'build', 'handler.js'))) throw new Error(`${app}build is missing: run npm run build in examples/chat-ts`);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

const modes = {
  dev: () => new ViteServer('dev').start(),
  preview: () => new ViteServer('preview').start(),
  production: () => new ChatServer().start(),
};

for (const [mode, start] of Object.entries(modes)) {
  describe(`chat-ts, ${mode}`, ts, () => {
    let server;
    before(async () => (server = await start()));
    after(async () => server?.destroy());

    test('checkpoint 1: rooms are separate; the message is kept in the SQLite database', async (t) => {
      await withScreenshots(t, browser, () => roomsAreSeparate(browser, server));
      assert.deepEqual(
        kept(server.dataDir).map((m) => ({ ...m })),
        [
          { room: 'general', author: 'alice', text: 'hello general' },
          { room: 'random', author: 'carol', text: 'marker in random' },
        ],
      );
    });
    test('checkpoint 2: the tenant room needs a session', (t) => withScreenshots(t, browser, () => tenantNeedsASession(browser, server)));
    test('checkpoint 3: project rooms are authorized on the server', (t) => withScreenshots(t, browser, () => projectsAreAuthorized(browser, server)));

    if (mode === 'dev') {
      test('the browser gets the contract as a client built from its names', async () => {
        const response = await fetch(`${server.url}/src/routes/rooms/%5BroomId%5D/chat.socket.ts`);
        assert.equal(response.status, 200);
        const code = await response.text();
        assert.match(code, /"namespace":\s*"\/rooms\/\[roomId\]\/chat"/);
        for (const secret of [...SERVER_ONLY, '$lib/server/db', 'keepMessage', 'valibot']) assert.ok(!code.includes(secret), secret);
      });
    }
  });
}

test('the client bundle holds none of the contract, the hook or the database module', ts, () => {
  const files = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.js')) files.push(readFileSync(path, 'utf8'));
    }
  };
  walk(join(app, 'build', 'client'));
  const code = files.join('\n');
  assert.ok(code.includes('/rooms/[roomId]/chat'), 'the names-only client is there');
  for (const secret of SERVER_ONLY) assert.ok(!code.includes(secret), `the client bundle contains ${secret}`);
});
