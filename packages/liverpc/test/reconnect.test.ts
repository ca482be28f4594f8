// A dropped transport: socket.io-client reconnects, liverpc asks again for the rooms the page
// joined, and the server re-authorizes each (a right revoked meanwhile is denied, visibly).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

// Package-internal (package.json "imports"): the page's Managers, to drop their transport.
import { managersOf } from '#internal/client/manager.js';

import { useFixture } from './support/clients.js';
import { Inbox, until } from './support/wait.js';
import type { Message } from './fixture/core/rooms/[roomId]/chat.socket.js';

describe('reconnect', { timeout: 30_000 }, () => {
  const env = useFixture();

  const managerOf = (user: string) => {
    const manager = managersOf(env.fixture.url, { cookie: `session=${user}` })[0];
    assert.ok(manager !== undefined, `${user} has no connection`);
    return manager;
  };

  test('after a transport drop the page is back in its rooms; calls made meanwhile go out', { timeout: 15_000 }, async () => {
    const alice = await env.clients.connected('alice');
    const bob = await env.clients.connected('bob', '/rooms/elsewhere');
    const inbox = new Inbox<Message>(alice.on.message);
    await alice.join.tenant();
    await alice.join.project({ projectId: 'apollo' });
    await bob.join.project({ projectId: 'apollo' });

    managerOf('alice').engine.close();
    const dropped = await until(alice.state, (s) => s.status === 'reconnecting');
    assert.deepEqual(dropped.rooms, {
      chat: { status: 'joining' },
      tenant: { status: 'joining' },
      project: [{ status: 'joining', data: { projectId: 'apollo' } }],
    });
    // Made while disconnected: waits for the reconnect, then goes out.
    const pending = alice.send({ text: 'sent while away' });

    const back = await until(
      alice.state,
      (s) => s.status === 'connected' && s.rooms.chat?.status === 'joined' && s.rooms.tenant?.status === 'joined' && s.rooms.project?.[0]?.status === 'joined',
      10_000,
    );
    assert.deepEqual(back.rooms, {
      chat: { status: 'joined' },
      tenant: { status: 'joined' },
      project: [{ status: 'joined', data: { projectId: 'apollo' } }],
    });
    assert.deepEqual(await pending, { delivered: 1 });
    // The server has alice in the project room again.
    assert.deepEqual(await bob.post({ room: 'project', text: 'welcome back' }), { delivered: 1 });
    await inbox.next((m) => m.text === 'welcome back');
  });

  test('disconnected by the server, the page comes back at once, then backs off', { timeout: 15_000 }, async () => {
    const alice = await env.clients.connected('alice');
    await alice.join.project({ projectId: 'gemini' });
    const seen: string[] = [];
    const stop = alice.state.subscribe((s) => seen.push(s.status));
    // Back in its rooms after having been away (however fast the comeback was).
    const backAfterAway = (s: { status: string; rooms: { project?: readonly { status: string }[] } }) =>
      seen.includes('reconnecting') && s.status === 'connected' && s.rooms.project?.[0]?.status === 'joined';

    assert.equal(await env.fixture.disconnectProject('gemini'), 1);
    await until(alice.state, backAfterAway, 5000);

    // Kicked again right away: the comeback waits (0.5 s), so a page the server keeps
    // dropping cannot hammer it.
    seen.length = 0;
    const kicked = Date.now();
    assert.equal(await env.fixture.disconnectProject('gemini'), 1);
    await until(alice.state, backAfterAway, 5000);
    const waited = Date.now() - kicked;
    assert.ok(waited >= 450, `came back after ${waited} ms`);
    stop();
  });

  test('a right revoked while disconnected: that room is denied after the reconnect, the others rejoin', { timeout: 15_000 }, async () => {
    const alice = await env.clients.connected('alice');
    const bob = await env.clients.connected('bob', '/rooms/elsewhere');
    const inbox = new Inbox<Message>(alice.on.message);
    await alice.join.tenant();
    await alice.join.project({ projectId: 'gemini' });
    await bob.join.tenant();

    // Hold the automatic reconnect so the revocation lands while alice is away, by construction.
    const manager = managerOf('alice');
    manager.reconnection(false);
    manager.engine.close();
    await until(alice.state, (s) => s.status === 'reconnecting');
    assert.equal(await env.fixture.revoke('alice', 'gemini'), 'revoked');
    manager.reconnection(true);
    manager.open();

    const back = await until(
      alice.state,
      (s) =>
        s.status === 'connected' &&
        s.rooms.chat?.status === 'joined' &&
        s.rooms.tenant?.status === 'joined' &&
        s.rooms.project?.[0]?.status === 'denied',
      10_000,
    );
    assert.equal(back.rooms.chat?.status, 'joined');
    assert.equal(back.rooms.tenant?.status, 'joined');
    assert.equal(back.rooms.project?.length, 1);
    assert.equal(back.rooms.project?.[0]?.error?.code, 'forbidden');
    assert.deepEqual(back.rooms.project?.[0]?.data, { projectId: 'gemini' });

    // The tenant room works again on the server side.
    assert.deepEqual(await bob.post({ room: 'tenant', text: 'tenant after reconnect' }), { delivered: 1 });
    await inbox.next((m) => m.text === 'tenant after reconnect');

    // A denied room is not asked for again at the next reconnect, and still shows as denied.
    const projectStatuses: (string | undefined)[] = [];
    const stop = alice.state.subscribe((s) => projectStatuses.push(s.rooms.project?.[0]?.status));
    manager.engine.close();
    await until(alice.state, (s) => s.status === 'reconnecting');
    await until(
      alice.state,
      (s) => s.status === 'connected' && s.rooms.chat?.status === 'joined' && s.rooms.tenant?.status === 'joined',
      10_000,
    );
    stop();
    assert.deepEqual([...new Set(projectStatuses)], ['denied']);
    assert.equal(alice.state.current.rooms.project?.[0]?.error?.code, 'forbidden');
  });
});
