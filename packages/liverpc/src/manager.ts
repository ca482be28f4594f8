/**
 * One Engine.IO connection per server (and, in Node, per set of handshake headers), shared by
 * every contract of the page: a module-level cache of socket.io-client `Manager`s.
 */

import { Manager } from 'socket.io-client';

const managers = new Map<string, Manager>();

/**
 * The shared `Manager` for a server URL: websocket only, opened by the first socket that
 * connects, reconnecting by itself after a transport drop.
 *
 * @example
 * const manager = managerFor('http://localhost:3000');
 * manager.engine?.close(); // in a test: drop the transport; it reconnects
 */
export function managerFor(url: string, extraHeaders?: Record<string, string>): Manager {
  const headers = extraHeaders === undefined ? [] : Object.entries(extraHeaders).sort(([a], [b]) => (a < b ? -1 : 1));
  const key = JSON.stringify([url, headers]);
  let manager = managers.get(key);
  if (manager === undefined) {
    manager = new Manager(url, {
      transports: ['websocket'],
      autoConnect: false,
      ...(extraHeaders === undefined ? {} : { extraHeaders }),
    });
    managers.set(key, manager);
  }
  return manager;
}
