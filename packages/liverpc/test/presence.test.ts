// Presence against the real server: who is in a room, derived on the server from each
// member's session, live with joins and leaves.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { Member } from 'liverpc';

import { useFixture } from './support/clients.js';
import { until } from './support/wait.js';
import type { Teammate } from './fixture/core/rooms/[roomId]/chat.socket.js';

const names = (members: readonly Member<Teammate>[]): string[] => members.map((m) => m.data.name).sort();

describe('presence', { timeout: 30_000 }, () => {
  const env = useFixture();

  test('members see each other, themselves marked, and a leave', { timeout: 15_000 }, async () => {
    const alice = await env.clients.connected('alice');
    const bob = await env.clients.connected('bob', '/rooms/other');
    assert.deepEqual(alice.presence.team.current, [], 'nobody before the room is joined');

    await alice.join.team();
    const alone = await until(alice.presence.team, (m) => m.length === 1);
    assert.deepEqual(alone.map((m) => [m.data.name, m.self]), [['alice', true]]);

    await bob.join.team();
    const both = await until(alice.presence.team, (m) => m.length === 2);
    assert.deepEqual(names(both), ['alice', 'bob']);
    assert.deepEqual(names(await until(bob.presence.team, (m) => m.length === 2)), ['alice', 'bob']);
    assert.equal(both.find((m) => m.data.name === 'bob')?.self, false);

    await bob.leave.team();
    assert.deepEqual(names(await until(alice.presence.team, (m) => m.length === 1)), ['alice']);
    assert.deepEqual(bob.presence.team.current, [], 'a page that left sees no one');
  });

  test('a member that disconnects is gone; another tenant never shows', { timeout: 15_000 }, async () => {
    const alice = await env.clients.connected('alice');
    const carol = await env.clients.connected('carol');
    const bob = await env.clients.connected('bob');
    await alice.join.team();
    await carol.join.team();
    await bob.join.team();
    assert.deepEqual(names(await until(alice.presence.team, (m) => m.length === 2)), ['alice', 'bob']);
    assert.deepEqual(names(await until(carol.presence.team, (m) => m.length === 1)), ['carol']);

    bob.close();
    assert.deepEqual(names(await until(alice.presence.team, (m) => m.length === 1)), ['alice']);
  });

  test('after a reconnect the list is rebuilt from a new snapshot', { timeout: 20_000 }, async () => {
    const alice = await env.clients.connected('alice');
    const bob = await env.clients.connected('bob');
    await alice.join.team();
    await bob.join.team();
    await until(alice.presence.team, (m) => m.length === 2);

    // The server drops the team room's sockets; both pages reconnect and rejoin on their own.
    await env.fixture.disconnectTeam('acme');
    await until(alice.state, (s) => s.status !== 'connected');
    assert.deepEqual(alice.presence.team.current, [], 'offline: no members shown');
    await until(alice.state, (s) => s.status === 'connected' && s.rooms.team !== undefined && 'status' in s.rooms.team && s.rooms.team.status === 'joined');
    assert.deepEqual(names(await until(alice.presence.team, (m) => m.length === 2, 10_000)), ['alice', 'bob']);
  });
});
