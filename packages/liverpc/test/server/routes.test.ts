// Routes with SvelteKit param matchers (`[id=integer]`, `src/params/integer.ts`): the engine
// asks the matchers, and a URL they refuse is not the contract's route (`not_found`).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { createEngine, handler, socket } from 'liverpc/server';

import { serve } from './harness.js';

const item = socket({ fromClient: { id: handler(({ params }) => params.id) } });
const contracts = [{ route: '/items/[id=integer]/[[lang=lang]]', exports: { item } }];
const NAMESPACE = '/items/[id=integer]/[[lang=lang]]/item';

describe('param matchers', { timeout: 30_000 }, () => {
  test('a URL every matcher accepts connects; one a matcher refuses is `not_found`', async () => {
    let throws = 0;
    const env = await serve({
      contracts,
      matchers: {
        integer: (param) => /^\d+$/.test(param),
        lang: (param) => {
          if (param === 'boom') {
            throws += 1;
            throw new Error('a broken matcher');
          }
          return param === 'en' || param === 'fr';
        },
      },
    });
    try {
      const page = env.open(NAMESPACE, '/items/42');
      await page.connected;
      assert.deepEqual(await page.call('id', null), { ok: true, data: '42' });
      await env.open(NAMESPACE, '/items/42/fr').connected;
      for (const path of ['/items/abc', '/items/42/de']) {
        await assert.rejects(env.open(NAMESPACE, path).connected, (e: Error) => e.message === 'not_found', path);
      }
      const errors = console.error;
      console.error = () => {};
      try {
        await assert.rejects(env.open(NAMESPACE, '/items/42/boom').connected, (e: Error) => e.message === 'not_found');
      } finally {
        console.error = errors;
      }
      assert.equal(throws, 1);
    } finally {
      await env.close();
    }
  });

  test('a route whose matcher is not given is refused at createEngine, naming the file', () => {
    assert.throws(
      () => createEngine({ contracts, matchers: { integer: () => true } }),
      (e: Error) => e.message.includes('src/params/lang.ts'),
    );
  });
});
