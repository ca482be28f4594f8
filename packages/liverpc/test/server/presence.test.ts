// Presence from a TypeScript contract: a room declares what each member shows (from its
// locals); members get the room's list when they join, then every join and leave, on the wire
// the Rust front-end uses (liverpc:presence), on one node and across two on a real redis-server.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';

import { room, socket } from 'liverpc/server';

import * as hooks from './app/src/hooks.socket.js';
import { type Client, redisServer, serve, type Served } from './harness.js';

const lobby = socket({
  rooms: {
    lobby: room.private(({ params }) => ['lobby', params.roomId], {
      autoJoin: true,
      // A guest (no session: no locals.user) shows nothing and is not listed.
      presence: ({ locals }) => (locals.user ? { name: locals.user.name } : null),
    }),
  },
});
const contracts = [{ route: '/rooms/[roomId]', exports: { lobby } }];
const LOBBY = '/rooms/[roomId]/lobby';

type Member = { id: string; data: { name: string } };
type PresenceEvent = { room: string; self?: string; members?: Member[]; join?: Member; leave?: string };

/** The liverpc:presence events a page received, in order. */
function presence(page: Client): PresenceEvent[] {
  return page.received.filter(([event]) => event === 'liverpc:presence').map(([, payload]) => payload as PresenceEvent);
}
const snapshot = (page: Client) => page.next('liverpc:presence', (p) => (p as PresenceEvent).members !== undefined) as Promise<PresenceEvent>;
const joinOf = (page: Client, name: string) => page.next('liverpc:presence', (p) => (p as PresenceEvent).join?.data.name === name) as Promise<PresenceEvent>;
const leaveOf = (page: Client, id: string) => page.next('liverpc:presence', (p) => (p as PresenceEvent).leave === id);

describe('presence on one node', { timeout: 30_000 }, () => {
  let env: Served;
  before(async () => {
    env = await serve({ hooks, contracts });
  });
  after(() => env.close());

  test('members see each other, a guest is not listed, a leave is announced', async () => {
    const alice = env.open(LOBBY, '/rooms/general', 's-alice');
    const first = await snapshot(alice);
    assert.deepEqual(first, { room: 'lobby', self: first.self, members: [{ id: first.self, data: { name: 'alice' } }] });

    const bob = env.open(LOBBY, '/rooms/general', 's-bob');
    const bobs = await snapshot(bob);
    const bobId = bobs.self as string;
    assert.deepEqual(
      [...(bobs.members ?? [])].sort((x, y) => x.data.name.localeCompare(y.data.name)),
      [{ id: first.self, data: { name: 'alice' } }, { id: bobId, data: { name: 'bob' } }],
    );
    assert.deepEqual((await joinOf(alice, 'bob')).join, { id: bobId, data: { name: 'bob' } });

    // The guest is in the room but shows nothing: not listed (and, as with the Rust
    // front-end, not sent the list either).
    const guest = env.open(LOBBY, '/rooms/general');
    await guest.next('liverpc:room', (p) => (p as { status: string }).status === 'joined');
    // Another room's member is not listed here.
    await snapshot(env.open(LOBBY, '/rooms/random', 's-carol'));

    bob.socket.disconnect();
    await leaveOf(alice, bobId);
    // In order, and nothing of the guest or of carol: the snapshot, bob's join, bob's leave.
    assert.deepEqual(
      presence(alice).map((p) => (p.members ? 'members' : p.join ? `join ${p.join.data.name}` : `leave ${p.leave === bobId ? 'bob' : p.leave}`)),
      ['members', 'join bob', 'leave bob'],
    );
  });
});

describe('presence across two nodes on one Redis', { timeout: 60_000 }, () => {
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

  test('a member on node B is listed on node A, and its leave reaches node A', async () => {
    const alice = a.open(LOBBY, '/rooms/general', 's-alice');
    const aliceId = (await snapshot(alice)).self;
    const bob = b.open(LOBBY, '/rooms/general', 's-bob');
    const bobs = await snapshot(bob);
    assert.deepEqual(bobs.members?.map((m) => m.data.name).sort(), ['alice', 'bob']);
    assert.ok(bobs.members?.some((m) => m.id === aliceId));
    const bobId = bobs.self as string;
    assert.deepEqual((await joinOf(alice, 'bob')).join, { id: bobId, data: { name: 'bob' } });
    bob.socket.disconnect();
    await leaveOf(alice, bobId);
  });
});
