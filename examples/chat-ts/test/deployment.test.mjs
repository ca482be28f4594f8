// adapter-node's deployment contract with realtime on: each variable it documents, set on the
// built app as a process (`node server.js`, or test/fixtures/serve.mjs for options server.js
// leaves at their defaults), means the same for the pages and for the sockets.

import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect, createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { AppProcess, open, signIn } from './support.mjs';

const servers = [];
const managers = [];

after(async () => {
  for (const m of managers) m.engine.close();
  await Promise.all(servers.map((s) => s.stop()));
});

async function started(options) {
  const server = new AppProcess(options);
  servers.push(server);
  return server.start();
}

/** socket.io-client's outcome for a guest on /rooms/general with these handshake headers. */
async function connects(url, headers, options = {}) {
  const { outcome } = open(url, '/rooms/general', { extraHeaders: headers, ...options }, managers);
  const result = await outcome;
  return result.connected ? true : result.error.message;
}

test('ORIGIN: the public origin passes the Origin check, as it passes SvelteKit\'s', async () => {
  const origin = 'https://chat.example';
  const plain = await started();
  assert.equal(await connects(plain.url, { origin }), 'forbidden_origin', 'without ORIGIN, another origin is refused');
  const behind = await started({ env: { ORIGIN: origin } });
  // Host is the server's own address, as a proxy that rewrites Host sends it.
  assert.equal(await connects(behind.url, { origin }), true);
  assert.equal(await connects(behind.url, { origin: 'https://evil.example' }), 'forbidden_origin');
  await signIn(behind.url, 'alice', origin);
});

test('HOST_HEADER, PORT_HEADER, PROTOCOL_HEADER: the forwarded host is the page\'s own', async () => {
  const server = await started({ env: { HOST_HEADER: 'x-forwarded-host', PORT_HEADER: 'x-forwarded-port', PROTOCOL_HEADER: 'x-forwarded-proto' } });
  const forwarded = { 'x-forwarded-host': 'public.example', 'x-forwarded-port': '8443', 'x-forwarded-proto': 'https' };
  assert.equal(await connects(server.url, { origin: 'https://public.example:8443', ...forwarded }), true);
  assert.equal(await connects(server.url, { origin: 'https://public.example:8443', ...forwarded, 'x-forwarded-host': 'other.example' }), 'forbidden_origin');
  // The same headers make adapter-node's origin for the form post's check.
  const response = await fetch(`${server.url}/auth/login`, {
    method: 'POST',
    body: new URLSearchParams({ user: 'alice' }),
    headers: { origin: 'https://public.example:8443', ...forwarded },
    redirect: 'manual',
  });
  assert.equal(response.status, 303);
});

test('ADDRESS_HEADER and XFF_DEPTH: the per-address cap counts forwarded clients, only when set', async () => {
  const limits = JSON.stringify({ limits: { maxConnectionsPerAddress: 1 } });
  const trusting = await started({ script: 'test/fixtures/serve.mjs', env: { SERVE_OPTIONS: limits, ADDRESS_HEADER: 'x-forwarded-for', XFF_DEPTH: '2' } });
  const as = (xff) => ({ origin: trusting.url, 'x-forwarded-for': xff });
  // XFF_DEPTH=2: the second entry from the right is the client (the rightmost is a proxy's).
  assert.equal(await connects(trusting.url, as('203.0.113.9, 198.51.100.1, 10.0.0.9')), true);
  assert.equal(await connects(trusting.url, as('198.51.100.2, 10.0.0.9')), true, 'another client is another address');
  assert.notEqual(await connects(trusting.url, as('198.51.100.1, 10.0.0.7')), true, 'the same client twice is over its cap of 1');
  assert.notEqual(await connects(trusting.url, { origin: trusting.url }), true, 'no header: refused, as adapter-node fails the request');

  const untrusting = await started({ script: 'test/fixtures/serve.mjs', env: { SERVE_OPTIONS: limits } });
  assert.equal(await connects(untrusting.url, { origin: untrusting.url, 'x-forwarded-for': '198.51.100.1' }), true);
  assert.notEqual(await connects(untrusting.url, { origin: untrusting.url, 'x-forwarded-for': '198.51.100.2' }), true, 'never trusted by default: one address');
});

test('BODY_SIZE_LIMIT: adapter-node\'s handler applies it', async () => {
  const server = await started({ env: { BODY_SIZE_LIMIT: '1K' } });
  const response = await fetch(`${server.url}/auth/login`, {
    method: 'POST',
    body: new URLSearchParams({ user: 'alice', padding: 'x'.repeat(4096) }),
    headers: { origin: server.url },
    redirect: 'manual',
  });
  assert.equal(response.status, 413);
});

test('SOCKET_PATH: pages and the engine on a Unix socket', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chat-ts-sock-'));
  try {
    const path = join(dir, 'app.sock');
    const server = await started({ env: { SOCKET_PATH: path, PORT: undefined } });
    assert.equal(server.url, path);
    const status = await new Promise((resolve, reject) => {
      request({ socketPath: path, path: '/rooms/general' }, (res) => resolve(res.resume().statusCode)).on('error', reject).end();
    });
    assert.equal(status, 200);
    // A websocket handshake over it: the engine answers 101 and its Engine.IO open packet.
    const text = await new Promise((resolve, reject) => {
      const socket = connect(path);
      let got = '';
      socket.setEncoding('latin1');
      socket.on('error', reject);
      socket.on('data', (chunk) => {
        got += chunk;
        if (got.includes('"sid"')) {
          socket.destroy();
          resolve(got);
        }
      });
      socket.write('GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    });
    assert.match(text, /^HTTP\/1\.1 101 /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('LISTEN_FDS, LISTEN_PID and IDLE_TIMEOUT: socket activation, then the idle shutdown', async () => {
  // The test is systemd: it listens, and the app inherits the socket as descriptor 3.
  const listener = createServer();
  await new Promise((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const { port } = listener.address();
  let server;
  try {
    server = await started({
      // LISTEN_PID is the app's own pid: the shell's, which exec keeps.
      script: ['sh', '-c', 'LISTEN_PID=$$ exec "$0" server.js', process.execPath],
      env: { LISTEN_FDS: '1', IDLE_TIMEOUT: '1' },
      // The listening socket's descriptor (child_process passes a number through as is).
      stdio: ['ignore', 'pipe', 'pipe', listener._handle.fd],
    });
  } finally {
    listener.close();
  }
  await server.line(/Listening on file descriptor 3/);
  assert.equal(server.url, `http://127.0.0.1:${port}`);

  // A page's socket (an upgrade is not a request: it does not start the idle timer) ...
  const guest = open(server.url, '/rooms/general', { extraHeaders: { origin: server.url } }, managers);
  assert.deepEqual(await guest.outcome, { connected: true });
  const reason = new Promise((resolve) => guest.socket.once('disconnect', resolve));
  // ... then a request: a second after it, adapter-node puts the app to sleep.
  assert.equal((await fetch(`${server.url}/rooms/general`)).status, 200);
  assert.deepEqual(await server.exited, { code: 0, signal: null });
  assert.match(server.out, /chat demo stopped \(IDLE\)/);
  // Told as a transport close: socket.io-client reconnects (and systemd starts the app again).
  assert.equal(await reason, 'transport close');
});

test('SIGTERM and SHUTDOWN_TIMEOUT: pages are told, the process exits by itself', async () => {
  const server = await started({ env: { SHUTDOWN_TIMEOUT: '20' } });
  const cookie = await signIn(server.url, 'alice');
  const pages = Array.from({ length: 5 }, () => open(server.url, '/rooms/general', { extraHeaders: { cookie, origin: server.url } }, managers));
  for (const page of pages) assert.deepEqual(await page.outcome, { connected: true });
  const reasons = pages.map((page) => new Promise((resolve) => page.socket.once('disconnect', resolve)));
  server.process.kill('SIGTERM');
  // A bound with a wide margin over SHUTDOWN_TIMEOUT, not a speed claim.
  let timer;
  const exit = await Promise.race([server.exited, new Promise((resolve) => (timer = setTimeout(resolve, 60000, 'still running')))]);
  clearTimeout(timer);
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.match(server.out, /chat demo stopped \(SIGTERM\)/);
  // A transport close, never a Socket.IO disconnect: each page's client reconnects by itself.
  assert.deepEqual(await Promise.all(reasons), pages.map(() => 'transport close'));
});
