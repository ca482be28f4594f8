// Following the page to new params: /rooms/general -> /rooms/random.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { LiverpcError } from 'liverpc';

// Package-internal (package.json "imports"): the page's Managers, to watch a handshake.
import { managersOf } from '#internal/client/manager.js';

import { useFixture } from './support/clients.js';
import { Inbox, rejection, until } from './support/wait.js';
import type { Message } from './fixture/core/rooms/[roomId]/chat.socket.js';

describe('navigate', { timeout: 30_000 }, () => {
  const env = useFixture();

  test('after navigating, the page hears the new room and no longer the old one', { timeout: 10_000 }, async () => {
    const alice = await env.clients.connected('alice', '/rooms/general');
    const bob = await env.clients.connected('bob', '/rooms/general');
    const carol = await env.clients.connected('carol', '/rooms/random');
    const inbox = new Inbox<Message>(alice.on.message); // registered before: must survive
    await alice.join.tenant();
    await bob.join.tenant();

    assert.deepEqual(await bob.send({ text: 'general before' }), { delivered: 2 });
    await inbox.next((m) => m.text === 'general before');

    await alice.navigate('/rooms/random');
    const state = await until(alice.state, () => true);
    assert.equal(state.status, 'connected');
    assert.deepEqual(state.rooms, { chat: { status: 'joined' }, tenant: { status: 'joined' } });

    // general now has bob alone.
    assert.deepEqual(await bob.send({ text: 'general after' }), { delivered: 1 });
    // random has carol and alice.
    assert.deepEqual(await carol.send({ text: 'random after' }), { delivered: 2 });
    assert.deepEqual(await inbox.next((m) => m.text === 'random after'), {
      room: 'random',
      from: 'carol',
      text: 'random after',
    });
    // Ordering barrier: bob's send was answered after it was queued to every member of
    // general; alice's own message comes after anything queued to her socket before it.
    assert.deepEqual(await alice.send({ text: 'barrier' }), { delivered: 2 });
    await inbox.next((m) => m.text === 'barrier');
    assert.deepEqual(
      inbox.items.map((m) => `${m.room}:${m.text}`),
      ['general:general before', 'random:random after', 'random:barrier'],
    );

    // The explicitly joined tenant room was asked for again on the new path.
    assert.deepEqual(await bob.post({ room: 'tenant', text: 'tenant news' }), { delivered: 1 });
    await inbox.next((m) => m.text === 'tenant news');
  });

  test('messages in flight when the page navigates are not delivered after it', { timeout: 15_000 }, async () => {
    const alice = await env.clients.connected('alice', '/rooms/general');
    const bob = await env.clients.connected('bob', '/rooms/general');
    const carol = await env.clients.connected('carol', '/rooms/random');
    const inbox = new Inbox<Message>(alice.on.message);
    const rooms = ['general', 'random'] as const;
    for (let round = 0; round < 10; round += 1) {
      const from = rooms[round % 2] ?? 'general';
      const to = rooms[(round + 1) % 2] ?? 'random';
      const sender = from === 'general' ? bob : carol;
      // In flight: answered by the server once queued to alice, maybe not yet received.
      await sender.send({ text: `in flight ${round}` });
      const mark = inbox.items.length;
      await alice.navigate(`/rooms/${to}`);
      await alice.send({ text: `barrier ${round}` });
      await inbox.next((m) => m.text === `barrier ${round}`);
      const late = inbox.items.slice(mark).filter((m) => m.room !== to);
      assert.deepEqual(late, [], `round ${round}: messages of ${from} after navigating to ${to}`);
    }
  });

  test('an event of the previous connection buffered by socket.io-client is dropped', { timeout: 10_000 }, async () => {
    const alice = await env.clients.connected('alice', '/rooms/general');
    const inbox = new Inbox<Message>(alice.on.message);
    const navigated = alice.navigate('/rooms/random');
    // A packet of the general connection, decoded after the navigation started: socket.io-client
    // buffers it (not connected) and emits it on the next connect.
    const manager = managersOf(env.fixture.url, { cookie: 'session=alice' })[0];
    assert.ok(manager !== undefined);
    const socket = manager.socket('/rooms/[roomId]/chat');
    const internals = socket as unknown as { onpacket(packet: { type: number; nsp: string; data: unknown[] }): void };
    internals.onpacket({ type: 2, nsp: '/rooms/[roomId]/chat', data: ['message', { room: 'general', from: 'bob', text: 'stale' }] });
    await navigated;
    await alice.send({ text: 'barrier' });
    await inbox.next((m) => m.text === 'barrier');
    assert.deepEqual(inbox.items.map((m) => m.text), ['barrier']);
  });

  test('navigating to the same path is a no-op', { timeout: 10_000 }, async () => {
    const alice = await env.clients.connected('alice', '/rooms/general');
    const statuses: string[] = [];
    const stop = alice.state.subscribe((s) => statuses.push(s.status));
    await alice.navigate('/rooms/general');
    stop();
    assert.deepEqual(statuses, ['connected']);
  });

  test('navigating while the handshake is in flight ends on the new path', { timeout: 10_000 }, async () => {
    // An anonymous page: its Manager is used by no other test of this file.
    const page = env.clients.open(undefined, '/rooms/general');
    const manager = managersOf(env.fixture.url)[0];
    assert.ok(manager !== undefined);
    // The socket sends its CONNECT (old path) on the manager's `open`; navigate right after.
    const navigated = new Promise<void>((resolve, reject) =>
      manager.once('open', () => page.navigate('/rooms/random').then(resolve, reject)),
    );
    await navigated;
    const inbox = new Inbox<Message>(page.on.message);
    await page.send({ text: 'here' });
    assert.equal((await inbox.next((m) => m.text === 'here')).room, 'random');
  });

  test('a path that matches no route is refused; navigating back reconnects', { timeout: 10_000 }, async () => {
    const alice = await env.clients.connected('alice', '/rooms/general');
    const refused = await rejection(alice.navigate('/settings'));
    assert.ok(refused instanceof LiverpcError);
    assert.equal(refused.code, 'not_found');
    assert.deepEqual(await until(alice.state, () => true), { status: 'refused', error: 'not_found', rooms: {} });
    await alice.navigate('/rooms/general');
    assert.equal(await alice.whoami(), 'alice');
  });
});
