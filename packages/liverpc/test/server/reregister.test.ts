// 100 re-registrations in `vite dev` (a contract reported changed 100 times): each new engine replaces the
// last, which is closed and freed. Counted by a FinalizationRegistry after forced collections
// (no timing), with the process's RSS compared between the 10th and the 100th.

import assert from 'node:assert/strict';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { createServer } from 'vite';
import { sockets } from 'liverpc/vite';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const here = dirname(fileURLToPath(import.meta.url));

test('100 re-registrations leave one engine alive and RSS flat', { timeout: 300_000 }, async () => {
  const root = join(here, '..', '..', '..', 'vite-scratch', 'reregister');
  rmSync(root, { recursive: true, force: true });
  mkdirSync(dirname(root), { recursive: true });
  cpSync(join(here, '..', '..', '..', '..', 'test', 'server', 'app'), root, { recursive: true });
  const plugins = sockets({ client: 'liverpc' });
  const vite = await createServer({
    root,
    configFile: false,
    logLevel: 'silent',
    plugins,
    server: { host: '127.0.0.1', port: 0, strictPort: false },
    optimizeDeps: { noDiscovery: true, include: [] },
  });
  const alive = new Set<number>();
  const engines = new FinalizationRegistry<number>((id) => alive.delete(id));
  const track = async (id: number): Promise<void> => {
    // Only the registry holds the engine: this function's frame is gone when it returns.
    alive.add(id);
    engines.register(await plugins.api.engine(), id);
  };
  try {
    await vite.listen();
    await track(0);
    const contract = join(root, 'src', 'routes', 'rooms', '[roomId]', 'chat.socket.ts');
    let rssAt10 = 0;
    for (let i = 1; i <= 100; i++) {
      const next = plugins.api.nextEngine();
      // As the watcher reports a save (its own events coalesce saves made faster than it polls).
      vite.watcher.emit('change', contract);
      await next;
      await track(i);
      if (i === 10) {
        gc();
        rssAt10 = process.memoryUsage().rss;
      }
    }
    // Collections until the finalizers ran; bounded, each after a turn of the event loop.
    for (let round = 0; round < 50 && alive.size > 1; round++) {
      await plugins.api.engine();
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(alive.size, 1, `engines still alive: ${[...alive].join(', ')}`);
    gc();
    const growth = process.memoryUsage().rss - rssAt10;
    // 90 leaked engines cost far more (each holds its native app, runtime and listener).
    assert.ok(growth < 64 * 1024 * 1024, `RSS grew by ${Math.round(growth / 1024 / 1024)} MiB over 90 re-registrations`);
  } finally {
    await vite.close();
    rmSync(root, { recursive: true, force: true });
  }
});
