// engine.close(): in-flight calls are answered, pages are closed at the transport and their
// official socket.io-client reconnects (here to the next engine on the same server, as after a
// restart or a `vite dev` re-registration) without ever being refused; and a closed engine is
// freed, JavaScript and native side alike.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, test } from 'node:test';

import { createEngine, handler, socket, type Engine } from 'liverpc/server';
import { Manager } from 'socket.io-client';

// The package's own copy (the one `liverpc/server` loaded), not the test build's.
import { loadNative } from '#internal/server/native.js';

/** Calls that wait for the test: `entered` resolves once `n` are running, `open` lets them go. */
function gate() {
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  let running = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  return {
    open,
    entered: (n: number) =>
      new Promise<void>((resolve) => {
        if (running >= n) resolve();
        else waiters.push({ n, resolve });
      }),
    async run(): Promise<string> {
      running += 1;
      for (const w of waiters.filter((w) => running >= w.n)) w.resolve();
      await opened;
      return 'done';
    },
  };
}

const REFUSALS = ['forbidden_origin', 'unauthenticated', 'forbidden', 'not_found', 'unavailable', 'internal'];

describe('engine.close()', { timeout: 30_000 }, () => {
  test('calls in flight are answered, then pages reconnect to the next engine, never refused', async () => {
    const calls = gate();
    const lobby = socket({ fromClient: { wait: handler(() => calls.run()), hello: handler(() => 'hi') } });
    const contracts = [{ route: '/', exports: { lobby } }];
    let current: Engine = createEngine({ contracts });
    const server = createServer((_, res) => res.writeHead(404).end());
    // One upgrade listener for whichever engine is current (as liverpc/node and liverpc/vite do).
    server.on('upgrade', (req, sock, head) => current.handOver(req, sock, head));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const pages = [0, 1, 2].map(() => {
      const manager = new Manager(url, { transports: ['websocket'], reconnectionDelay: 10, reconnectionDelayMax: 50 });
      const page = manager.socket('/lobby', { auth: { path: '/' } });
      const refusals: string[] = [];
      page.on('connect_error', (e: Error) => {
        if (REFUSALS.includes(e.message)) refusals.push(e.message);
      });
      let connects = 0;
      const reconnected = new Promise<void>((resolve) => page.on('connect', () => ++connects === 2 && resolve()));
      const first = new Promise<void>((resolve) => page.once('connect', () => resolve()));
      return { manager, page, refusals, reconnected, first };
    });
    await Promise.all(pages.map((p) => p.first));
    const answers = pages.map((p) => p.page.timeout(10_000).emitWithAck('wait', null));
    await calls.entered(3);

    // The next engine takes new connections; the old one drains.
    const old = current;
    current = createEngine({ contracts });
    const closed = old.close({ timeoutMs: 20_000 });
    calls.open();
    assert.deepEqual(await Promise.all(answers), [0, 1, 2].map(() => ({ ok: true, data: 'done' })));
    await closed;
    await old.close(); // again: the same end
    // Every page was closed at the transport and came back by itself, to the new engine.
    await Promise.all(pages.map((p) => p.reconnected));
    for (const p of pages) {
      assert.deepEqual(p.refusals, []);
      assert.deepEqual(await p.page.timeout(5000).emitWithAck('hello', null), { ok: true, data: 'hi' });
      p.page.disconnect(); // the manager's last socket: it closes and stops reconnecting
    }
    // The closed engine takes nothing more: an emit is refused.
    assert.throws(() => old.emit('/lobby', ['x'], 'e', null), (e: Error & { code?: string }) => e.code === 'unavailable');
    await current.close({ timeoutMs: 1000 });
    server.close();
  });

  test('100 engines made and closed leave one alive', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const native = loadNative();
    const lobby = socket({ fromClient: { hello: handler(() => 'hi') } });
    const contracts = [{ route: '/', exports: { lobby } }];
    const before = native.liveEngines();
    let collected = 0;
    const registry = new FinalizationRegistry<null>(() => collected++);
    for (let i = 0; i < 100; i++) {
      const engine = createEngine({ contracts });
      registry.register(engine, null);
      await engine.close({ timeoutMs: 0 });
    }
    const kept = createEngine({ contracts });
    // Native side: freed at close, no garbage collection needed.
    assert.equal(native.liveEngines() - before, 1, 'only the engine not closed is alive');
    // JavaScript side: nothing native holds a closed engine (the dispatch function is released).
    for (let round = 0; round < 50 && collected < 100; round++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok(collected >= 99, `${collected} of 100 closed engines were collected`);
    await kept.close({ timeoutMs: 0 });
    assert.equal(native.liveEngines(), before);
  });
});
