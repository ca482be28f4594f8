/**
 * STAND-IN, to delete at merge: the engine's `close`, `handOver` and `ownsUpgrade` (PROD-SPEC,
 * "Fixed interfaces") are the engine helper's, `loadRegistered` the build helper's; until they
 * land, node/ calls them through this module, which falls back to what the tree has today (no
 * graceful close, no `remote`, the registry read at once).
 */

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

import type { Engine } from '../server/engine.js';
import { handOver, SOCKET_IO_PATH } from '../server/upgrade.js';
import { registered, type RegisteredSockets } from './registry.js';

/** The part of the engine `liverpc/node` uses. */
export interface Realtime {
  ownsUpgrade(req: IncomingMessage): boolean;
  handOver(req: IncomingMessage, socket: Duplex, head: Buffer, options: { remote?: string }): void;
  close(options?: { timeoutMs?: number }): Promise<void>;
}

/** The engine's own methods when it has them, else today's behaviour. */
export function realtime(engine: Engine): Realtime {
  const own = engine as unknown as Partial<Realtime>;
  return {
    ownsUpgrade: (req) => (own.ownsUpgrade ? own.ownsUpgrade.call(engine, req) : new URL(req.url ?? '/', 'http://x').pathname.startsWith(SOCKET_IO_PATH)),
    handOver: (req, socket, head, options) =>
      own.handOver ? own.handOver.call(engine, req, socket, head, options) : handOver(engine.native, req, socket, head),
    close: (options) => (own.close ? own.close.call(engine, options) : Promise.resolve()),
  };
}

/**
 * STAND-IN for the build helper's `loadRegistered()` of `./registry.js` (PROD-SPEC,
 * "build -> node"): the app's sockets, once their modules are imported.
 */
export async function loadRegistered(): Promise<RegisteredSockets> {
  return registered();
}
