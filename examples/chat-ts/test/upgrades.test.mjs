// Upgrade requests liverpc does not own (Rule 10): answered or passed on, never left open.
// Against the built app as a process, driven by curl, raw sockets, ws and socket.io-client.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { AppProcess, eventually, open, signIn } from './support.mjs';

const run = promisify(execFile);
const servers = [];
const managers = [];

after(async () => {
  for (const m of managers) m.engine.close();
  await Promise.all(servers.map((s) => s.stop()));
});

async function started(options) {
  const server = await new AppProcess(options).start();
  servers.push(server);
  return server;
}

/**
 * Sends `request` on a new connection and resolves with everything the server sent until it
 * closed; with `giveUp`, the client closes right after sending (a client that leaves).
 */
function raw(url, request, { giveUp = false } = {}) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => (text += chunk));
    socket.on('error', (e) => (giveUp ? resolve('') : reject(e)));
    socket.on('close', () => resolve(text));
    socket.write(request, () => giveUp && socket.destroy());
  });
}

const h2c = (host) => `GET /rooms/general HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n`;
const websocketElsewhere = (host) =>
  `GET /elsewhere HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;

let server;
before(async () => {
  server = await started();
});

test('curl --http2 to a page answers 200, and its form post reaches the app', async () => {
  const page = await run('curl', ['--http2', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '30', `${server.url}/rooms/general`]);
  assert.equal(page.stdout, '200');
  // A body after an upgrade request is the request's body, as Node reads it without upgrades.
  const post = await run('curl', ['--http2', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '30', '-H', `origin: ${server.url}`, '-d', 'user=alice', `${server.url}/auth/login`]);
  assert.equal(post.stdout, '303');
});

test('1,000 foreign upgrades leave the server\'s descriptor count where it was', async () => {
  const host = new URL(server.url).host;
  // Warm: the first page render and upgrade open what the process keeps open (files, pools).
  await raw(server.url, h2c(host));
  await raw(server.url, websocketElsewhere(host));
  const before = server.descriptors();
  const kinds = [
    async () => assert.match(await raw(server.url, h2c(host)), /^HTTP\/1\.1 200 [^]*#general/),
    async () => assert.match(await raw(server.url, websocketElsewhere(host)), /^HTTP\/1\.1 404 /),
    // Clients that give up at once, before any answer.
    () => raw(server.url, h2c(host), { giveUp: true }),
    () => raw(server.url, websocketElsewhere(host), { giveUp: true }),
  ];
  for (let batch = 0; batch < 20; batch++) {
    await Promise.all(Array.from({ length: 50 }, (_, i) => kinds[(batch * 50 + i) % kinds.length]()));
  }
  await eventually(() => server.descriptors().length <= before.length, {
    describe: () => `descriptors before: ${before.length}, now: ${server.descriptors().length} (${server.descriptors().filter((d) => !before.includes(d)).join(', ')})`,
  });
  // And the server still serves.
  assert.equal((await fetch(`${server.url}/rooms/general`)).status, 200);
});

test('an app\'s own ws server on /ws works beside liverpc', async () => {
  const withWs = await started({ script: 'test/fixtures/serve.mjs', env: { WS_PATH: '/ws' } });
  const ws = new WebSocket(`${withWs.url.replace('http', 'ws')}/ws`);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.send('hello');
  const [echo] = await new Promise((resolve) => ws.once('message', (...m) => resolve(m)));
  assert.equal(String(echo), 'echo: hello');

  // liverpc's endpoint beside it: ws never sees those upgrades (it would answer them 400).
  const alice = open(withWs.url, '/rooms/general', { extraHeaders: { cookie: await signIn(withWs.url, 'alice'), origin: withWs.url } }, managers);
  const guest = open(withWs.url, '/rooms/general', { extraHeaders: { origin: withWs.url } }, managers);
  assert.deepEqual(await alice.outcome, { connected: true });
  assert.deepEqual(await guest.outcome, { connected: true });
  await alice.call('send', { text: 'beside ws' });
  assert.deepEqual(await guest.next('message'), { room: 'general', from: 'alice', text: 'beside ws' });

  // An upgrade neither owns is the app's listener's: ws answers it (400) as it would alone.
  assert.match(await raw(withWs.url, websocketElsewhere(new URL(withWs.url).host)), /^HTTP\/1\.1 400 /);
  ws.close();
  await new Promise((resolve) => ws.once('close', resolve));
});

test('foreign upgrades past the cap are answered 503 and closed', async () => {
  const capped = await started({ script: 'test/fixtures/serve.mjs', env: { SERVE_OPTIONS: JSON.stringify({ maxForeignUpgrades: 2 }) } });
  const { hostname, port } = new URL(capped.url);
  const sockets = () => capped.descriptors().filter((d) => d.startsWith('socket:')).length;
  const before = sockets();
  // Two form posts whose bodies never finish: both held by the app, waiting for the body.
  const held = [];
  for (let i = 0; i < 2; i++) {
    const socket = connect(Number(port), hostname);
    socket.on('error', () => {});
    held.push(socket);
    socket.write(`POST /auth/login HTTP/1.1\r\nHost: ${hostname}:${port}\r\nOrigin: ${capped.url}\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nuser=`);
  }
  // Each held one has reached the app (one more descriptor each); then the third is over.
  await eventually(() => sockets() >= before + 2, { describe: () => `${sockets()} sockets, ${before} before` });
  assert.match(await raw(capped.url, h2c(`${hostname}:${port}`)), /^HTTP\/1\.1 503 /);
  for (const socket of held) socket.destroy();
  await eventually(() => sockets() <= before, { describe: () => `${sockets()} sockets, ${before} before` });
  assert.match(await raw(capped.url, h2c(`${hostname}:${port}`)), /^HTTP\/1\.1 200 /);
});
