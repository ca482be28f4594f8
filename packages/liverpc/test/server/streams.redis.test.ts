// Room streams of the TypeScript front-end on two nodes sharing one redis-server (started
// here): the stream is in Redis, so a page on node A whose websocket is killed while node B
// sends 200 messages gets all 200 on reconnect, in order, once (`recovered: true`); past the
// window, and after Redis restarted empty, it is told (`recovered: false`, `missed`); a history
// read on node B has what node A sent. Pages are the real client on official socket.io-client.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';

import { event, room, socket } from 'liverpc/server';
// Package-internal (package.json "imports"): the page's Managers, to kill their websocket.
import { managersOf } from '#internal/client/manager.js';

import { redisServer, serve, type Served } from './harness.js';
import { Inbox, until } from '../support/wait.js';

type Numbered = { n: number; text: string };

const NS = '/feeds/[feedId]/shared';
const shared = socket({
  toClient: { message: event<Numbered>() },
  rooms: {
    feed: room.private(({ params }) => ['feed', params.feedId], { autoJoin: true, history: { size: 256 } }),
  },
});
const contracts = [{ route: '/feeds/[feedId]', exports: { shared } }];

const numbered = (label: string, n: number) => Array.from({ length: n }, (_, i) => `${label}-${i + 1}`);

describe('room streams on two nodes sharing Redis (TypeScript contract)', { timeout: 60_000 }, () => {
  let redis: { url: string; process: ChildProcess };
  let a: Served;
  let b: Served;
  before(async () => {
    redis = await redisServer();
    a = await serve({ contracts, redis: redis.url });
    b = await serve({ contracts, redis: redis.url });
  });
  after(async () => {
    await a.close();
    await b.close();
    redis.process.kill('SIGKILL');
  });

  /** Emits `label-1` .. `label-n` to feed `feed` from `node`. */
  const send = (node: Served, feed: string, label: string, count: number) => {
    for (let i = 1; i <= count; i++) node.engine.emit(NS, ['feed', feed], 'message', { n: i, text: `${label}-${i}` });
  };
  const page = (node: Served, feed: string) => shared({ url: node.url, path: `/feeds/${feed}` });
  const killWebsocket = (node: Served) => {
    for (const manager of managersOf(node.url, undefined)) manager.engine.close();
  };
  const joined = (client: ReturnType<typeof page>, ms?: number) =>
    until(client.state, (s) => s.status === 'connected' && s.rooms.feed?.status === 'joined', ms);

  test('killed on node A while node B sends 200: all 200 on reconnect, in order, once', async () => {
    const client = page(a, 'kept');
    const inbox = new Inbox<Numbered>(client.on.message);
    await joined(client);
    send(b, 'kept', 'before', 1);
    await inbox.next((m) => m.text === 'before-1');

    killWebsocket(a);
    await until(client.state, (s) => s.status === 'reconnecting');
    send(b, 'kept', 'away', 200);
    const back = await joined(client, 15_000);
    assert.equal(back.rooms.feed?.recovered, true);
    await inbox.next((m) => m.text === 'away-200', 10_000);
    send(b, 'kept', 'after', 1);
    await inbox.next((m) => m.text === 'after-1');
    assert.deepEqual(inbox.items.map((m) => m.text), ['before-1', ...numbered('away', 200), 'after-1']);
    client.close();
  });

  test('past the window, rejoining on node B: recovered false and the missed event', async () => {
    const first = page(a, 'lossy');
    const inbox = new Inbox<Numbered>(first.on.message);
    await joined(first);
    send(b, 'lossy', 'before', 1);
    await inbox.next((m) => m.text === 'before-1');
    // The page's last position, as its client has it (what a server-rendered page is handed).
    const { position } = await a.engine.history(NS, ['feed', 'lossy'], 1);
    assert.equal(position.offset, 1);
    first.close();

    send(b, 'lossy', 'away', 300);
    // Node B's read follows its own appends: all 300 are in the stream now.
    assert.equal((await b.engine.history(NS, ['feed', 'lossy'], 1)).position.offset, 301);
    const client = shared({ url: b.url, path: '/feeds/lossy', since: position });
    const again = new Inbox<Numbered>(client.on.message);
    const missed: string[] = [];
    client.missed((gap) => missed.push(gap.room));
    const back = await joined(client);
    assert.equal(back.rooms.feed?.recovered, false);
    assert.deepEqual(missed, ['feed']);
    send(a, 'lossy', 'after', 1);
    await again.next((m) => m.text === 'after-1');
    assert.deepEqual(again.items.map((m) => m.text), ['after-1']);
    client.close();
  });

  test('history read on node B has what node A sent, with the same positions', async () => {
    send(a, 'ssr', 'old', 5);
    const onA = await a.engine.history(NS, ['feed', 'ssr'], 3);
    const onB = await b.engine.history(NS, ['feed', 'ssr'], 3);
    assert.deepEqual(onB.messages.map((m) => (m.payload as Numbered).text), ['old-3', 'old-4', 'old-5']);
    assert.deepEqual(onB.messages.map((m) => m.position.offset), [3, 4, 5]);
    assert.deepEqual(onB.position, onA.position);
  });

  test('Redis restarted empty: the rejoin is not recovered and the page is told', async () => {
    const client = page(a, 'restart');
    const inbox = new Inbox<Numbered>(client.on.message);
    const missed: string[] = [];
    client.missed((gap) => missed.push(gap.room));
    await joined(client);
    send(b, 'restart', 'before', 1);
    await inbox.next((m) => m.text === 'before-1');

    // Redis dies before the websocket: the rejoin cannot find the stream the page knew.
    redis.process.kill('SIGKILL');
    await new Promise((resolve) => redis.process.once('exit', resolve));
    killWebsocket(a);
    await until(client.state, (s) => s.status === 'reconnecting');
    redis = await redisServer(Number(new URL(redis.url).port));
    const back = await joined(client, 15_000);
    assert.equal(back.rooms.feed?.recovered, false);
    assert.deepEqual(missed, ['feed']);
    client.close();
  });
});
