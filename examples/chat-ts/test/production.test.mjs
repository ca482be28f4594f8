// Production as `cargo xtask demo` runs it: the built app (`npm run build`) started with
// `node server.js`, pages and realtime on one port, driven by the official socket.io-client.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Manager } from 'socket.io-client';
import { assertJoinedChat } from './support.mjs';

const app = fileURLToPath(new URL('..', import.meta.url));
const CHAT = '/rooms/[roomId]/chat';
const FORBIDDEN = { ok: false, error: { code: 'forbidden', message: 'forbidden' } };

let server;
let url;
let data;
const managers = [];

before(async () => {
  if (!existsSync(join(app, 'build', 'handler.js'))) throw new Error('build/ is missing: run npm run build first');
  data = mkdtempSync(join(tmpdir(), 'chat-ts-'));
  server = spawn(process.execPath, ['server.js'], {
    cwd: app,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', CHAT_DATA: data },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  url = await new Promise((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (chunk) => {
      out += chunk;
      const found = out.match(/chat demo on (http:\/\/\S+)/);
      if (found) resolve(found[1]);
    });
    server.once('exit', (code) => reject(new Error(`server.js exited (${code}): ${out}`)));
  });
});

after(async () => {
  for (const m of managers) m.engine.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill();
    await exited;
  }
  rmSync(data, { recursive: true, force: true });
});

/** Signs in through the app's endpoint; returns the session cookie. */
async function signIn(user) {
  const response = await fetch(`${url}/auth/login`, {
    method: 'POST',
    body: new URLSearchParams({ user }),
    headers: { origin: url },
    redirect: 'manual',
  });
  assert.equal(response.status, 303);
  const cookie = response.headers.get('set-cookie')?.match(/session=[0-9a-f]+/)?.[0];
  assert.ok(cookie, 'a session cookie');
  return cookie;
}

/** A socket of the chat contract on `path`, with the received events. */
function open(path, cookie) {
  const manager = new Manager(url, { transports: ['websocket'], reconnection: false, ...(cookie ? { extraHeaders: { cookie, origin: url } } : { extraHeaders: { origin: url } }) });
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
  const connected = new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  socket.connect();
  return { socket, received, next, connected, call: (event, payload) => socket.timeout(5000).emitWithAck(event, payload) };
}

test('the pages are served on the same port', async () => {
  const response = await fetch(`${url}/rooms/general`);
  assert.equal(response.status, 200);
  assert.match(await response.text(), /#general/);
});

test('the three checkpoints through server.js', async () => {
  const [alice, bob] = [open('/rooms/general', await signIn('alice')), open('/rooms/random', await signIn('bob'))];
  const guest = open('/rooms/general');
  await Promise.all([alice.connected, bob.connected, guest.connected]);
  for (const c of [alice, bob, guest]) assertJoinedChat(await c.next('liverpc:room'));

  await alice.call('send', { text: 'in general' });
  assert.deepEqual(await guest.next('message'), { room: 'general', from: 'alice', text: 'in general' });
  await bob.call('send', { text: 'in random' });
  await bob.next('message');
  assert.deepEqual(bob.received.filter(([e]) => e === 'message'), [['message', { room: 'random', from: 'bob', text: 'in random' }]]);

  assert.deepEqual(await guest.call('liverpc:join', { room: 'tenant' }), FORBIDDEN);
  assert.deepEqual(await bob.call('liverpc:join', { room: 'project', data: { projectId: 'gemini' } }), FORBIDDEN);
  assert.deepEqual(await alice.call('liverpc:join', { room: 'project', data: { projectId: 'gemini' } }), { ok: true, data: null });
});

test('an endpoint emits to the tenant room through the contract the engine serves', async () => {
  const cookie = await signIn('alice');
  const alice = open('/rooms/general', cookie);
  await alice.connected;
  assert.deepEqual(await alice.call('liverpc:join', { room: 'tenant' }), { ok: true, data: null });
  const response = await fetch(`${url}/api/announce`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/json', origin: url },
    body: JSON.stringify({ text: 'stand-up at 11' }),
  });
  assert.equal(response.status, 200);
  assert.deepEqual(await alice.next('tenant'), { tenant: 'acme', text: 'alice: stand-up at 11' });
});

test('the client bundle holds none of the contract or the hook', async () => {
  const { readdirSync, readFileSync, statSync } = await import('node:fs');
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
  // The contract's validation messages and the session store's file: server code only.
  for (const secret of ['say something', 'at most 500 characters', 'sessions.json', 'liverpc.sockets']) {
    assert.ok(!code.includes(secret), `the client bundle contains ${secret}`);
  }
});
