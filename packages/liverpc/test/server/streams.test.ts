// Room streams on the TypeScript front-end: a room declared with `history` gives its messages
// positions; a page whose websocket is killed while 200 are sent gets all 200 on reconnect, in
// order, once (`recovered: true`); past the window it is told; server code reads the history
// with positions and a client started from it (`since`) continues exactly after it.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import type { Position } from 'liverpc';
import { event, room, socket } from 'liverpc/server';
// Package-internal (package.json "imports"): the page's Managers, to kill their websocket.
import { managersOf } from '#internal/client/manager.js';

import { serve, type Served } from './harness.js';
import { Inbox, until } from '../support/wait.js';

type Numbered = { n: number; text: string };

const feeds = socket({
  toClient: { message: event<Numbered>() },
  rooms: {
    feed: room.private(({ params }) => ['feed', params.feedId], { autoJoin: true, history: { size: 256 } }),
  },
});

const numbered = (label: string, n: number) => Array.from({ length: n }, (_, i) => `${label}-${i + 1}`);

describe('room streams (TypeScript contract)', { timeout: 60_000 }, () => {
  let env: Served;
  before(async () => {
    env = await serve({ contracts: [{ route: '/feeds/[feedId]', exports: { feeds } }] });
  });
  after(() => env.close());

  const send = (feed: string, label: string, count: number) => {
    for (let i = 1; i <= count; i++) feeds.to(['feed', feed]).emit('message', { n: i, text: `${label}-${i}` });
  };
  const page = (feed: string, since?: Position) =>
    feeds({ url: env.url, path: `/feeds/${feed}`, ...(since === undefined ? {} : { since }) });
  const killWebsocket = () => {
    for (const manager of managersOf(env.url, undefined)) manager.engine.close();
  };

  test('a websocket killed while 200 messages are sent: all 200 on reconnect, in order, once', async () => {
    const client = page('kept');
    const inbox = new Inbox<Numbered>(client.on.message);
    await until(client.state, (s) => s.status === 'connected' && s.rooms.feed?.status === 'joined');
    send('kept', 'before', 1);
    await inbox.next((m) => m.text === 'before-1');

    killWebsocket();
    await until(client.state, (s) => s.status === 'reconnecting');
    send('kept', 'away', 200);
    const back = await until(client.state, (s) => s.status === 'connected' && s.rooms.feed?.status === 'joined', 15_000);
    assert.equal(back.rooms.feed?.recovered, true);
    await inbox.next((m) => m.text === 'away-200', 10_000);
    send('kept', 'after', 1);
    await inbox.next((m) => m.text === 'after-1');
    assert.deepEqual(inbox.items.map((m) => m.text), ['before-1', ...numbered('away', 200), 'after-1']);
    client.close();
  });

  test('past the window: recovered false and the missed event', async () => {
    const client = page('lossy');
    const inbox = new Inbox<Numbered>(client.on.message);
    const missed: string[] = [];
    client.missed((gap) => missed.push(gap.room));
    await until(client.state, (s) => s.status === 'connected' && s.rooms.feed?.status === 'joined');
    send('lossy', 'before', 1);
    await inbox.next((m) => m.text === 'before-1');

    killWebsocket();
    await until(client.state, (s) => s.status === 'reconnecting');
    send('lossy', 'away', 300);
    const back = await until(client.state, (s) => s.status === 'connected' && s.rooms.feed?.status === 'joined', 15_000);
    assert.equal(back.rooms.feed?.recovered, false);
    assert.deepEqual(missed, ['feed']);
    send('lossy', 'after', 1);
    await inbox.next((m) => m.text === 'after-1');
    assert.deepEqual(inbox.items.map((m) => m.text), ['before-1', 'after-1']);
    client.close();
  });

  test('history from server code, then a client from its position: no gap, no duplicate', async () => {
    send('ssr', 'old', 80);
    const history = await feeds.history(['feed', 'ssr'], { limit: 50 });
    assert.deepEqual(history.messages.map((m) => m.payload.text), numbered('old', 80).slice(30));
    assert.deepEqual(history.messages.map((m) => m.position.offset), Array.from({ length: 50 }, (_, i) => 31 + i));
    assert.equal(history.position.offset, 80);
    assert.ok(history.messages.every((m) => m.event === 'message'));
    // Sent between the server's render and the page's join: the client must get exactly these.
    send('ssr', 'meanwhile', 5);
    const client = page('ssr', history.position);
    const inbox = new Inbox<Numbered>(client.on.message);
    const joined = await until(client.state, (s) => s.status === 'connected' && s.rooms.feed?.status === 'joined');
    assert.equal(joined.rooms.feed?.recovered, true);
    await inbox.next((m) => m.text === 'meanwhile-5');
    send('ssr', 'live', 1);
    await inbox.next((m) => m.text === 'live-1');
    assert.deepEqual(inbox.items.map((m) => m.text), [...numbered('meanwhile', 5), 'live-1']);
    client.close();
  });

  test('history of a key without a stream is refused by name', async () => {
    await assert.rejects(feeds.history(['other', 'x']), /no history/);
  });
});
