// User code that answers at once and user code that answers through a promise take two paths in
// the engine's runs (a synchronous run makes no promise): both must give the page the same
// answers, refusals and errors, with schemas synchronous or not.

import assert from 'node:assert/strict';
import { describe, mock, test } from 'node:test';

import { LiverpcError, handler, room, socket, type StandardSchemaV1 } from 'liverpc/server';

import { serve } from './harness.js';

/** `{ id: string }`, validated at once or through a promise. */
function idSchema(later: boolean): StandardSchemaV1<{ id: string }, { id: string }> {
  const check = (value: unknown): StandardSchemaV1.Result<{ id: string }> => {
    const id = (value as { id?: unknown } | null)?.id;
    return typeof id === 'string' ? { value: { id } } : { issues: [{ message: 'expected a string', path: ['id'] }] };
  };
  return {
    '~standard': {
      version: 1,
      vendor: 'liverpc-test',
      validate: (value) => (later ? Promise.resolve(check(value)) : check(value)),
    },
  };
}

/** `value` at once, or through a promise. */
function answer<T>(later: boolean, value: T): T | Promise<T> {
  return later ? Promise.resolve(value) : value;
}

/** A throw, at once or as a rejection. */
function fail(later: boolean, error: Error): never | Promise<never> {
  if (later) return Promise.reject(error);
  throw error;
}

function contract(later: boolean) {
  return socket({
    fromClient: {
      echo: handler(idSchema(later), ({ data }) => answer(later, { echoed: data.id })),
      refuse: handler(() => fail(later, new LiverpcError('forbidden', 'not yours'))),
      crash: handler(() => fail(later, new Error('bug'))),
    },
    rooms: {
      project: room.expose(idSchema(later), ({ data }) => {
        if (data.id === 'throws') return fail(later, new Error('bug'));
        return answer(later, data.id === 'mine' ? ['project', data.id] : false);
      }),
    },
  });
}

describe('runs answered at once or later', { timeout: 30_000 }, () => {
  test('a room function, a handler and a schema give the same answers either way', async () => {
    const errors = mock.method(console, 'error', () => {});
    const warnings = mock.method(console, 'warn', () => {});
    const env = await serve({ contracts: [{ route: '/', exports: { now: contract(false), later: contract(true) } }] });
    try {
      const answers: Record<string, unknown[]> = {};
      for (const name of ['now', 'later']) {
        const page = env.open(`/${name}`, '/');
        await page.connected;
        answers[name] = [
          await page.call('echo', { id: 'a' }),
          await page.call('echo', { id: 1 }),
          await page.call('refuse', null),
          await page.call('crash', null),
          await page.call('liverpc:join', { room: 'project', data: { id: 'mine' } }),
          await page.call('liverpc:join', { room: 'project', data: { id: 'theirs' } }),
          await page.call('liverpc:join', { room: 'project', data: { id: 'throws' } }),
          await page.call('liverpc:join', { room: 'project', data: { id: 2 } }),
        ];
      }
      assert.deepEqual(answers['now'], answers['later']);
      const forbidden = { ok: false, error: { code: 'forbidden', message: 'forbidden' } };
      const [echoed, invalid, refused, crashed, joined, denied, thrown, invalidJoin] = answers['now'] ?? [];
      assert.deepEqual(echoed, { ok: true, data: { echoed: 'a' } });
      assert.equal((invalid as { error?: { code?: string } }).error?.code, 'invalid_payload');
      assert.deepEqual(refused, { ok: false, error: { code: 'forbidden', message: 'not yours' } });
      assert.deepEqual(crashed, { ok: false, error: { code: 'internal', message: 'internal server error' } });
      assert.deepEqual(joined, { ok: true, data: null });
      assert.deepEqual(denied, forbidden);
      // Rule 2 (docs/security.md#rule-2): a room function that fails refuses the join `forbidden`.
      assert.deepEqual(thrown, forbidden);
      assert.equal((invalidJoin as { error?: { code?: string } }).error?.code, 'invalid_payload');
    } finally {
      errors.mock.restore();
      warnings.mock.restore();
      await env.close();
    }
  });
});
