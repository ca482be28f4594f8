import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { useFixture } from './client.mjs';

const fixture = useFixture();

const FORBIDDEN = { ok: false, error: { code: 'forbidden', message: 'forbidden' } };
const OK = { ok: true, data: null };
const project = (projectId) => ({ room: 'project', data: { projectId } });

/** Sends a marker to the chat room; every tab in it must see the marker as its next message. */
async function barrier(sender, ...tabs) {
  const text = `marker ${Math.random()}`;
  assert.equal((await sender.call('send', { text })).ok, true);
  for (const tab of tabs) assert.equal((await tab.next('message')).text, text, 'a message arrived before the marker');
}

describe('rooms', () => {
  test('an anonymous tab may not join tenant', async () => {
    const anonymous = await fixture.connect({ path: '/rooms/anon' });
    assert.deepEqual(await anonymous.call('liverpc:join', { room: 'tenant' }), FORBIDDEN);
  });

  test('a refused join does not tell whether the project exists', async () => {
    const bob = await fixture.connect({ user: 'bob' });
    const existing = await bob.call('liverpc:join', project('gemini'));
    const missing = await bob.call('liverpc:join', project('nope'));
    assert.deepEqual(existing, FORBIDDEN);
    assert.deepEqual(missing, existing);
  });

  test('tenant messages stay in the tenant', async () => {
    const path = '/rooms/tenants';
    const alice = await fixture.connect({ user: 'alice', path });
    const bob = await fixture.connect({ user: 'bob', path });
    const carol = await fixture.connect({ user: 'carol', path });
    for (const tab of [alice, bob, carol]) assert.deepEqual(await tab.call('liverpc:join', { room: 'tenant' }), OK);

    assert.deepEqual(await alice.call('post', { room: 'tenant', text: 'acme only' }), { ok: true, data: { delivered: 1 } });
    assert.deepEqual(await bob.next('message'), { room: 'tenant/acme', from: 'alice', text: 'acme only' });
    await barrier(alice, alice, bob, carol);
  });

  test('project messages reach members only, until they leave', async () => {
    const path = '/rooms/projects';
    const sender = await fixture.connect({ user: 'alice', path });
    const member = await fixture.connect({ user: 'alice', path });
    const bob = await fixture.connect({ user: 'bob', path });
    assert.deepEqual(await sender.call('liverpc:join', project('gemini')), OK);
    assert.deepEqual(await member.call('liverpc:join', project('gemini')), OK);
    assert.deepEqual(await member.call('liverpc:join', project('gemini')), OK, 'joining again is a no-op');
    assert.deepEqual(await bob.call('liverpc:join', project('gemini')), FORBIDDEN);

    // The sender is excluded; the member gets it once despite joining twice.
    assert.deepEqual(await sender.call('post', { room: 'project', text: 'launch' }), { ok: true, data: { delivered: 1 } });
    assert.deepEqual(await member.next('message'), { room: 'project/gemini', from: 'alice', text: 'launch' });
    await barrier(sender, sender, member, bob);

    assert.deepEqual(await member.call('liverpc:leave', project('gemini')), OK);
    assert.deepEqual(await member.call('liverpc:leave', project('gemini')), OK, 'leaving twice is ok');
    assert.deepEqual(await sender.call('post', { room: 'project', text: 'after leave' }), { ok: true, data: { delivered: 0 } });
    await barrier(sender, sender, member, bob);

    // Posting requires being in the room.
    assert.equal((await member.call('post', { room: 'project', text: 'not a member' })).error?.code, 'forbidden');
  });
});
