// JavaScript under the engine's limits: a handler past the timeout has its signal aborted and
// holds its socket's slot until it settles (Rule 7 (docs/security.md#rule-7)); the queue into
// JavaScript is bounded (Rule 5 (docs/security.md#rule-5)); and the heartbeat, in Rust, goes
// on while Node's event loop is blocked.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';

import { handler, socket } from 'liverpc/server';

import { serve } from './harness.js';

/** A promise and its resolver. */
function later<T = void>() {
  let resolve: (value: T) => void = () => {};
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('a JavaScript handler past the timeout', { timeout: 30_000 }, () => {
  test('the page gets `timeout`, the signal is aborted, the next call starts after it settles', async () => {
    const log: string[] = [];
    const aborted = later();
    const release = later();
    const lab = socket({
      fromClient: {
        slow: handler(async ({ signal }) => {
          log.push('slow started');
          await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
          log.push(`slow aborted: ${(signal.reason as { code?: string }).code}`);
          aborted.resolve();
          await release.promise;
          log.push('slow settled');
          return 'late';
        }),
        next: handler(() => {
          log.push('next started');
          return 'next';
        }),
      },
    });
    const env = await serve({ contracts: [{ route: '/', exports: { lab } }], limits: { handlerTimeoutMs: 200 } });
    try {
      const page = env.open('/lab', '/');
      await page.connected;
      const slow = (await page.call('slow', null)) as { ok: boolean; error?: { code: string } };
      assert.equal(slow.error?.code, 'timeout');
      await aborted.promise;
      const next = page.call('next', null);
      // The call is on its way while the first handler still runs; it runs only after.
      setImmediate(() => release.resolve());
      assert.deepEqual(await next, { ok: true, data: 'next' });
      assert.deepEqual(log, ['slow started', 'slow aborted: timeout', 'slow settled', 'next started']);
    } finally {
      await env.close();
    }
  });

  test('a socket that closes aborts its running handler', async () => {
    const started = later();
    const aborted = later<string | undefined>();
    const lab = socket({
      fromClient: {
        wait: handler(async ({ signal }) => {
          started.resolve();
          await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
          aborted.resolve((signal.reason as { code?: string }).code);
          return null;
        }),
      },
    });
    const env = await serve({ contracts: [{ route: '/', exports: { lab } }] });
    try {
      const page = env.open('/lab', '/');
      await page.connected;
      void page.call('wait', null).catch(() => {});
      await started.promise;
      page.socket.disconnect();
      assert.equal(await aborted.promise, 'disconnected');
    } finally {
      await env.close();
    }
  });
});

describe('the queue into JavaScript', { timeout: 30_000 }, () => {
  test('is bounded: past it a call is `rate_limited` and a connection `unavailable`', async () => {
    const holding = later();
    const release = later();
    const lab = socket({
      fromClient: {
        hold: handler(async () => {
          holding.resolve();
          await release.promise;
          return 'held';
        }),
        quick: handler(() => 'quick'),
      },
    });
    const env = await serve({ contracts: [{ route: '/', exports: { lab } }], maxPendingJs: 1 });
    try {
      // One at a time: with one place, two hooks decided at once would refuse one of them.
      const a = env.open('/lab', '/');
      await a.connected;
      const b = env.open('/lab', '/');
      await b.connected;
      const held = a.call('hold', null);
      await holding.promise;
      // The one place is taken by `hold`, which runs in JavaScript.
      const refused = (await b.call('quick', null)) as { ok: boolean; error?: { code: string } };
      assert.equal(refused.error?.code, 'rate_limited');
      await assert.rejects(env.open('/lab', '/').connected, (e: Error) => e.message === 'unavailable');
      release.resolve();
      assert.deepEqual(await held, { ok: true, data: 'held' });
      assert.deepEqual(await b.call('quick', null), { ok: true, data: 'quick' });
    } finally {
      await env.close();
    }
  });
});

describe('a blocked event loop', { timeout: 60_000 }, () => {
  test('never stops the engine pinging its pages', async () => {
    // [pings the page saw, whether it was disconnected]
    const shared = new SharedArrayBuffer(8);
    const seen = new Int32Array(shared);
    const lab = socket({
      fromClient: {
        // Blocks the event loop (synchronously) until the page has seen three more pings.
        block: handler(() => {
          const from = Atomics.load(seen, 0);
          const until = Date.now() + 30_000; // a failure bound, not a synchronisation
          while (Atomics.load(seen, 0) < from + 3 && Date.now() < until) Atomics.wait(seen, 0, Atomics.load(seen, 0), 1000);
          return Atomics.load(seen, 0) - from;
        }),
      },
    });
    const env = await serve({
      contracts: [{ route: '/', exports: { lab } }],
      limits: { pingIntervalMs: 50, pingTimeoutMs: 200, handlerTimeoutMs: 30_000 },
    });
    // The page runs in a worker thread: its own event loop answers the pings.
    const client = createRequire(import.meta.url).resolve('socket.io-client');
    const worker = new Worker(
      `
      const { workerData, parentPort } = require('node:worker_threads');
      const { Manager } = require(workerData.client);
      const seen = new Int32Array(workerData.shared);
      const manager = new Manager(workerData.url, { transports: ['websocket'], reconnection: false });
      manager.on('ping', () => { Atomics.add(seen, 0, 1); Atomics.notify(seen, 0); });
      const page = manager.socket('/lab', { auth: { path: '/' } });
      page.on('disconnect', (reason) => { Atomics.store(seen, 1, 1); parentPort.postMessage({ disconnected: reason }); });
      page.on('connect_error', (e) => parentPort.postMessage({ error: e.message }));
      page.on('connect', () => {
        page.timeout(60000).emit('block', null, (error, answer) => {
          // Whether the page was disconnected while blocked, read before its own disconnect.
          parentPort.postMessage({ answer, error: error && error.message, dropped: Atomics.load(seen, 1) });
          page.disconnect();
        });
      });
      `,
      { eval: true, workerData: { client, url: env.url, shared } },
    );
    try {
      const [reply] = (await new Promise((resolve, reject) => {
        worker.once('message', (m) => resolve([m]));
        worker.once('error', reject);
      })) as [{ answer?: { ok: boolean; data: number }; error?: string; dropped?: number }];
      assert.equal(reply.error ?? null, null);
      assert.equal(reply.answer?.ok, true);
      assert.ok((reply.answer?.data ?? 0) >= 3, 'three pings came while the event loop was blocked');
      assert.equal(reply.dropped, 0, 'the page stayed connected');
    } finally {
      await worker.terminate();
      await env.close();
    }
  });
});
