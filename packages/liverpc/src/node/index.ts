/**
 * `liverpc/node`: production on one port with `@sveltejs/adapter-node`. The app is built with
 * the `sockets()` plugin of `liverpc/vite`, which bundles `src/hooks.socket.ts` and every
 * `*.socket.ts` with the SvelteKit server and registers them when the adapter's handler is
 * imported; `serve` wraps that handler in an HTTP server whose websocket upgrades go to the
 * engine.
 */

import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { createEngine, type Engine, type EngineLimits } from '../server/engine.js';
import { loadRegistered } from './registry.js';

export { loadRegistered, type RegisteredSockets } from './registry.js';

/**
 * The header `serve` sets on every request to the protocol it was served over (`http`),
 * overwriting what the client sent. adapter-node assumes `https` unless told: start the app
 * with `PROTOCOL_HEADER=x-liverpc-protocol` (or `ORIGIN`) so that its URLs, and its check
 * of form posts' origin, are right.
 */
export const PROTOCOL_HEADER = 'x-liverpc-protocol';

/** Options of {@link serve}. */
export interface ServeOptions {
  /** Default: `process.env.HOST` or `0.0.0.0`. */
  readonly host?: string;
  /** Default: `process.env.PORT` or 3000; 0 picks a free port. */
  readonly port?: number;
  /** Origins allowed besides the page's own (`createEngine`'s `origins`). */
  readonly origins?: readonly string[];
  /** Also accept HTTP long-polling. */
  readonly longPolling?: boolean;
  /** The engine's limits to change (`createEngine`'s `limits`). */
  readonly limits?: EngineLimits;
  /** `redis://host:port`: one node of several sharing their rooms (`createEngine`'s `redis`). */
  readonly redis?: string;
}

/** A running server: pages and realtime on one port. */
export interface Serving {
  readonly server: Server;
  readonly engine: Engine;
  /** `http://host:port`, with the port actually bound. */
  readonly url: string;
}

/** A request handler: adapter-node's `handler` (Polka/Express-style, with an optional `next`). */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse, next?: () => void) => void;

/**
 * Serves the SvelteKit app (adapter-node's `handler`) and its sockets on one port.
 *
 * @example
 * // server.js, beside build/ (adapter-node reads PROTOCOL_HEADER when its handler loads)
 * import { serve, PROTOCOL_HEADER } from 'liverpc/node';
 * process.env.PROTOCOL_HEADER ??= PROTOCOL_HEADER;
 * const { handler } = await import('./build/handler.js');
 * const { url } = await serve(handler, { port: 3000 });
 * console.log(`listening on ${url}`);
 */
export async function serve(handler: RequestHandler, options: ServeOptions = {}): Promise<Serving> {
  const engine = createEngine({
    ...(await loadRegistered()),
    ...(options.origins === undefined ? {} : { origins: options.origins }),
    ...(options.longPolling === undefined ? {} : { longPolling: options.longPolling }),
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    ...(options.redis === undefined ? {} : { redis: options.redis }),
  });
  const server = createServer((req, res) => {
    req.headers[PROTOCOL_HEADER] = 'http';
    handler(req, res, () => {
      res.statusCode = 404;
      res.end('Not found');
    });
  });
  engine.attach(server);
  const host = options.host ?? process.env.HOST ?? '0.0.0.0';
  server.listen(options.port ?? Number(process.env.PORT ?? 3000), host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { server, engine, url: `http://${host.includes(':') ? `[${host}]` : host}:${port}` };
}

export type { Engine } from '../server/engine.js';
