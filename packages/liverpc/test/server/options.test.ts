// The engine's options from the TypeScript side: limits, and several nodes on a real
// redis-server (Debian's), each an engine in this process behind its own http server.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';

import * as hooks from './app/src/hooks.socket.js';
import * as chatModule from './app/src/routes/rooms/[roomId]/chat.socket.js';
import { redisServer, serve, type Served } from './harness.js';
import { DEFAULT_LIMITS, type Limits } from '../../src/wire.js';

const CHAT = '/rooms/[roomId]/chat';
const contracts = [{ route: '/rooms/[roomId]', exports: chatModule }];

describe('limits set from TypeScript', { timeout: 30_000 }, () => {
  let env: Served;
  before(async () => {
    env = await serve({ hooks, contracts, limits: { maxRooms: 1 } });
  });
  after(() => env.close());

  test('a socket holds at most maxRooms rooms', async () => {
    const alice = env.open(CHAT, '/rooms/general', 's-alice');
    await alice.connected;
    await alice.next('liverpc:room');
    // The auto-joined chat room is the one room allowed: the tenant join is over the limit.
    const answer = (await alice.call('liverpc:join', { room: 'tenant' })) as { ok: boolean; error?: { code: string } };
    assert.equal(answer.ok, false);
    assert.equal(answer.error?.code, 'rate_limited');
  });
});

describe('every Limits field set from TypeScript', { timeout: 30_000 }, () => {
  // Every field of the Rust `Limits`, read from the generated defaults: a new field is covered
  // without touching this test. Each is doubled; maxRooms is 1, so that one shows it applies.
  const limits = {
    ...(Object.fromEntries(Object.entries(DEFAULT_LIMITS).map(([key, value]) => [key, value * 2])) as unknown as Limits),
    maxRooms: 1,
  };
  let env: Served;
  before(async () => {
    env = await serve({ hooks, contracts, limits });
  });
  after(() => env?.close());

  test('the engine accepts them all, and applies them', async () => {
    assert.deepEqual(Object.keys(limits).sort(), Object.keys(DEFAULT_LIMITS).sort());
    for (const [key, value] of Object.entries(limits)) assert.notEqual(value, DEFAULT_LIMITS[key as keyof Limits], key);
    const alice = env.open(CHAT, '/rooms/general', 's-alice');
    await alice.connected;
    await alice.next('liverpc:room');
    const answer = (await alice.call('liverpc:join', { room: 'tenant' })) as { ok: boolean; error?: { code: string } };
    assert.equal(answer.error?.code, 'rate_limited');
  });
});

describe('connection caps set from TypeScript', { timeout: 30_000 }, () => {
  let env: Served;
  before(async () => {
    env = await serve({ hooks, contracts, limits: { maxConnectionsPerAddress: 2 } });
  });
  after(() => env.close());

  test('the websockets Node hands over count against the caps, per address', async () => {
    const first = env.open(CHAT, '/rooms/general', 's-alice');
    const second = env.open(CHAT, '/rooms/general', 's-bob');
    await Promise.all([first.connected, second.connected]);
    // A third from the same address is closed at once.
    const third = env.open(CHAT, '/rooms/general', 's-alice');
    await assert.rejects(third.connected, 'over the cap, the connection is closed');
    // Another address is still served (Linux routes all of 127.0.0.0/8 to loopback).
    const other = env.open(CHAT, '/rooms/general', 's-alice', { localAddress: '127.0.0.2' });
    await other.connected;
  });
});

describe('two nodes on one Redis', { timeout: 60_000 }, () => {
  let redis: { url: string; process: ChildProcess };
  let a: Served;
  let b: Served;
  before(async () => {
    redis = await redisServer();
    a = await serve({ hooks, contracts, redis: redis.url });
    b = await serve({ hooks, contracts, redis: redis.url });
  });
  after(async () => {
    await a.close();
    await b.close();
    redis.process.kill('SIGKILL');
  });

  test('a message sent on node A reaches the room on node B, and only that room', async () => {
    const alice = a.open(CHAT, '/rooms/general', 's-alice');
    const carol = b.open(CHAT, '/rooms/general', 's-carol');
    const bob = b.open(CHAT, '/rooms/random', 's-bob');
    await Promise.all([alice.connected, carol.connected, bob.connected]);
    for (const c of [alice, carol, bob]) assert.deepEqual(await c.next('liverpc:room'), { room: 'chat', status: 'joined' });

    await alice.call('send', { text: 'across nodes' });
    assert.deepEqual(await carol.next('message'), { room: 'general', from: 'alice', text: 'across nodes' });
    // Barrier: bob's own message in random comes after anything that could have leaked.
    await bob.call('send', { text: 'random only' });
    await bob.next('message', (m) => (m as { text: string }).text === 'random only');
    assert.deepEqual(bob.received.filter(([e]) => e === 'message').length, 1);
  });

  test('an emit from anywhere on node B reaches a tenant member on node A', async () => {
    const alice = a.open(CHAT, '/rooms/general', 's-alice');
    await alice.connected;
    await alice.next('liverpc:room');
    assert.deepEqual(await alice.call('liverpc:join', { room: 'tenant' }), { ok: true, data: null });
    b.engine.emit(CHAT, ['tenant', 'acme'], 'message', { room: 'tenant', from: 'server', text: 'from B' });
    assert.deepEqual(await alice.next('message', (m) => (m as { text: string }).text === 'from B'), {
      room: 'tenant',
      from: 'server',
      text: 'from B',
    });
  });
});
