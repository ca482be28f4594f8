// Errors from user code: a LiverpcError from another copy of liverpc is honoured (a brand, not
// the prototype); `internal` sends the page no message; a room function or a hook that throws
// for every guest is logged once per site with a count, not once per page.

import assert from 'node:assert/strict';
import { describe, mock, test } from 'node:test';

import { LiverpcError, handler, room, socket } from 'liverpc/server';

import { serve } from './harness.js';

/** A second copy of liverpc's error module, as a bundle that inlines `liverpc` holds one. */
async function secondCopy(): Promise<typeof import('liverpc/server')> {
  const url = new URL('../error.js', import.meta.resolve('liverpc/server'));
  url.search = '?second-copy';
  return (await import(url.href)) as typeof import('liverpc/server');
}

describe('errors from user code', { timeout: 30_000 }, () => {
  test('a LiverpcError from another copy of the class answers the page with its code', async () => {
    const Copy = (await secondCopy()).LiverpcError;
    assert.notEqual(Copy, LiverpcError, 'a distinct class');
    assert.ok(new Copy('timeout', 'x') instanceof LiverpcError, 'instanceof holds across copies');
    assert.ok(!(new Error('x') instanceof LiverpcError));
    const lab = socket({
      fromClient: {
        refuse: handler(() => {
          throw new Copy('forbidden', 'no');
        }),
      },
    });
    const env = await serve({ contracts: [{ route: '/', exports: { lab } }] });
    try {
      const page = env.open('/lab', '/');
      await page.connected;
      assert.deepEqual(await page.call('refuse', null), { ok: false, error: { code: 'forbidden', message: 'no' } });
    } finally {
      await env.close();
    }
  });

  test('`internal` reaches the page without its message, which is logged', async () => {
    const errors = mock.method(console, 'error', () => {});
    const lab = socket({
      fromClient: {
        leak: handler(() => {
          throw new LiverpcError('internal', 'password=hunter2');
        }),
      },
    });
    const env = await serve({ contracts: [{ route: '/', exports: { lab } }] });
    try {
      const page = env.open('/lab', '/');
      await page.connected;
      assert.deepEqual(await page.call('leak', null), {
        ok: false,
        error: { code: 'internal', message: 'internal server error' },
      });
      const logged = errors.mock.calls.map((c) => c.arguments.map(String).join(' ')).join('\n');
      assert.match(logged, /handler \/lab#leak threw/);
      assert.match(logged, /hunter2/, 'the real message is in the log');
    } finally {
      errors.mock.restore();
      await env.close();
    }
  });

  test('a room function that throws for every guest is refused `forbidden` and logged once per site, with a count', async () => {
    const warnings = mock.method(console, 'warn', () => {});
    const errors = mock.method(console, 'error', () => {});
    // The tutorial's checkpoint 2: `locals.user.tenantId` on a guest, who has no user.
    const lab = socket({
      rooms: {
        tenant: room.private(({ locals }) => ['tenant', (locals as { user: { tenantId: string } }).user.tenantId]),
      },
    });
    const env = await serve({ contracts: [{ route: '/', exports: { lab } }] });
    try {
      const guests = Array.from({ length: 12 }, () => env.open('/lab', '/'));
      for (const guest of guests) {
        await guest.connected;
        assert.deepEqual(await guest.call('liverpc:join', { room: 'tenant' }), {
          ok: false,
          error: { code: 'forbidden', message: 'forbidden' },
        });
      }
      const lines = warnings.mock.calls.map((c) => String(c.arguments[0]));
      assert.equal(lines.length, 2, `the 1st and the 10th: ${lines.join('\n')}`);
      assert.match(lines[0] ?? '', /room \/lab#tenant threw TypeError: .*tenantId.*logged once per site with a count/);
      assert.match(lines[0] ?? '', /Liverpc\.Locals/, 'it says what to declare');
      assert.match(lines[1] ?? '', /10 times so far/);
      assert.equal(errors.mock.calls.length, 0, 'no ERROR, no stack: refusing a guest is expected');
    } finally {
      warnings.mock.restore();
      errors.mock.restore();
      await env.close();
    }
  });

  test('a hook that throws on every page is refused `internal` and logged once', async () => {
    const errors = mock.method(console, 'error', () => {});
    const lab = socket({});
    const env = await serve({
      hooks: {
        handle: () => {
          throw new Error('the session store is misconfigured');
        },
      },
      contracts: [{ route: '/', exports: { lab } }],
    });
    try {
      for (let i = 0; i < 5; i++) {
        await assert.rejects(env.open('/lab', '/').connected, (e: Error) => e.message === 'internal');
      }
      assert.equal(errors.mock.calls.length, 1);
      assert.match(String(errors.mock.calls[0]?.arguments[0]), /the connection hook .* threw/);
    } finally {
      errors.mock.restore();
      await env.close();
    }
  });
});
