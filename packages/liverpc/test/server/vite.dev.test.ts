// liverpc/vite's sockets() in a real Vite dev server (Vite's JS API) on a copy of the tutorial
// app: contracts loaded through Vite's SSR modules, the websocket on the dev server's port
// driven by the official socket.io-client, the browser's module built from names only, and a
// new contract registered (the old engine closed). Then `vite build`: the client bundle holds
// none of the server code.

import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { build, createServer, type ViteDevServer } from 'vite';
import { sockets } from 'liverpc/vite';

import { connectTo } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
// Inside the package, so that the copy resolves `liverpc/server` (self-reference) and valibot.
const scratch = join(here, '..', '..', '..', 'vite-scratch');
const CHAT = '/rooms/[roomId]/chat';
const FORBIDDEN = { ok: false, error: { code: 'forbidden', message: 'forbidden' } };
/** Source of the server side that must never reach the browser. */
const SERVER_ONLY = ['projectIds', 'tenantId', 'the session store exploded', 'minLength'];

function copyApp(name: string): string {
  // The test sources are compiled; the app is copied from its TypeScript sources.
  const source = join(here, '..', '..', '..', '..', 'test', 'server', 'app');
  const root = join(scratch, name);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  cpSync(source, root, { recursive: true });
  return root;
}

describe('sockets() in vite dev', { timeout: 60_000 }, () => {
  let vite: ViteDevServer;
  let plugin: ReturnType<typeof sockets>;
  let root: string;
  let url: string;
  let clients: ReturnType<typeof connectTo>;
  before(async () => {
    root = copyApp('dev');
    plugin = sockets({ client: 'liverpc' });
    vite = await createServer({
      root,
      configFile: false,
      logLevel: 'silent',
      plugins: [plugin],
      server: { host: '127.0.0.1', port: 0, strictPort: false },
      optimizeDeps: { noDiscovery: true, include: [] },
    });
    await vite.listen();
    url = `http://127.0.0.1:${(vite.httpServer?.address() as AddressInfo).port}`;
    await plugin.api.engine();
    clients = connectTo(url);
  });
  after(async () => {
    clients?.close();
    await vite?.close();
    rmSync(join(scratch, 'dev'), { recursive: true, force: true });
  });

  test('the three checkpoints on the dev server port', async () => {
    const alice = clients.open(CHAT, '/rooms/general', 's-alice');
    const bob = clients.open(CHAT, '/rooms/random', 's-bob');
    const guest = clients.open(CHAT, '/rooms/general');
    await Promise.all([alice.connected, bob.connected, guest.connected]);
    for (const c of [alice, bob, guest]) assert.deepEqual(await c.next('liverpc:room'), { room: 'chat', status: 'joined' });
    // 1: general and random are different rooms (bob's own message is the barrier).
    await alice.call('send', { text: 'in general' });
    assert.deepEqual(await guest.next('message'), { room: 'general', from: 'alice', text: 'in general' });
    await bob.call('send', { text: 'in random' });
    await bob.next('message');
    assert.deepEqual(bob.received.filter(([e]) => e === 'message'), [['message', { room: 'random', from: 'bob', text: 'in random' }]]);
    // 2: no session, the tenant room fails on the server; with one, it joins.
    assert.deepEqual(await guest.call('liverpc:join', { room: 'tenant' }), FORBIDDEN);
    assert.deepEqual(await alice.call('liverpc:join', { room: 'tenant' }), { ok: true, data: null });
    // 3: a project bob cannot access is refused `forbidden`, one he can is joined.
    assert.deepEqual(await bob.call('liverpc:join', { room: 'project', data: { projectId: 'gemini' } }), FORBIDDEN);
    assert.deepEqual(await bob.call('liverpc:join', { room: 'project', data: { projectId: 'apollo' } }), { ok: true, data: null });
  });

  test('the SSR instance a page or a form action imports is the one the engine serves', async () => {
    const alice = clients.open(CHAT, '/rooms/general', 's-alice');
    await alice.connected;
    await alice.next('liverpc:room');
    const mod = (await vite.ssrLoadModule(join(root, 'src', 'routes', 'rooms', '[roomId]', 'chat.socket.ts'))) as typeof import('./app/src/routes/rooms/[roomId]/chat.socket.js');
    assert.ok(mod.chat.to(['chat', 'general']).emit('message', { room: 'general', from: 'an action', text: 'from SSR' }) >= 1);
    assert.deepEqual(await alice.next('message', (m) => (m as { from: string }).from === 'an action'), { room: 'general', from: 'an action', text: 'from SSR' });
  });

  test('the browser gets a client built from the names, the server code stays out', async () => {
    const response = await fetch(`${url}/src/routes/rooms/%5BroomId%5D/chat.socket.ts`);
    assert.equal(response.status, 200);
    const code = await response.text();
    assert.match(code, /"namespace":\s*"\/rooms\/\[roomId\]\/chat"/);
    assert.match(code, /"autoJoin":\s*\["chat"\]/);
    for (const secret of [...SERVER_ONLY, 'liverpc/server', 'valibot']) assert.ok(!code.includes(secret), secret);
  });

  test('a change registers a new engine and closes the old one: its pages reconnect to the new contracts', async () => {
    const alice = clients.open(CHAT, '/rooms/general', 's-alice');
    await alice.connected;
    // An Engine.IO close, which the page's client answers by reconnecting (never a refusal).
    const dropped = new Promise<string>((resolve) => alice.socket.once('disconnect', resolve));
    const next = plugin.api.nextEngine();
    mkdirSync(join(root, 'src', 'routes', 'lobby'), { recursive: true });
    writeFileSync(
      join(root, 'src', 'routes', 'lobby', 'hello.socket.ts'),
      "import { handler, socket } from 'liverpc/server';\n" +
        "export const hello = socket({ fromClient: { greet: handler(({ locals }) => `pong ${locals.user?.name ?? 'guest'}`) } });\n",
    );
    await next;
    assert.equal(await dropped, 'transport close');
    const fresh = connectTo(url);
    try {
      const hello = fresh.open('/lobby/hello', '/lobby', 's-carol');
      await hello.connected;
      assert.deepEqual(await hello.call('greet', null), { ok: true, data: 'pong carol' });
    } finally {
      fresh.close();
    }
  });

});

test('vite build: the client bundle holds none of the hook or room functions', { timeout: 60_000 }, async () => {
  const root = copyApp('build');
  try {
    await build({
      root,
      configFile: false,
      logLevel: 'silent',
      plugins: [sockets({ client: 'liverpc' })],
      build: { outDir: join(root, 'dist'), minify: false },
    });
    const assets = join(root, 'dist', 'assets');
    const code = readdirSync(assets)
      .filter((f) => f.endsWith('.js'))
      .map((f) => readFileSync(join(assets, f), 'utf8'))
      .join('\n');
    // The client is there (its namespace and rooms), the server code is not.
    assert.ok(code.includes('/rooms/[roomId]/chat'));
    assert.ok(code.includes('"tenant"'));
    for (const secret of SERVER_ONLY) assert.ok(!code.includes(secret), `the bundle contains ${secret}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
