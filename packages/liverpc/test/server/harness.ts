// A Node http server with the engine attached, and official socket.io-client sockets on it.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';

import { createEngine, type Engine, type EngineOptions } from 'liverpc/server';
import { Manager, type Socket } from 'socket.io-client';

export interface Served {
  engine: Engine;
  server: Server;
  url: string;
  /**
   * Opens a socket of `namespace` on `path`, signed in with session `session` (none: no cookie),
   * from `from.localAddress` if given.
   */
  open(namespace: string, path: string, session?: string, from?: { localAddress: string }): Client;
  close(): Promise<void>;
}

/** A socket and everything it received. */
export interface Client {
  socket: Socket;
  /** Every (event, payload) received, in order. */
  received: [string, unknown][];
  /** Resolves with the first received payload of `event` that satisfies `ok` (past or future). */
  next(event: string, ok?: (payload: unknown) => boolean, ms?: number): Promise<unknown>;
  /** Resolves on connect; rejects with the connect_error's message. */
  connected: Promise<void>;
  /** Emits with an ack and resolves with the answer. */
  call(event: string, payload: unknown): Promise<unknown>;
}

export async function serve(options: EngineOptions, attach: { proxy?: boolean } = {}): Promise<Served> {
  const engine = createEngine(options);
  const server = createServer((_, res) => res.writeHead(404).end());
  engine.attach(server, attach);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clients = connectTo(url);
  return {
    engine,
    server,
    url,
    open: clients.open,
    async close() {
      clients.close();
      await engine.close({ timeoutMs: 1000 });
      server.closeAllConnections();
      server.close();
    },
  };
}

/** Official socket.io-client sockets on the server at `url`. */
export function connectTo(url: string): Pick<Served, 'open'> & { close(): void } {
  const managers: Manager[] = [];
  return {
    open(namespace, path, session, from) {
      const manager = new Manager(url, {
        transports: ['websocket'],
        reconnection: false,
        ...(session === undefined ? {} : { extraHeaders: { cookie: `session=${session}` } }),
        ...from,
      });
      managers.push(manager);
      const socket = manager.socket(namespace, { auth: { path } });
      const received: [string, unknown][] = [];
      const waiters = new Set<{ event: string; ok: (p: unknown) => boolean; resolve: (p: unknown) => void }>();
      socket.onAny((event: string, payload: unknown) => {
        received.push([event, payload]);
        for (const w of waiters) {
          if (w.event === event && w.ok(payload)) {
            waiters.delete(w);
            w.resolve(payload);
          }
        }
      });
      const connected = new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', (e: Error) => reject(e));
      });
      socket.connect();
      return {
        socket,
        received,
        connected,
        next(event, ok = () => true, ms = 5000) {
          const seen = received.find(([e, p]) => e === event && ok(p));
          if (seen !== undefined) return Promise.resolve(seen[1]);
          return new Promise((resolve, reject) => {
            const waiter = {
              event,
              ok,
              resolve: (p: unknown) => {
                clearTimeout(timer);
                resolve(p);
              },
            };
            const timer = setTimeout(() => {
              waiters.delete(waiter);
              reject(new Error(`no ${event} came; got ${JSON.stringify(received)}`));
            }, ms);
            waiters.add(waiter);
          });
        },
        call: (event, payload) => socket.timeout(5000).emitWithAck(event, payload),
      };
    },
    close() {
      for (const m of managers) m.engine.close();
    },
  };
}

/** A port nobody listens on now. */
async function freePort(): Promise<number> {
  const probe = createNetServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const address = probe.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  probe.close();
  await once(probe, 'close');
  return port;
}

/** `redis-server` on a free loopback port; resolves once it accepts connections. */
export async function redisServer(): Promise<{ url: string; process: ChildProcess }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    child.once('error', (e) => reject(new Error(`redis-server: ${e.message} (apt-get install redis-server)`)));
    child.once('exit', (code) => reject(new Error(`redis-server exited (${String(code)}): ${out}`)));
  });
  return { url: `redis://127.0.0.1:${port}`, process: child };
}
