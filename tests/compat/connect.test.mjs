import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { useFixture } from './client.mjs';

const fixture = useFixture();

describe('official socket.io-client 4.8', () => {
  for (const transport of ['websocket', 'polling']) {
    test(`connects, auto-joins and calls over ${transport}`, async () => {
      const tab = fixture.open({ user: 'alice', path: `/rooms/over-${transport}`, transports: [transport] });
      await tab.connected;
      assert.equal(tab.socket.io.engine.transport.name, transport);
      assert.deepEqual(await tab.next('liverpc:room'), { room: 'chat', status: 'joined' });

      const answer = await tab.call('send', { text: 'hello' });
      assert.deepEqual(answer, { ok: true, data: { delivered: 1 } });
      assert.deepEqual(await tab.next('message'), { room: `over-${transport}`, from: 'alice', text: 'hello' });
      assert.deepEqual(await tab.call('whoami'), { ok: true, data: 'alice' });
    });
  }

  test("the client's default transports: polling, then the upgrade to websocket", async () => {
    const tab = fixture.open({ user: 'alice', path: '/rooms/upgraded', transports: ['polling', 'websocket'] });
    await tab.connected;
    const engine = tab.socket.io.engine;
    if (engine.transport.name !== 'websocket') {
      await new Promise((resolve, reject) => {
        engine.once('upgrade', resolve);
        engine.once('upgradeError', reject);
      });
    }
    assert.equal(engine.transport.name, 'websocket');
    assert.deepEqual(await tab.next('liverpc:room'), { room: 'chat', status: 'joined' });
    assert.deepEqual(await tab.call('whoami'), { ok: true, data: 'alice' });
  });

  test('websocket and polling tabs share a room', async () => {
    const ws = await fixture.connect({ user: 'alice', path: '/rooms/mixed' });
    const polling = await fixture.connect({ user: 'bob', path: '/rooms/mixed', transports: ['polling'] });

    assert.deepEqual(await polling.call('send', { text: 'from polling' }), { ok: true, data: { delivered: 2 } });
    const expected = { room: 'mixed', from: 'bob', text: 'from polling' };
    assert.deepEqual(await ws.next('message'), expected);
    assert.deepEqual(await polling.next('message'), expected);
  });

  test('anonymous tabs connect and are named null', async () => {
    const tab = await fixture.connect({ path: '/rooms/lobby' });
    assert.deepEqual(await tab.call('whoami'), { ok: true, data: null });
    assert.deepEqual(await tab.call('send', { text: 'hi' }), { ok: true, data: { delivered: 1 } });
    assert.deepEqual(await tab.next('message'), { room: 'lobby', from: 'anonymous', text: 'hi' });
  });

  test('tutorial checkpoint: general never reaches random', async () => {
    const alice = await fixture.connect({ user: 'alice', path: '/rooms/general' });
    const bob = await fixture.connect({ user: 'bob', path: '/rooms/general' });
    const carol = await fixture.connect({ user: 'carol', path: '/rooms/random' });

    assert.deepEqual(await alice.call('send', { text: 'in general' }), { ok: true, data: { delivered: 2 } });
    const general = { room: 'general', from: 'alice', text: 'in general' };
    assert.deepEqual(await bob.next('message'), general);
    assert.deepEqual(await alice.next('message'), general);

    // Barrier: the general broadcast finished (acked) before this one, so were it leaking
    // to random, carol would see it before her own marker.
    assert.deepEqual(await carol.call('send', { text: 'marker' }), { ok: true, data: { delivered: 1 } });
    assert.deepEqual(await carol.next('message'), { room: 'random', from: 'carol', text: 'marker' });
  });
});
