/**
 * `liverpc/node`: production with `@sveltejs/adapter-node`. adapter-node's own server runs
 * (`build/index.js`: every variable it documents, its signals, its graceful shutdown) and the
 * sockets are attached to it: pages and realtime on one port, one deployment contract.
 */

import { once } from 'node:events';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

import { createEngine, type Engine, type EngineLimits } from '../server/engine.js';
import { clientAddress, deployment, publicHost, type Deployment, type Env } from './deployment.js';
import { closeTogether } from './shutdown.js';
import { loadRegistered } from './registry.js';
import { refuse, Upgrades } from './upgrades.js';

export { loadRegistered } from './registry.js';
export type { RegisteredSockets } from './registry.js';
export type { Env } from './deployment.js';
export type { Engine } from '../server/engine.js';

/**
 * A header `attach` sets on every request to the protocol the connection was served over
 * (`http` or `https`), overwriting the client's. adapter-node assumes `https` unless told; for
 * plain HTTP without a proxy (a demo, a test), `PROTOCOL_HEADER=x-liverpc-protocol` makes its
 * URLs and its check of form posts' origin right. Behind a proxy use `ORIGIN` instead.
 */
export const PROTOCOL_HEADER = 'x-liverpc-protocol';

/** Default of {@link AttachOptions.maxForeignUpgrades}. */
export const MAX_FOREIGN_UPGRADES = 256;

/** Options of {@link attach} and {@link serve}. */
export interface AttachOptions {
  /** Origins allowed besides the page's own and `ORIGIN` (`createEngine`'s `origins`). */
  readonly origins?: readonly string[];
  /** Also accept HTTP long-polling. */
  readonly longPolling?: boolean;
  /** The engine's limits to change (`createEngine`'s `limits`). */
  readonly limits?: EngineLimits;
  /** `redis://host:port`: one node of several sharing their rooms (`createEngine`'s `redis`). */
  readonly redis?: string;
  /**
   * Upgrade requests liverpc does not own, with no `'upgrade'` listener of the app's to take
   * them, served at once as ordinary requests (`curl --http2` asks `Upgrade: h2c`); beyond,
   * `503` (default 256).
   */
  readonly maxForeignUpgrades?: number;
  /**
   * How to read adapter-node's variables (`ORIGIN`, `ADDRESS_HEADER`, `XFF_DEPTH`,
   * `HOST_HEADER`, `PORT_HEADER`, `SHUTDOWN_TIMEOUT`). Default: `process.env`; `serve` passes
   * the build's own `env()`, which applies its `envPrefix`.
   */
  readonly env?: Env;
}

/** An HTTP server with the sockets on it. */
export interface Attached {
  readonly server: Server;
  readonly engine: Engine;
}

/** adapter-node's server with the sockets on it. */
export interface Serving extends Attached {
  /** `http://host:port` as bound, or the socket's path (`SOCKET_PATH`). */
  readonly url: string;
}

/**
 * Serves the sockets on `server`, an HTTP server whose requests go to the app (adapter-node's
 * `handler` in a server of your own). Call it before the server receives requests: it takes
 * the upgrades at once (they wait for the engine, which needs the app's modules), and
 * resolves once the engine is up.
 *
 * - The endpoint's upgrades go to the engine, with the client's address from `ADDRESS_HEADER`
 *   / `XFF_DEPTH` when set; `ORIGIN` is an allowed origin.
 * - Other upgrades go to the server's other `'upgrade'` listeners, or, when it has none, are
 *   served as ordinary requests and closed.
 * - `server.close(callback)` closes the engine too (in-flight calls finish up to
 *   `SHUTDOWN_TIMEOUT`, pages reconnect), and `callback` runs after both.
 *
 * @example
 * import { createServer } from 'node:http';
 * import { handler } from './build/handler.js';
 * import { attach } from 'liverpc/node';
 * const server = createServer(handler);
 * const ready = attach(server);
 * server.listen(3000);
 * await ready;
 */
export async function attach(server: Server, options: AttachOptions = {}): Promise<Attached> {
  const d = deployment(options.env ?? ((name) => process.env[name]));
  // Everything that must see the first request is in place before the first `await`.
  server.prependListener('request', (req: IncomingMessage) => {
    req.headers[PROTOCOL_HEADER] = 'encrypted' in req.socket ? 'https' : 'http';
  });
  const upgrades = new Upgrades(server, options.maxForeignUpgrades ?? MAX_FOREIGN_UPGRADES);
  const started = start(d, options);
  closeTogether(server, async () => {
    // Whatever is still being answered as a plain request goes at the same deadline.
    setTimeout(() => upgrades.destroy(), d.shutdownTimeoutMs).unref();
    const engine = await started.catch(() => undefined);
    await (engine === undefined ? undefined : engine.close({ timeoutMs: d.shutdownTimeoutMs }));
  });
  let engine: Engine;
  try {
    engine = await started;
  } catch (e) {
    // No engine: the endpoint's upgrades are answered, never held (the page retries).
    upgrades.serve({ owns: () => true, take: (_req, socket) => refuse(socket, 503) });
    throw e;
  }
  const rt = engine;
  upgrades.serve({ owns: (req) => rt.ownsUpgrade(req), take: (req, socket, head) => take(rt.handOver.bind(rt), d, req, socket, head) });
  return { server, engine };
}

async function start(d: Deployment, options: AttachOptions): Promise<Engine> {
  const origins = [...(d.origin === undefined ? [] : [d.origin]), ...(options.origins ?? [])];
  return createEngine({
    ...(await loadRegistered()),
    ...(origins.length === 0 ? {} : { origins }),
    ...(options.longPolling === undefined ? {} : { longPolling: options.longPolling }),
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    ...(options.redis === undefined ? {} : { redis: options.redis }),
  });
}

const warned = new Set<string>();

/** Hands one of the engine's upgrades over, with what the deployment says of its client. */
function take(
  handOver: Engine['handOver'],
  d: Deployment,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): void {
  let remote: string | undefined;
  try {
    remote = clientAddress(req, d);
    const host = publicHost(req, d);
    if (host !== undefined) setHost(req, host);
  } catch (e) {
    // A proxy header missing or malformed: adapter-node fails such a page request too.
    const message = e instanceof Error ? e.message : String(e);
    if (!warned.has(message)) console.error(`liverpc: a websocket upgrade was refused (400): ${message}`);
    warned.add(message);
    refuse(socket, 400);
    return;
  }
  try {
    handOver(req, socket, head, remote === undefined ? {} : { remote });
  } catch (e) {
    console.error('liverpc: a websocket upgrade could not be handed to the engine:', e);
    socket.destroy();
  }
}

/**
 * The engine's same-origin check compares `Origin` with `Host`: where the deployment says the
 * public host is in another header, the handed-over request carries it as its `Host` (the
 * hook then sees the host the page's URL has).
 */
function setHost(req: IncomingMessage, host: string): void {
  req.headers.host = host;
  const raw = req.rawHeaders;
  const at = raw.findIndex((name, i) => i % 2 === 0 && name.toLowerCase() === 'host');
  if (at >= 0) raw[at + 1] = host;
  else raw.push('Host', host);
}

/** adapter-node's `build/index.js`: its polka app, whose `server` is the `http.Server`. */
interface AdapterIndex {
  readonly server: { readonly server: Server };
}
/** adapter-node's `build/env.js`. */
interface AdapterEnv {
  readonly env: (name: string, fallback?: string) => string | undefined;
}

/**
 * Starts adapter-node's own server from `build` (its `index.js`, exactly as `node build`
 * would: `HOST`, `PORT`, `SOCKET_PATH`, `LISTEN_FDS`, the timeouts, SIGTERM/SIGINT) and serves
 * the sockets on it ({@link attach}, reading the variables through the build's `env()`).
 * Resolves once it listens and the engine is up.
 *
 * @example
 * // server.js, beside build/
 * import { serve } from 'liverpc/node';
 * const { url } = await serve(new URL('./build/', import.meta.url));
 * console.log(`listening on ${url}`);
 */
export async function serve(build: string | URL, options: AttachOptions = {}): Promise<Serving> {
  const dir = typeof build === 'string' ? pathToFileURL(`${resolve(build)}/`) : new URL(build.href.endsWith('/') ? build.href : `${build.href}/`);
  // env.js first: it has no side effect, and once index.js has run, nothing may come between
  // it and `attach` (index.js starts listening).
  const adapterEnv = (await import(new URL('env.js', dir).href)) as AdapterEnv;
  const { server: app } = (await import(new URL('index.js', dir).href)) as AdapterIndex;
  const server = app.server;
  const env: Env = (name) => adapterEnv.env(name);
  const attached = attach(server, { ...options, env });
  if (!server.listening) await once(server, 'listening');
  return { ...(await attached), url: urlOf(server) };
}

function urlOf(server: Server): string {
  const address = server.address();
  if (address === null || typeof address === 'string') return address ?? '';
  const host = address.family === 'IPv6' || address.address.includes(':') ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}
