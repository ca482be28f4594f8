// Server-side rendering: no window, no url -> nothing opens, nothing throws.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { LiverpcError } from 'liverpc';

import { chat } from './fixture/core/rooms/[roomId]/chat.socket.js';
import { rejection, until } from './support/wait.js';

test('without a window and without a url the client is inert', { timeout: 5_000 }, async () => {
  assert.equal(typeof (globalThis as { window?: unknown }).window, 'undefined');
  const before = process.getActiveResourcesInfo().sort();

  const room = chat();
  const state = await until(room.state, () => true);
  assert.deepEqual(state, { status: 'connecting', rooms: {} });

  const off = room.on.message(() => assert.fail('no events during SSR'));
  off();
  for (const call of [room.send({ text: 'hi' }), room.whoami(), room.join.tenant(), room.leave.project({ projectId: 'a' }), room.navigate('/x')]) {
    const error = await rejection(call);
    assert.ok(error instanceof LiverpcError);
    assert.equal(error.code, 'closed');
  }
  // Nothing was opened: no socket, no timer left behind.
  assert.deepEqual(process.getActiveResourcesInfo().sort(), before);
  room.close();
  assert.equal((await until(room.state, () => true)).status, 'closed');
});
