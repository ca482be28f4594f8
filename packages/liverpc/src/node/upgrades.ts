/**
 * Every upgrade request on the app's server goes somewhere (Rule 10, docs/security.md#rule-10).
 * Node sends every request with an `Upgrade` header to `'upgrade'` as soon as one listener
 * exists, and a socket a listener ignores is never read again: nobody notices when its client
 * leaves (the descriptor leak of issue 18). So:
 *
 * - the engine's upgrades go to the engine and to no other listener (an app's
 *   `ws({ server, path })` answers 400 to every path but its own, into a socket the engine
 *   now serves);
 * - the others go to the app's own `'upgrade'` listeners, as they would without liverpc;
 * - when the app has none, they are served as Node serves them without any upgrade listener:
 *   an ordinary request to the server's `'request'` listeners (`curl --http2` gets the page),
 *   then closed, at most `max` at once.
 */

import { createServer, STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';

/** Who serves the engine's upgrades. */
export interface Owner {
  /** Whether `req` is the engine's (its path is the endpoint). */
  owns(req: IncomingMessage): boolean;
  /** Takes the socket; it never comes back. */
  take(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

/** Node's limit on receiving a request when the server sets none (`server.requestTimeout`'s default). */
const REQUEST_TIMEOUT_MS = 300_000;

/**
 * The router of one server's upgrades. Until `serve(owner)`, every upgrade waits (the engine
 * is still being built; at most `max` wait).
 *
 * @example
 * const upgrades = new Upgrades(server, 256);
 * upgrades.serve({ owns: (req) => engine.ownsUpgrade(req), take: (req, socket, head) => engine.handOver(req, socket, head, {}) });
 */
export class Upgrades {
  readonly #server: Server;
  readonly #max: number;
  #owner: Owner | undefined;
  /** Upgrades that came before the owner, replayed when it is known. */
  #waiting: { socket: Duplex; replay: () => void }[] = [];
  /** Sockets served as plain requests, each with the deadline for its request to arrive. */
  readonly #answering = new Map<Duplex, NodeJS.Timeout>();
  /** A server with no upgrade listener, into which such sockets are injected. */
  readonly #plain: Server;

  constructor(server: Server, max: number) {
    this.#server = server;
    this.#max = max;
    this.#plain = createServer((req, res) => {
      // One request per connection: nothing stays open for a client that asked to upgrade.
      res.shouldKeepAlive = false;
      req.once('end', () => clearTimeout(this.#answering.get(req.socket)));
      server.emit('request', req, res);
    });
    const emit = server.emit;
    const route = (req: IncomingMessage, socket: Duplex, head: Buffer, others: () => boolean): boolean => {
      const owner = this.#owner;
      if (owner === undefined) return this.#wait(socket, () => void route(req, socket, head, others));
      if (!owner.owns(req)) return others();
      owner.take(req, socket, head);
      return true;
    };
    // `emit` is overridden on this instance, for `'upgrade'` only, so that the engine's
    // upgrades reach no other listener: a listener cannot stop the ones after it.
    server.emit = function (this: Server, event: string | symbol, ...args: unknown[]): boolean {
      if (event !== 'upgrade') return Reflect.apply(emit, this, [event, ...args]) as boolean;
      const [req, socket, head] = args as [IncomingMessage, Duplex, Buffer];
      return route(req, socket, head, () => Reflect.apply(emit, this, [event, ...args]) as boolean);
    } as Server['emit'];
    // Node emits `'upgrade'` only while the server has a listener: this one, which serves
    // the request itself when it is the only one.
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (server.listenerCount('upgrade') > 1) return;
      this.#answer(req, socket, head);
    });
  }

  /** From now on the engine's upgrades go to `owner`; the ones that waited are routed now. */
  serve(owner: Owner): void {
    this.#owner = owner;
    for (const { replay } of this.#waiting.splice(0)) replay();
  }

  /** Connections being served as plain requests now (tests, the cap). */
  get answering(): number {
    return this.#answering.size;
  }

  /** Closes every socket this router still holds (the end of a shutdown's timeout). */
  destroy(): void {
    for (const socket of this.#answering.keys()) socket.destroy();
    for (const { socket } of this.#waiting.splice(0)) socket.destroy();
  }

  #wait(socket: Duplex, replay: () => void): boolean {
    if (this.#waiting.length >= this.#max) {
      refuse(socket, 503);
      return true;
    }
    // Nothing reads the socket meanwhile; an error must not be left without a listener.
    const ignore = (): void => void socket.destroy();
    socket.on('error', ignore);
    this.#waiting.push({
      socket,
      replay: () => {
        socket.off('error', ignore);
        if (!socket.destroyed) replay();
      },
    });
    return true;
  }

  /** Serves `req` as Node does when no listener wants upgrades: as an ordinary request. */
  #answer(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.#answering.size >= this.#max) {
      refuse(socket, 503);
      return;
    }
    const limit = this.#server.requestTimeout > 0 ? this.#server.requestTimeout : REQUEST_TIMEOUT_MS;
    // The request (a body, maybe) must arrive in time: this server never listened, so Node's
    // own request-timeout check does not run for it.
    const deadline = setTimeout(() => socket.destroy(), limit);
    deadline.unref();
    this.#answering.set(socket, deadline);
    socket.once('close', () => {
      clearTimeout(deadline);
      this.#answering.delete(socket);
    });
    this.#plain.timeout = this.#server.timeout;
    // The request as it came (headers untouched), then what followed it, read again by a
    // parser that treats `Upgrade` as an ordinary header.
    socket.unshift(Buffer.concat([requestHead(req), head]));
    this.#plain.emit('connection', socket);
  }
}

/** The request head re-serialized from what Node parsed (`rawHeaders` keeps names, order, repeats). */
function requestHead(req: IncomingMessage): Buffer {
  let text = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/${req.httpVersion}\r\n`;
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) text += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
  return Buffer.from(`${text}\r\n`, 'latin1');
}

/**
 * Answers `status` with an empty body and closes the connection.
 *
 * @example
 * refuse(socket, 503);
 */
export function refuse(socket: Duplex, status: number): void {
  socket.on('error', () => socket.destroy());
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
}
