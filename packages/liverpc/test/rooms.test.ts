// Joining and leaving private and exposed rooms against the real server.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { LiverpcError } from 'liverpc';

import { useFixture } from './support/clients.js';
import { Inbox, rejection, until } from './support/wait.js';
import type { Message } from './fixture/core/rooms/[roomId]/chat.socket.js';

describe('rooms', { timeout: 30_000 }, () => {
  const env = useFixture();

  test('the auto-joined room is reported by the server', { timeout: 10_000 }, async () => {
    const alice = env.clients.open('alice');
    assert.deepEqual((await until(alice.state, () => true)).rooms, { chat: { status: 'joining' } });
    const state = await until(alice.state, (s) => s.rooms.chat?.status === 'joined');
    assert.equal(state.status, 'connected');
    assert.deepEqual(state.rooms, { chat: { status: 'joined' } });
  });

  test('a private room is joined by name; the server picks the key from locals', { timeout: 10_000 }, async () => {
    const alice = await env.clients.connected('alice');
    const bob = await env.clients.connected('bob', '/rooms/other');
    const carol = await env.clients.connected('carol');
    const aliceInbox = new Inbox<Message>(alice.on.message);
    const carolInbox = new Inbox<Message>(carol.on.message);

    await alice.join.tenant();
    await bob.join.tenant();
    await carol.join.tenant();
    assert.deepEqual((await until(alice.state, () => true)).rooms.tenant, { status: 'joined' });

    // bob posts to acme: alice only (the sender is excluded, carol is in globex).
    assert.deepEqual(await bob.post({ room: 'tenant', text: 'acme news' }), { delivered: 1 });
    assert.deepEqual(await aliceInbox.next((m) => m.text === 'acme news'), {
      room: 'tenant/acme',
      from: 'bob',
      text: 'acme news',
    });
    // carol's own message is the barrier: had `acme news` reached her socket, it came first.
    await carol.send({ text: 'barrier' });
    await carolInbox.next((m) => m.text === 'barrier');
    assert.deepEqual(carolInbox.items.map((m) => m.text), ['barrier']);
  });

  test('a private room refuses a payload; an anonymous page is denied the tenant room', { timeout: 10_000 }, async () => {
    const alice = await env.clients.connected('alice');
    const withPayload = alice.join.tenant as unknown as (data: unknown) => Promise<void>;
    const invalid = await rejection(withPayload({ x: 1 }));
    assert.equal(invalid.code, 'invalid_payload');

    const anonymous = await env.clients.connected(undefined);
    const denied = await rejection(anonymous.join.tenant());
    assert.ok(denied instanceof LiverpcError);
    assert.equal(denied.code, 'forbidden');
    const state = await until(anonymous.state, () => true);
    assert.equal(state.rooms.tenant?.status, 'denied');
    assert.equal(state.rooms.tenant?.error?.code, 'forbidden');
  });

  test('an exposed room: join with a payload, the server authorizes, leave', { timeout: 10_000 }, async () => {
    const alice = await env.clients.connected('alice');
    const bob = await env.clients.connected('bob');
    const inbox = new Inbox<Message>(alice.on.message);

    await alice.join.project({ projectId: 'apollo' });
    await bob.join.project({ projectId: 'apollo' });
    assert.deepEqual(alice.state.current.rooms.project, [{ status: 'joined', data: { projectId: 'apollo' } }]);
    assert.deepEqual(await bob.post({ room: 'project', text: 'launch' }), { delivered: 1 });
    assert.deepEqual(await inbox.next((m) => m.text === 'launch'), {
      room: 'project/apollo',
      from: 'bob',
      text: 'launch',
    });

    const wrongType = await rejection(alice.join.project({ projectId: 5 } as unknown as { projectId: string }));
    assert.equal(wrongType.code, 'invalid_payload');
    assert.deepEqual(wrongType.issues, [{ path: 'projectId', message: 'invalid type: integer `5`, expected a string' }]);
    const tooShort = await rejection(alice.join.project({ projectId: '' }));
    assert.equal(tooShort.code, 'invalid_payload');
    // Validation (garde) issues carry the wire name too, not the Rust field name `project_id`.
    assert.deepEqual(tooShort.issues, [{ path: 'projectId', message: 'length is lower than 1' }]);

    await alice.leave.project({ projectId: 'apollo' });
    await alice.leave.project({ projectId: 'apollo' });
    // What is left are the two refusals, each reported with its own payload.
    assert.deepEqual(
      alice.state.current.rooms.project?.map((p) => [p.status, p.error?.code, p.data]),
      [
        ['denied', 'invalid_payload', { projectId: 5 }],
        ['denied', 'invalid_payload', { projectId: '' }],
      ],
    );
    assert.deepEqual(await bob.post({ room: 'project', text: 'after leave' }), { delivered: 0 });
  });

  test('two payloads of one exposed room; leaving one keeps the other', { timeout: 10_000 }, async () => {
    const alice = await env.clients.connected('alice');
    await alice.join.project({ projectId: 'apollo' });
    await alice.join.project({ projectId: 'gemini' });
    await alice.leave.project({ projectId: 'apollo' });
    assert.deepEqual(alice.state.current.rooms.project, [{ status: 'joined', data: { projectId: 'gemini' } }]);
    await alice.leave.tenant();
    await alice.leave.project({ projectId: 'gemini' });
    assert.deepEqual((await until(alice.state, () => true)).rooms, { chat: { status: 'joined' } });
  });
});
