import assert from 'node:assert/strict';
import { test } from 'node:test';

import { TIMEOUT, useFixture } from './client.mjs';

const fixture = useFixture();

const project = (projectId) => ({ room: 'project', data: { projectId } });

test('a revoked project is refused from the next connection on', async () => {
  const before = await fixture.connect({ user: 'alice' });

  const response = await fetch(`${fixture.url}/admin/revoke/alice/gemini`, {
    method: 'POST',
    signal: AbortSignal.timeout(TIMEOUT),
  });
  assert.equal(response.status, 200);
  assert.equal(await response.text(), 'revoked');

  const after = await fixture.connect({ user: 'alice' });
  assert.deepEqual(await after.call('liverpc:join', project('gemini')), {
    ok: false,
    error: { code: 'forbidden', message: 'forbidden' },
  });
  assert.deepEqual(await after.call('liverpc:join', project('apollo')), { ok: true, data: null });

  // Locals come from the handshake: a connection made before the revocation keeps the right.
  assert.deepEqual(await before.call('liverpc:join', project('gemini')), { ok: true, data: null });
});
