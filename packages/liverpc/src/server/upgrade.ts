/**
 * The socket handoff: Node accepts the connection and parses the upgrade request; the engine
 * takes the socket from there. Where the platform allows, the engine adopts a duplicate of
 * the socket's descriptor and Node forgets its own; otherwise (TLS terminated in Node, no
 * descriptor) Node pipes the bytes to the engine's loopback port.
 */

import type { IncomingMessage, Server } from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import type { NativeApp } from './native.js';

/** The Socket.IO endpoint the page's client connects to, unless the engine is given another. */
export const SOCKET_IO_PATH = '/socket.io/';

/**
 * Whether `req` is a request for the endpoint at `endpoint` (its path exactly, any query).
 *
 * @example
 * if (isEndpoint(req, '/socket.io/')) handOver(native, req, socket, head);
 */
export function isEndpoint(req: IncomingMessage, endpoint: string): boolean {
  const url = req.url ?? '';
  const path = url.slice(0, (url.indexOf('?') + 1 || url.length + 1) - 1);
  return path === endpoint;
}

let warned = false;

/** The request head as the engine must read it, then the bytes Node read after it. */
function head(req: IncomingMessage, rest: Buffer): Buffer {
  let text = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/${req.httpVersion}\r\n`;
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) text += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
  return Buffer.concat([Buffer.from(`${text}\r\n`, 'latin1'), rest]);
}

/** The descriptor of a plain TCP socket (Node's private handle), when there is one. */
function fileDescriptor(socket: Duplex): number | undefined {
  if ('encrypted' in socket || process.platform === 'win32') return undefined;
  const handle = (socket as unknown as { _handle?: { fd?: unknown } })._handle;
  return typeof handle?.fd === 'number' && handle.fd >= 0 ? handle.fd : undefined;
}

/**
 * Hands an upgrade request's socket to the engine. `remote` is the client's address as the
 * caller decided it (from a trusted proxy's header); without it the socket's peer is used.
 * Proxied sockets (no descriptor) carry no address.
 *
 * @example
 * server.on('upgrade', (req, socket, head) => handOver(native, req, socket, head));
 */
export function handOver(native: NativeApp, req: IncomingMessage, socket: Duplex, rest: Buffer, remote?: string): void {
  const bytes = head(req, rest);
  const fd = fileDescriptor(socket);
  if (fd !== undefined) {
    try {
      native.adopt(fd, bytes, remote ?? null);
      // The engine has its own duplicate: closing Node's descriptor leaves the connection open.
      socket.destroy();
      return;
    } catch (e) {
      if (!warned) console.warn('liverpc: could not adopt a socket, proxying instead:', e);
      warned = true;
    }
  } else if (!warned) {
    warned = true;
    console.warn('liverpc: this socket cannot be handed over (TLS in Node, or no descriptor); its bytes are proxied to the engine');
  }
  proxy(native, bytes, socket);
}

/**
 * Serves the engine's websocket endpoint on `server`'s `'upgrade'` event (other upgrades,
 * Vite's HMR for one, are left to their own listeners). Returns a function that detaches it.
 *
 * @example
 * const detach = attach(server, () => engine.native);
 */
export function attach(
  server: Server,
  native: () => NativeApp,
  options: { proxy?: boolean; endpoint?: string } = {},
): () => void {
  const endpoint = options.endpoint ?? SOCKET_IO_PATH;
  const listener = (req: IncomingMessage, socket: Duplex, rest: Buffer): void => {
    if (!isEndpoint(req, endpoint)) return;
    try {
      if (options.proxy === true) {
        // Forced proxy (tests of the fallback): a socket without a descriptor takes that path.
        proxy(native(), head(req, rest), socket);
      } else {
        handOver(native(), req, socket, rest);
      }
    } catch (e) {
      // No engine yet (contracts failed to load): the page's client retries.
      console.error('liverpc: a websocket upgrade could not be served:', e);
      socket.destroy();
    }
  };
  server.on('upgrade', listener);
  return () => server.off('upgrade', listener);
}

/** Pipes the connection's bytes to the engine's loopback port, both ways. */
function proxy(native: NativeApp, bytes: Buffer, socket: Duplex): void {
  const upstream = connect(native.proxyPort(), '127.0.0.1');
  upstream.setNoDelay(true);
  upstream.write(bytes);
  socket.pipe(upstream);
  upstream.pipe(socket);
  const close = (): void => {
    socket.destroy();
    upstream.destroy();
  };
  for (const s of [socket, upstream]) s.on('error', close).on('close', close);
}
