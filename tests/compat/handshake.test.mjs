import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { useFixture } from './client.mjs';

const fixture = useFixture();

describe('handshake refusals arrive as connect_error', () => {
  test('not_found: no route matches the path', async () => {
    assert.equal(await fixture.refusal({ user: 'alice', path: '/nope' }), 'not_found');
  });

  test('not_found: no auth at all', async () => {
    assert.equal(await fixture.refusal({ user: 'alice', auth: null }), 'not_found');
  });

  test('not_found: auth without a path', async () => {
    assert.equal(await fixture.refusal({ user: 'alice', auth: {} }), 'not_found');
  });

  test('unauthenticated: unknown session', async () => {
    assert.equal(await fixture.refusal({ user: 'mallory' }), 'unauthenticated');
  });

  test('forbidden_origin: foreign Origin with a valid session', async () => {
    assert.equal(await fixture.refusal({ user: 'alice', headers: { origin: 'https://evil.example' } }), 'forbidden_origin');
  });

  test('forbidden_origin over polling too', async () => {
    const options = { user: 'alice', transports: ['polling'], headers: { origin: 'https://evil.example' } };
    assert.equal(await fixture.refusal(options), 'forbidden_origin');
  });

  test('internal: the hook panicked, and the server lives on', async () => {
    assert.equal(await fixture.refusal({ user: 'panic' }), 'internal');
    const tab = await fixture.connect({ user: 'bob' });
    assert.deepEqual(await tab.call('whoami'), { ok: true, data: 'bob' });
  });

  test('allowed origins connect: the listed one and the same origin', async () => {
    const listed = await fixture.connect({ user: 'alice', headers: { origin: 'http://allowed.example' } });
    assert.deepEqual(await listed.call('whoami'), { ok: true, data: 'alice' });
    const same = await fixture.connect({ user: 'alice', headers: { origin: fixture.url } });
    assert.deepEqual(await same.call('whoami'), { ok: true, data: 'alice' });
  });
});
