/**
 * Closing the app's server closes its realtime side with it. adapter-node's SIGTERM, SIGINT and
 * idle shutdown all end in `httpServer.close(callback)`, whose callback clears its timeout and
 * emits `sveltekit:shutdown`; so the one place to join is `close` itself.
 */

import type { Server } from 'node:http';

/**
 * Makes `server.close(callback)` also start `drain()`, and run `callback` only once both the
 * HTTP server and `drain()` are done: `sveltekit:shutdown` (where an app closes its database)
 * then comes after the last realtime handler, never under it.
 *
 * @example
 * closeTogether(server, () => engine.close({ timeoutMs: 30_000 }));
 */
export function closeTogether(server: Server, drain: () => Promise<void>): void {
  const close = server.close;
  let drained: Promise<void> | undefined;
  // Overridden on this instance (adapter-node holds the server, not a hook): the original
  // close runs unchanged; only its callback waits.
  server.close = function (this: Server, callback?: (error?: Error) => void): Server {
    drained ??= drain().catch((e: unknown) => console.error('liverpc: the engine did not close cleanly:', e));
    const done = drained;
    return Reflect.apply(close, this, [
      (error?: Error): void => {
        if (error !== undefined) {
          callback?.(error);
          return;
        }
        void done.then(() => callback?.());
      },
    ]) as Server;
  } as Server['close'];
}
