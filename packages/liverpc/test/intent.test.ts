// The page's intent under ordinary sequences: a leave during a pending join, calls queued
// during a reconnect, two clients of one contract on two paths, transient refusals retried,
// two payloads of one exposed room side by side.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { LiverpcError } from 'liverpc';

// Package-internal (package.json "imports"): the page's Managers, to drop their transport.
import { managersOf } from '#internal/client/manager.js';

import { type Room, useFixture } from './support/clients.js';
import { Inbox, rejection, until } from './support/wait.js';
import type { Message } from './fixture/core/rooms/[roomId]/chat.socket.js';

/** The first Manager of `user`'s page: the one every contract shares. */
function managerOf(url: string, user: string) {
  const manager = managersOf(url, { cookie: `session=${user}` })[0];
  assert.ok(manager !== undefined, `${user} has no connection`);
  return manager;
}

/** Drops the page's transport and waits until it is back, its auto-joined room joined. */
async function reconnect(url: string, user: string, room: Room): Promise<void> {
  managerOf(url, user).engine.close();
  await until(room.state, (s) => s.status === 'reconnecting');
  await until(room.state, (s) => s.status === 'connected' && s.rooms.chat?.status === 'joined', 10_000);
}

const projects = (room: Room) => room.state.current.rooms.project?.map((p) => [p.data.projectId, p.status]);

describe('intent', { timeout: 60_000 }, () => {
  const env = useFixture();

  test('a leave sent while the join is pending wins, and is not undone by a reconnect', { timeout: 15_000 }, async () => {
    const alice = await env.clients.connected('alice');
    const bob = await env.clients.connected('bob', '/rooms/elsewhere');
    await bob.join.project({ projectId: 'apollo' });

    // Both go out before any answer can come back (same tick).
    const joining = alice.join.project({ projectId: 'apollo' });
    const leaving = alice.leave.project({ projectId: 'apollo' });
    const cancelled = await rejection(joining);
    assert.ok(cancelled instanceof LiverpcError);
    assert.equal(cancelled.code, 'cancelled');
    await leaving;
    // alice's own call is the barrier: her join and leave were handled before it.
    await alice.whoami();
    assert.equal(alice.state.current.rooms.project, undefined);
    assert.deepEqual(await bob.post({ room: 'project', text: 'after the leave' }), { delivered: 0 });

    await reconnect(env.fixture.url, 'alice', alice);
    // Had the join been asked for again at the connect, it would be handled before this call.
    await alice.whoami();
    assert.equal(alice.state.current.rooms.project, undefined);
    assert.deepEqual(await bob.post({ room: 'project', text: 'after the reconnect' }), { delivered: 0 });
  });

  test('a project call queued during a reconnect goes out after the rejoin and succeeds', { timeout: 15_000 }, async () => {
    const alice = await env.clients.connected('alice');
    const bob = await env.clients.connected('bob', '/rooms/elsewhere');
    await alice.join.project({ projectId: 'apollo' });
    await bob.join.project({ projectId: 'apollo' });
    const inbox = new Inbox<Message>(bob.on.message);

    // Hold the automatic reconnect so the call is queued while away, by construction.
    const manager = managerOf(env.fixture.url, 'alice');
    manager.reconnection(false);
    manager.engine.close();
    await until(alice.state, (s) => s.status === 'reconnecting');
    const queued = alice.post({ room: 'project', text: 'queued while away' });
    manager.reconnection(true);
    manager.open();

    // `post` needs the socket in the project room: it is, because the rejoin went first.
    assert.deepEqual(await queued, { delivered: 1 });
    assert.deepEqual(await inbox.next((m) => m.text === 'queued while away'), {
      room: 'project/apollo',
      from: 'alice',
      text: 'queued while away',
    });
  });

  test('two clients of one contract on two paths each hear only their own room', { timeout: 15_000 }, async () => {
    const general = env.clients.open('carol', '/rooms/general');
    const random = env.clients.open('carol', '/rooms/random');
    await until(general.state, (s) => s.status === 'connected' && s.rooms.chat?.status === 'joined');
    await until(random.state, (s) => s.status === 'connected' && s.rooms.chat?.status === 'joined');
    // One Engine.IO connection carries a namespace once: the second path has its own.
    assert.equal(managersOf(env.fixture.url, { cookie: 'session=carol' }).length, 2);
    const generalInbox = new Inbox<Message>(general.on.message);
    const randomInbox = new Inbox<Message>(random.on.message);

    assert.deepEqual(await general.send({ text: 'in general' }), { delivered: 1 });
    assert.deepEqual(await random.send({ text: 'in random' }), { delivered: 1 });
    // Each one's own later message is the barrier for anything queued to it before.
    await general.send({ text: 'general barrier' });
    await random.send({ text: 'random barrier' });
    await generalInbox.next((m) => m.text === 'general barrier');
    await randomInbox.next((m) => m.text === 'random barrier');
    assert.deepEqual(generalInbox.items.map((m) => `${m.room}:${m.text}`), ['general:in general', 'general:general barrier']);
    assert.deepEqual(randomInbox.items.map((m) => `${m.room}:${m.text}`), ['random:in random', 'random:random barrier']);

    // Closing one leaves the other as it was; closing the last releases the Managers.
    general.close();
    assert.equal((await random.send({ text: 'random alone' })).delivered, 1);
    await randomInbox.next((m) => m.text === 'random alone');
    random.close();
    assert.deepEqual(managersOf(env.fixture.url, { cookie: 'session=carol' }), []);
  });

  test('navigating one of two clients sharing a connection leaves the other where it was', { timeout: 15_000 }, async () => {
    const follower = await env.clients.connected('bob', '/rooms/general');
    const pinned = await env.clients.connected('bob', '/rooms/general');
    await follower.join.tenant();
    const pinnedInbox = new Inbox<Message>(pinned.on.message);
    const followerInbox = new Inbox<Message>(follower.on.message);

    await follower.navigate('/rooms/random');
    // The mover took a copy of the explicit rooms along.
    assert.deepEqual(follower.state.current.rooms, { chat: { status: 'joined' }, tenant: { status: 'joined' } });
    assert.equal(pinned.state.current.status, 'connected');
    await pinned.send({ text: 'still general' });
    await follower.send({ text: 'now random' });
    assert.equal((await pinnedInbox.next((m) => m.text === 'still general')).room, 'general');
    assert.equal((await followerInbox.next((m) => m.text === 'now random')).room, 'random');
    assert.ok(!followerInbox.items.some((m) => m.text === 'still general'));
    assert.ok(!pinnedInbox.items.some((m) => m.text === 'now random'));
  });

  test('a handshake refused unavailable is retried until it succeeds; calls wait', { timeout: 15_000 }, async () => {
    await env.fixture.refuseUnavailable(2);
    const alice = env.clients.open('alice');
    const waiting = await until(alice.state, (s) => s.status === 'reconnecting');
    assert.equal(waiting.error, 'unavailable');
    const who = alice.whoami();
    await until(alice.state, (s) => s.status === 'connected' && s.rooms.chat?.status === 'joined', 10_000);
    assert.equal(alice.state.current.error, undefined);
    assert.equal(await who, 'alice');
  });

  test('two payloads of one exposed room are both shown, each with its own status', { timeout: 10_000 }, async () => {
    const alice = await env.clients.connected('alice');
    await alice.join.project({ projectId: 'apollo' });
    await alice.join.project({ projectId: 'gemini' });
    await rejection(alice.join.project({ projectId: 'zeus' }));
    assert.deepEqual(projects(alice), [
      ['apollo', 'joined'],
      ['gemini', 'joined'],
      ['zeus', 'denied'],
    ]);
    await alice.leave.project({ projectId: 'apollo' });
    assert.deepEqual(projects(alice), [
      ['gemini', 'joined'],
      ['zeus', 'denied'],
    ]);
  });
});

describe('intent under a room limit', { timeout: 30_000 }, () => {
  // Three rooms per socket: `chat` (auto-joined) and two more; a fourth is `rate_limited`.
  const env = useFixture({ maxRooms: 3 });

  test('a join or rejoin refused rate_limited is retried until it succeeds', { timeout: 20_000 }, async () => {
    const alice = await env.clients.connected('alice');
    await alice.join.tenant();
    await alice.join.project({ projectId: 'apollo' });
    const gemini = alice.join.project({ projectId: 'gemini' });
    const limited = await until(alice.state, (s) => s.rooms.project?.[1]?.status === 'retrying');
    assert.equal(limited.rooms.project?.[1]?.error?.code, 'rate_limited');

    // After a reconnect the rooms are asked for again in the order joined: gemini is the one
    // over the limit again, and is still retried (not left for a next handshake).
    await reconnect(env.fixture.url, 'alice', alice);
    await until(alice.state, (s) => s.rooms.project?.[0]?.status === 'joined' && s.rooms.project[1]?.status === 'retrying');
    assert.equal(alice.state.current.rooms.tenant?.status, 'joined');

    await alice.leave.tenant();
    await gemini;
    assert.deepEqual(projects(alice), [
      ['apollo', 'joined'],
      ['gemini', 'joined'],
    ]);
  });
});
