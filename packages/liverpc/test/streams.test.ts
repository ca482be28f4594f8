// Room streams on the Rust front-end (the fixture's `feed` room keeps its last 256 messages):
// a page whose websocket is killed gets what it missed on reconnect, in order, once; past the
// window it is told (`recovered: false` and `missed`).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

// Package-internal (package.json "imports"): the page's Managers, to kill their websocket.
import { managersOf } from '#internal/client/manager.js';

import { useFixture } from './support/clients.js';
import { Inbox, until } from './support/wait.js';
import type { Message } from './fixture/core/rooms/[roomId]/chat.socket.js';

const numbered = (label: string, n: number) => Array.from({ length: n }, (_, i) => `${label}-${i + 1}`);

describe('room streams (Rust contract)', { timeout: 60_000 }, () => {
  const env = useFixture();

  const killWebsocket = (user: string) => {
    const manager = managersOf(env.fixture.url, { cookie: `session=${user}` })[0];
    assert.ok(manager !== undefined, `${user} has no connection`);
    manager.engine.close();
  };

  test('a websocket killed while 200 messages are sent: on reconnect all 200, in order, once', async () => {
    const alice = await env.clients.connected('alice', '/rooms/kept');
    const feed = new Inbox<Message>((f) => alice.on.message((m) => m.room === 'feed/kept' && f(m)));
    await alice.join.feed();
    assert.equal(await env.fixture.feed('kept', 'before', 1), 1);
    await feed.next((m) => m.text === 'before-1');

    killWebsocket('alice');
    await until(alice.state, (s) => s.status === 'reconnecting');
    // Sent while the page is away (to a dying connection, or to nobody).
    await env.fixture.feed('kept', 'away', 200);
    const back = await until(alice.state, (s) => s.status === 'connected' && s.rooms.feed?.status === 'joined', 15_000);
    assert.equal(back.rooms.feed?.recovered, true);
    await feed.next((m) => m.text === 'away-200', 10_000);
    // Live again, after the replay.
    assert.equal(await env.fixture.feed('kept', 'after', 1), 1);
    await feed.next((m) => m.text === 'after-1');
    assert.deepEqual(
      feed.items.map((m) => m.text),
      ['before-1', ...numbered('away', 200), 'after-1'],
    );
  });

  test('past the window: recovered false, the missed event, nothing replayed, live again', async () => {
    const bob = await env.clients.connected('bob', '/rooms/lossy');
    const feed = new Inbox<Message>((f) => bob.on.message((m) => m.room === 'feed/lossy' && f(m)));
    const missed: { room: string; data: unknown }[] = [];
    bob.missed((gap) => missed.push({ room: gap.room, data: gap.data }));
    await bob.join.feed();
    await env.fixture.feed('lossy', 'before', 1);
    await feed.next((m) => m.text === 'before-1');

    killWebsocket('bob');
    await until(bob.state, (s) => s.status === 'reconnecting');
    await env.fixture.feed('lossy', 'away', 300);
    const back = await until(bob.state, (s) => s.status === 'connected' && s.rooms.feed?.status === 'joined', 15_000);
    assert.equal(back.rooms.feed?.recovered, false);
    assert.deepEqual(missed, [{ room: 'feed', data: undefined }]);
    assert.equal(await env.fixture.feed('lossy', 'after', 1), 1);
    await feed.next((m) => m.text === 'after-1');
    assert.deepEqual(feed.items.map((m) => m.text), ['before-1', 'after-1']);
  });

  test('a room without history is as before: no recovered flag, nothing replayed', async () => {
    const alice = await env.clients.connected('alice', '/rooms/plain');
    await alice.join.tenant();
    killWebsocket('alice');
    await until(alice.state, (s) => s.status === 'reconnecting');
    const back = await until(alice.state, (s) => s.status === 'connected' && s.rooms.tenant?.status === 'joined', 15_000);
    assert.deepEqual(back.rooms.tenant, { status: 'joined' });
  });
});
