// The tutorial's contract in TypeScript on the engine in this process, driven by the official
// socket.io-client: its three checkpoints, the hook's and room functions' failures, and a
// room function holding a join open while everything else goes on.

import assert from 'node:assert/strict';
import { after, before, describe, mock, test } from 'node:test';

import * as v from 'valibot';
import { LiverpcError, handler, room, socket } from 'liverpc/server';

import * as hooks from './app/src/hooks.socket.js';
import * as chatModule from './app/src/routes/rooms/[roomId]/chat.socket.js';
import { chat } from './app/src/routes/rooms/[roomId]/chat.socket.js';
import { serve, type Served } from './harness.js';

const CHAT = '/rooms/[roomId]/chat';
const FORBIDDEN = { ok: false, error: { code: 'forbidden', message: 'forbidden' } };

/** A gate a room function waits on, opened by the test. */
let release: () => void = () => {};
const gate = new Promise<void>((resolve) => (release = resolve));
const held = socket({
  rooms: {
    slow: room.private(async () => {
      await gate;
      return ['slow'];
    }),
  },
  fromClient: {
    refuse: handler(() => {
      throw new LiverpcError('forbidden', 'only the author may edit this message');
    }),
    crash: handler(v.object({ secret: v.string() }), () => {
      throw new Error('a bug');
    }),
    nested: handler(v.object({ items: v.array(v.object({ name: v.string() })) }), ({ data }) => data.items.length),
  },
});

describe('the tutorial contract on the engine', { timeout: 60_000 }, () => {
  let env: Served;
  before(async () => {
    env = await serve({
      hooks,
      contracts: [
        { route: '/rooms/[roomId]', exports: chatModule },
        { route: '/held', exports: { held } },
      ],
    });
  });
  after(() => env.close());

  test('checkpoint 1: /rooms/general and /rooms/random are different rooms', async () => {
    const alice = env.open(CHAT, '/rooms/general', 's-alice');
    const carol = env.open(CHAT, '/rooms/general', 's-carol');
    const bob = env.open(CHAT, '/rooms/random', 's-bob');
    await Promise.all([alice.connected, carol.connected, bob.connected]);
    for (const c of [alice, carol, bob]) {
      assert.deepEqual(await c.next('liverpc:room'), { room: 'chat', status: 'joined' });
    }
    assert.deepEqual(await alice.call('send', { text: 'hello general' }), { ok: true, data: { delivered: true } });
    assert.deepEqual(await carol.next('message'), { room: 'general', from: 'alice', text: 'hello general' });
    // Barrier: bob's own message in random reaches him after anything sent before it.
    await bob.call('send', { text: 'random only' });
    await bob.next('message', (m) => (m as { text: string }).text === 'random only');
    assert.deepEqual(
      bob.received.filter(([e]) => e === 'message'),
      [['message', { room: 'random', from: 'bob', text: 'random only' }]],
    );
  });

  test('checkpoint 2: without a session the tenant room fails on the server', async () => {
    const warnings = mock.method(console, 'warn', () => {});
    try {
      const guest = env.open(CHAT, '/rooms/general');
      await guest.connected;
      assert.deepEqual(await guest.next('liverpc:room'), { room: 'chat', status: 'joined' });
      // The tutorial's `locals.user.tenantId` throws without a user: refused, and (the expected
      // way to refuse a guest) a warning, not an error with a stack. Not joined.
      assert.deepEqual(await guest.call('liverpc:join', { room: 'tenant' }), FORBIDDEN);
      assert.ok(warnings.mock.calls.some((c) => String(c.arguments[0]).includes('#tenant threw TypeError')));
      // The page cannot pick the tenant: a private room takes no payload.
      const sent = (await guest.call('liverpc:join', { room: 'tenant', data: { tenantId: 'acme' } })) as { error: { code: string } };
      assert.equal(sent.error.code, 'invalid_payload');
      // Signed in, the same room joins.
      const alice = env.open(CHAT, '/rooms/general', 's-alice');
      await alice.connected;
      assert.deepEqual(await alice.call('liverpc:join', { room: 'tenant' }), { ok: true, data: null });
      assert.equal(chat.to(['tenant', 'acme']).emit('message', { room: 'tenant', from: 'ops', text: 'acme news' }), 1);
      assert.deepEqual(await alice.next('message', (m) => (m as { from: string }).from === 'ops'), {
        room: 'tenant',
        from: 'ops',
        text: 'acme news',
      });
    } finally {
      warnings.mock.restore();
    }
  });

  test('checkpoint 3: a project the user cannot access is refused, exactly, and leaks nothing', async () => {
    const bob = env.open(CHAT, '/rooms/general', 's-bob');
    await bob.connected;
    assert.deepEqual(await bob.call('liverpc:join', { room: 'project', data: { projectId: 'gemini' } }), FORBIDDEN);
    assert.deepEqual(await bob.call('liverpc:join', { room: 'project', data: { projectId: 'apollo' } }), {
      ok: true,
      data: null,
    });
    const invalid = (await bob.call('liverpc:join', { room: 'project', data: { projectId: 7 } })) as {
      error: { code: string; issues: { path: string }[] };
    };
    assert.equal(invalid.error.code, 'invalid_payload');
    assert.deepEqual(
      invalid.error.issues.map((i) => i.path),
      ['projectId'],
    );
    chat.to(['project', 'gemini']).emit('message', { room: 'gemini', from: 'x', text: 'secret' });
    chat.to(['project', 'apollo']).emit('message', { room: 'apollo', from: 'x', text: 'barrier' });
    await bob.next('message', (m) => (m as { text: string }).text === 'barrier');
    assert.ok(!bob.received.some(([, p]) => JSON.stringify(p).includes('secret')));
  });

  test('a payload is validated with its paths; a refusal keeps its code; a throw is internal, logged without the payload', async () => {
    const errors = mock.method(console, 'error', () => {});
    try {
      const alice = env.open(CHAT, '/rooms/general', 's-alice');
      const h = env.open('/held/held', '/held', 's-alice');
      await Promise.all([alice.connected, h.connected]);
      const empty = (await alice.call('send', { text: '' })) as { ok: boolean; error: { code: string; issues: { path: string }[] } };
      assert.equal(empty.error.code, 'invalid_payload');
      assert.deepEqual(empty.error.issues.map((i) => i.path), ['text']);
      const nested = (await h.call('nested', { items: [{ name: 'a' }, { name: 3 }] })) as { error: { issues: { path: string }[] } };
      assert.deepEqual(nested.error.issues.map((i) => i.path), ['items.1.name']);
      assert.deepEqual(await h.call('nested', { items: [{ name: 'a' }] }), { ok: true, data: 1 });
      assert.deepEqual(await h.call('refuse', null), {
        ok: false,
        error: { code: 'forbidden', message: 'only the author may edit this message' },
      });
      assert.deepEqual(await h.call('crash', { secret: 'hunter2' }), {
        ok: false,
        error: { code: 'internal', message: 'internal server error' },
      });
      const logged = errors.mock.calls.map((c) => c.arguments.map(String).join(' ')).join('\n');
      assert.match(logged, /held#crash threw/);
      assert.doesNotMatch(logged, /hunter2/);
    } finally {
      errors.mock.restore();
    }
  });

  test('a room function awaiting a promise holds only its own join', async () => {
    const waiting = env.open('/held/held', '/held', 's-alice');
    const alice = env.open(CHAT, '/rooms/general', 's-alice');
    const carol = env.open(CHAT, '/rooms/general', 's-carol');
    await Promise.all([waiting.connected, alice.connected, carol.connected]);
    const join = waiting.call('liverpc:join', { room: 'slow' });
    let settled = false;
    void join.then(() => (settled = true));
    // Meanwhile other sockets' calls and deliveries complete.
    assert.deepEqual(await alice.call('send', { text: 'while held' }), { ok: true, data: { delivered: true } });
    await carol.next('message', (m) => (m as { text: string }).text === 'while held');
    const late = env.open(CHAT, '/rooms/random', 's-bob');
    await late.connected;
    assert.equal(settled, false);
    release();
    assert.deepEqual(await join, { ok: true, data: null });
  });
});

describe('the hook', { timeout: 30_000 }, () => {
  test('a hook that throws or rejects refuses `internal`, and the process serves on', async () => {
    const errors = mock.method(console, 'error', () => {});
    const env = await serve({
      hooks: {
        handle: ({ cookies }) => {
          if (cookies.get('session') === 'sync') throw new Error('sync throw');
          return cookies.get('session') === 'async' ? Promise.reject(new Error('async rejection')) : {};
        },
      },
      contracts: [{ route: '/rooms/[roomId]', exports: chatModule }],
    });
    try {
      for (const session of ['sync', 'async']) {
        const c = env.open(CHAT, '/rooms/general', session);
        await assert.rejects(c.connected, (e: Error) => e.message === 'internal');
      }
      const unauthenticated = await serve({
        hooks: {
          handle: () => {
            throw new LiverpcError('unauthenticated', 'sign in first');
          },
        },
        contracts: [{ route: '/rooms/[roomId]', exports: chatModule }],
      });
      await assert.rejects(unauthenticated.open(CHAT, '/rooms/general').connected, (e: Error) => e.message === 'unauthenticated');
      await unauthenticated.close();
      const fine = env.open(CHAT, '/rooms/general', 'none');
      await fine.connected;
      // Both throws are at one site: logged once (with a count later), not once per page.
      assert.equal(errors.mock.calls.length, 1);
    } finally {
      errors.mock.restore();
      await env.close();
    }
  });
});

describe('the socket handoff', { timeout: 30_000 }, () => {
  test('proxied (no descriptor to adopt) serves the same contract', async () => {
    const warn = mock.method(console, 'warn', () => {});
    const env = await serve({ hooks, contracts: [{ route: '/rooms/[roomId]', exports: chatModule }] }, { proxy: true });
    try {
      const alice = env.open(CHAT, '/rooms/general', 's-alice');
      await alice.connected;
      assert.deepEqual(await alice.call('liverpc:join', { room: 'project', data: { projectId: 'apollo' } }), {
        ok: true,
        data: null,
      });
      assert.deepEqual(await alice.call('send', { text: 'via proxy' }), { ok: true, data: { delivered: true } });
      assert.deepEqual(await alice.next('message'), { room: 'general', from: 'alice', text: 'via proxy' });
    } finally {
      warn.mock.restore();
      await env.close();
    }
  });

  test('another path is not found; other upgrades are left alone', async () => {
    const env = await serve({ hooks, contracts: [{ route: '/rooms/[roomId]', exports: chatModule }] });
    try {
      await assert.rejects(env.open(CHAT, '/elsewhere', 's-alice').connected, (e: Error) => e.message === 'not_found');
    } finally {
      await env.close();
    }
  });
});
