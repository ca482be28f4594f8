// Graceful shutdown with realtime on (adapter-node's SIGTERM path): in-flight calls finish,
// the pages are told with a transport close and come back to the restarted server by
// themselves, never refused; `sveltekit:shutdown` comes after the engine; the process exits.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Manager } from 'socket.io-client';
import { AppProcess, open, signIn } from './support.mjs';

// A refused handshake's codes (the connect_error message), as liverpc's wire defines them.
const REFUSAL_CODES = ['forbidden_origin', 'unauthenticated', 'forbidden', 'not_found', 'unavailable', 'internal'];
const servers = [];
const managers = [];

after(async () => {
  // No reconnect may outlive the test (a Manager that reconnects keeps the process alive).
  for (const m of managers) m.reconnection(false).engine.close();
  await Promise.all(servers.map((s) => s.stop()));
});

async function started(options) {
  const server = new AppProcess(options);
  servers.push(server);
  return server.start();
}

/** Resolves with the exit, or 'still running' after `ms` (a bound with a wide margin, not a speed claim). */
async function exitWithin(server, ms) {
  let timer;
  const bound = new Promise((resolve) => (timer = setTimeout(resolve, ms, 'still running')));
  try {
    return await Promise.race([server.exited, bound]);
  } finally {
    clearTimeout(timer);
  }
}

/** A socket of the fixture's `hold` contract (route `/`). */
function holdSocket(url) {
  const manager = new Manager(url, { transports: ['websocket'], reconnection: false, extraHeaders: { origin: url } });
  managers.push(manager);
  const socket = manager.socket('/hold', { auth: { path: '/' } });
  const connected = new Promise((resolve, reject) => socket.once('connect', resolve).once('connect_error', reject));
  const closed = new Promise((resolve) => socket.once('disconnect', resolve));
  socket.connect();
  return { socket, connected, closed };
}

test('SIGTERM with 100 calls in flight: each is answered, then the engine closes, then the process exits', async () => {
  const server = await started({ script: 'test/fixtures/hold/server.js', env: { SHUTDOWN_TIMEOUT: '30' } });
  const pages = Array.from({ length: 100 }, () => holdSocket(server.url));
  await Promise.all(pages.map((p) => p.connected));
  // One call per socket (a socket's calls run one at a time), each running when SIGTERM comes.
  const answers = pages.map((p, id) => p.socket.timeout(60000).emitWithAck('hold', { ms: 3000, id }));
  await server.lines(/hold started \d+/g, 100);
  server.process.kill('SIGTERM');

  assert.deepEqual(await Promise.all(answers), pages.map((_, id) => ({ ok: true, data: id })));
  assert.deepEqual(await Promise.all(pages.map((p) => p.closed)), pages.map(() => 'transport close'));
  assert.deepEqual(await exitWithin(server, 60000), { code: 0, signal: null }, server.out);
  // In the server's own output: every handler finished before `sveltekit:shutdown` (where an
  // app closes its database), none was stopped.
  const out = server.out;
  assert.equal((out.match(/hold done \d+/g) ?? []).length, 100);
  assert.ok(!/hold stopped/.test(out), out);
  assert.ok(out.lastIndexOf('hold done') < out.indexOf('hold fixture stopped (SIGTERM)'), out);
});

test('SHUTDOWN_TIMEOUT bounds the drain: a call still running then is stopped, the process exits', async () => {
  const server = await started({ script: 'test/fixtures/hold/server.js', env: { SHUTDOWN_TIMEOUT: '1' } });
  const page = holdSocket(server.url);
  await page.connected;
  const answer = page.socket.timeout(60000).emitWithAck('hold', { ms: 600000, id: 1 }).catch((e) => e.message);
  await server.line(/hold started 1/);
  server.process.kill('SIGTERM');
  assert.equal(await page.closed, 'transport close');
  assert.deepEqual(await exitWithin(server, 30000), { code: 0, signal: null }, server.out);
  assert.match(server.out, /hold stopped 1/);
  void answer;
});

test('after SIGTERM the pages reconnect with backoff to the restarted server, never refused', async () => {
  const first = await started({ env: { SHUTDOWN_TIMEOUT: '10' } });
  const port = new URL(first.url).port;
  const cookie = await signIn(first.url, 'alice');
  const events = [];
  const pages = Array.from({ length: 5 }, (_, i) => {
    const page = open(first.url, '/rooms/general', { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 500, extraHeaders: { cookie, origin: first.url } }, managers);
    page.socket.on('connect', () => events.push([i, 'connect']));
    page.socket.on('disconnect', (reason) => events.push([i, 'disconnect', reason]));
    page.socket.on('connect_error', (e) => events.push([i, 'connect_error', e.message]));
    return page;
  });
  for (const page of pages) assert.deepEqual(await page.outcome, { connected: true });
  const down = pages.map((p) => new Promise((resolve) => p.socket.once('disconnect', resolve)));
  first.process.kill('SIGTERM');
  assert.deepEqual(await Promise.all(down), pages.map(() => 'transport close'));
  assert.deepEqual(await exitWithin(first, 60000), { code: 0, signal: null });

  // The same port, the same sessions: each client comes back on its own.
  const back = pages.map((p) => new Promise((resolve) => p.socket.once('connect', resolve)));
  const second = new AppProcess({ env: { PORT: port }, data: first.data });
  servers.push(second);
  await second.start();
  await Promise.all(back);
  for (const page of pages) assert.deepEqual(await page.next('liverpc:room'), { room: 'chat', status: 'joined' });
  const refusals = events.filter(([, kind, message]) => kind === 'connect_error' && REFUSAL_CODES.includes(message));
  assert.deepEqual(refusals, []);
});
