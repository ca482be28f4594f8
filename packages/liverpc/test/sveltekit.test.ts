// The `liverpc/sveltekit` adapter, with `$app/navigation` and `svelte` replaced by recorders
// (module hooks) and a stand-in `window.location`. The real thing runs in the end-to-end tests.

import assert from 'node:assert/strict';
import { register } from 'node:module';
import { after, before, describe, test } from 'node:test';

import { managersOf } from '#internal/client/manager.js';

import { type Fixture, startFixture } from './support/fixture.js';
import { lifecycle, setBase } from './support/sveltekit-mocks.js';
import { Inbox, rejection, until } from './support/wait.js';
import type { Message } from './fixture/core/rooms/[roomId]/chat.socket.js';

register(new URL('./support/sveltekit-hooks.js', import.meta.url));
const { chat } = await import('./fixture/sveltekit/rooms/[roomId]/chat.socket.js');

type Global = { window?: { location: { origin: string; pathname: string } } };
const global = globalThis as Global;

describe('liverpc/sveltekit', { timeout: 30_000 }, () => {
  let fixture: Fixture;
  before(async () => {
    fixture = await startFixture();
  });
  after(async () => {
    delete global.window;
    await fixture.stop();
  });

  test('during SSR it never connects, even with a url', { timeout: 5_000 }, async () => {
    const room = chat({ url: fixture.url });
    assert.deepEqual(await until(room.state, () => true), { status: 'connecting', rooms: {} });
    assert.equal((await rejection(room.whoami())).code, 'closed');
    assert.equal(lifecycle.afterNavigate.length + lifecycle.onDestroy.length, 0);
  });

  test('in a component it follows navigations and closes with the component', { timeout: 10_000 }, async () => {
    global.window = { location: { origin: fixture.url, pathname: '/rooms/general' } };
    const room = chat({ extraHeaders: { cookie: 'session=alice' } });
    assert.equal(lifecycle.afterNavigate.length, 1);
    assert.equal(lifecycle.onDestroy.length, 1);
    const inbox = new Inbox<Message>(room.on.message);
    await until(room.state, (s) => s.status === 'connected');

    // SvelteKit calls afterNavigate on mount too: same path, nothing happens.
    for (const callback of lifecycle.afterNavigate) callback({});
    await room.send({ text: 'in general' });
    assert.equal((await inbox.next((m) => m.text === 'in general')).room, 'general');

    global.window.location.pathname = '/rooms/random';
    for (const callback of lifecycle.afterNavigate) callback({});
    await until(room.state, (s) => s.status === 'connecting');
    await until(room.state, (s) => s.status === 'connected' && s.rooms.chat?.status === 'joined');
    await room.send({ text: 'in random' });
    assert.equal((await inbox.next((m) => m.text === 'in random')).room, 'random');

    for (const destroy of lifecycle.onDestroy.splice(0)) destroy();
    lifecycle.afterNavigate.length = 0;
    assert.equal((await until(room.state, () => true)).status, 'closed');
  });

  test('state.current registers with Svelte and is told of every change', { timeout: 10_000 }, async () => {
    global.window = { location: { origin: fixture.url, pathname: '/rooms/general' } };
    const room = chat({ extraHeaders: { cookie: 'session=carol' } });
    const reads = lifecycle.reads;
    assert.equal(room.state.current.status, 'connecting');
    assert.equal(lifecycle.reads, reads + 1);
    const updates = lifecycle.updates;
    await until(room.state, (s) => s.status === 'connected' && s.rooms.chat?.status === 'joined');
    assert.ok(lifecycle.updates > updates, 'the subscriber was told of the changes');
    assert.equal(room.state.current.status, 'connected');
    for (const destroy of lifecycle.onDestroy.splice(0)) destroy();
    lifecycle.afterNavigate.length = 0;
  });

  test('the endpoint follows paths.base', { timeout: 10_000 }, () => {
    setBase('/app');
    try {
      global.window = { location: { origin: fixture.url, pathname: '/app/rooms/general' } };
      const room = chat({ extraHeaders: { cookie: 'session=dave' } });
      const [manager] = managersOf(fixture.url, { cookie: 'session=dave' }, '/app/socket.io/');
      assert.equal(manager?.opts.path, '/app/socket.io/');
      room.close();
      lifecycle.onDestroy.length = 0;
      lifecycle.afterNavigate.length = 0;
    } finally {
      setBase('');
    }
  });

  test("the app's paths.base is not part of the path the server matches", { timeout: 10_000 }, async () => {
    setBase('/app');
    try {
      global.window = { location: { origin: fixture.url, pathname: '/app/rooms/general' } };
      // The fixture (a Rust app) serves Socket.IO's own endpoint: say so.
      const room = chat({ extraHeaders: { cookie: 'session=alice' }, endpoint: '/socket.io/' });
      const inbox = new Inbox<Message>(room.on.message);
      await until(room.state, (s) => s.status === 'connected' && s.rooms.chat?.status === 'joined');
      await room.send({ text: 'under a base' });
      assert.equal((await inbox.next((m) => m.text === 'under a base')).room, 'general');

      global.window.location.pathname = '/app/rooms/random';
      for (const callback of lifecycle.afterNavigate) callback({});
      await until(room.state, (s) => s.status === 'connecting');
      await until(room.state, (s) => s.status === 'connected' && s.rooms.chat?.status === 'joined');
      await room.send({ text: 'still under it' });
      assert.equal((await inbox.next((m) => m.text === 'still under it')).room, 'random');
      for (const destroy of lifecycle.onDestroy.splice(0)) destroy();
      lifecycle.afterNavigate.length = 0;
    } finally {
      setBase('');
    }
  });

  test('outside component initialisation it still works; the caller closes it', { timeout: 10_000 }, async () => {
    global.window = { location: { origin: fixture.url, pathname: '/rooms/general' } };
    lifecycle.outside = true;
    try {
      const room = chat({ extraHeaders: { cookie: 'session=bob' } });
      assert.equal(await room.whoami(), 'bob');
      room.close();
    } finally {
      lifecycle.outside = false;
    }
  });
});
