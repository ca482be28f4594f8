// Calls and events against the real server: typed replies, typed errors, refused handshakes.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { LiverpcError } from 'liverpc';

import { stale } from './fixture/stale.socket.js';
import { useFixture } from './support/clients.js';
import { Inbox, rejection, until } from './support/wait.js';
import type { Message, Send } from './fixture/core/rooms/[roomId]/chat.socket.js';

describe('calls and events', { timeout: 30_000 }, () => {
  const env = useFixture();

  test('a call gets its typed reply; the event reaches every page of the room', { timeout: 10_000 }, async () => {
    const alice = await env.clients.connected('alice');
    const bob = await env.clients.connected('bob');
    const aliceInbox = new Inbox<Message>(alice.on.message);
    const bobInbox = new Inbox<Message>(bob.on.message);

    const sent = await alice.send({ text: 'hello' });
    assert.deepEqual(sent, { delivered: 2 });
    const expected = { room: 'general', from: 'alice', text: 'hello' };
    assert.deepEqual(await aliceInbox.next((m) => m.text === 'hello'), expected);
    assert.deepEqual(await bobInbox.next((m) => m.text === 'hello'), expected);

    assert.equal(await alice.whoami(), 'alice');
    const anonymous = await env.clients.connected(undefined);
    assert.equal(await anonymous.whoami(), null);
  });

  test('an unsubscribed listener hears nothing more', { timeout: 10_000 }, async () => {
    const alice = await env.clients.connected('alice');
    const heard: string[] = [];
    const off = alice.on.message((m) => heard.push(m.text));
    const barrier = new Inbox<Message>(alice.on.message);
    await alice.send({ text: 'one' });
    await barrier.next((m) => m.text === 'one');
    off();
    off();
    await alice.send({ text: 'two' });
    // Same socket, same order: once `two` reached the other listener, it would have reached this one.
    await barrier.next((m) => m.text === 'two');
    assert.deepEqual(heard, ['one']);
  });

  test('invalid_payload carries its issues', { timeout: 10_000 }, async () => {
    const alice = await env.clients.connected('alice');
    const wrongType = await rejection(alice.send({ text: 5 } as unknown as Send));
    assert.ok(wrongType instanceof LiverpcError);
    assert.equal(wrongType.code, 'invalid_payload');
    assert.deepEqual(wrongType.issues, [{ path: 'text', message: 'invalid type: integer `5`, expected a string' }]);

    const empty = await rejection(alice.send({ text: '' }));
    assert.equal(empty.code, 'invalid_payload');
    assert.deepEqual(empty.issues, [{ path: 'text', message: 'length is lower than 1' }]);

    const missing = await rejection(alice.send({} as unknown as Send));
    assert.equal(missing.code, 'invalid_payload');
    assert.deepEqual(missing.issues, [{ path: 'text', message: 'missing field `text`' }]);
  });

  test('a handler that panics answers internal; the socket goes on', { timeout: 10_000 }, async () => {
    const alice = await env.clients.connected('alice');
    const error = await rejection(alice.boom());
    assert.ok(error instanceof LiverpcError);
    assert.equal(error.code, 'internal');
    assert.deepEqual(await alice.send({ text: 'still here' }), { delivered: 1 });
  });

  test('not_found: a handler or a room the server does not have', { timeout: 10_000 }, async () => {
    const old = stale({ url: env.fixture.url, path: '/rooms/general', extraHeaders: { cookie: 'session=carol' } });
    try {
      await until(old.state, (s) => s.status === 'connected');
      const call = await rejection(old.gone());
      assert.ok(call instanceof LiverpcError);
      assert.equal(call.code, 'not_found');
      assert.equal(call.message, 'unknown event `gone`');
      const join = await rejection(old.join.archive());
      assert.equal(join.code, 'not_found');
      assert.equal(join.message, 'unknown room `archive`');
    } finally {
      old.close();
    }
  });

  test('forbidden is exact: no details of the room leak', { timeout: 10_000 }, async () => {
    const alice = await env.clients.connected('alice');
    const error = await rejection(alice.join.project({ projectId: 'zeus' }));
    assert.ok(error instanceof LiverpcError);
    assert.equal(error.code, 'forbidden');
    assert.equal(error.message, 'forbidden');
    assert.equal(error.issues, undefined);
    assert.ok(!('issues' in error), 'a refusal has no issues');
    const state = await until(alice.state, (s) => s.rooms.project?.[0]?.status === 'denied');
    assert.equal(state.rooms.project?.[0]?.error?.code, 'forbidden');
    assert.deepEqual(state.rooms.project?.[0]?.data, { projectId: 'zeus' });
  });

  test('a refused handshake shows in the state; calls reject with its code', { timeout: 10_000 }, async () => {
    const mallory = env.clients.open('mallory');
    const state = await until(mallory.state, (s) => s.status === 'refused');
    assert.deepEqual(state, { status: 'refused', error: 'unauthenticated', rooms: {} });
    const error = await rejection(mallory.send({ text: 'hi' }));
    assert.ok(error instanceof LiverpcError);
    assert.equal(error.code, 'unauthenticated');
    assert.equal((await rejection(mallory.join.tenant())).code, 'unauthenticated');

    const lost = env.clients.open('alice', '/not/a/room');
    const notFound = await until(lost.state, (s) => s.status === 'refused');
    assert.equal(notFound.error, 'not_found');
  });

  test('calls made while connecting wait for the handshake', { timeout: 10_000 }, async () => {
    const alice = env.clients.open('alice');
    assert.equal((await until(alice.state, () => true)).status, 'connecting');
    assert.equal(await alice.whoami(), 'alice');
  });

  test('a closed client rejects with closed and its state says so', { timeout: 10_000 }, async () => {
    const alice = await env.clients.connected('alice');
    alice.close();
    alice.close();
    assert.equal((await until(alice.state, () => true)).status, 'closed');
    const error = await rejection(alice.send({ text: 'late' }));
    assert.ok(error instanceof LiverpcError);
    assert.equal(error.code, 'closed');
  });

  test('two clients of one contract share the socket; closing one leaves the other', { timeout: 10_000 }, async () => {
    const first = await env.clients.connected('alice');
    const second = await env.clients.connected('alice');
    const bob = await env.clients.connected('bob');
    const inbox = new Inbox<Message>(second.on.message);
    first.close();
    assert.equal(await second.whoami(), 'alice');
    // One socket for alice's page: bob's message is delivered to two sockets, not three.
    assert.deepEqual(await bob.send({ text: 'shared' }), { delivered: 2 });
    await inbox.next((m) => m.text === 'shared');
  });
});
