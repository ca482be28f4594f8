/**
 * The Engine.IO connections of a page: socket.io-client `Manager`s per server (and, in Node,
 * per set of handshake headers), shared by every contract of the page. One Engine.IO
 * connection carries a namespace once (a second CONNECT on it is ignored by the server), so a
 * contract bound to a second path at the same time gets the next Manager of the server's
 * pool. A Manager is dropped from the pool when its last namespace is released.
 */

import { Manager } from 'socket.io-client';

/** A namespace held on a Manager until `release`. */
export interface Lease {
  readonly manager: Manager;
  /** Frees the namespace; the last one frees the Manager. Idempotent. */
  release(): void;
}

/** Per server key: its Managers, in creation order, each with the namespaces it carries. */
const pools = new Map<string, Map<Manager, Set<string>>>();

/** Socket.IO's own endpoint path, where the engine listens unless the app has a base path. */
export const DEFAULT_ENDPOINT = '/socket.io/';

function serverKey(url: string, extraHeaders: Record<string, string> | undefined, endpoint: string): string {
  const headers = extraHeaders === undefined ? [] : Object.entries(extraHeaders).sort(([a], [b]) => (a < b ? -1 : 1));
  return JSON.stringify([url, endpoint, headers]);
}

function create(url: string, extraHeaders: Record<string, string> | undefined, endpoint: string): Manager {
  return new Manager(url, {
    path: endpoint,
    transports: ['websocket'],
    autoConnect: false,
    ...(extraHeaders === undefined ? {} : { extraHeaders }),
  });
}

/**
 * Holds `namespace` on the first Manager of the server that does not carry it yet (a new one
 * if none): websocket only, opened by the first socket that connects, reconnecting by itself
 * after a transport drop.
 *
 * @example
 * const lease = leaseManager('http://localhost:3000', undefined, '/rooms/[roomId]/chat', '/socket.io/');
 * lease.manager.socket('/rooms/[roomId]/chat');
 * lease.release();
 */
export function leaseManager(url: string, extraHeaders: Record<string, string> | undefined, namespace: string, endpoint: string): Lease {
  const key = serverKey(url, extraHeaders, endpoint);
  let pool = pools.get(key);
  if (pool === undefined) {
    pool = new Map();
    pools.set(key, pool);
  }
  let manager: Manager | undefined;
  for (const [candidate, namespaces] of pool) {
    if (!namespaces.has(namespace)) {
      manager = candidate;
      break;
    }
  }
  if (manager === undefined) {
    manager = create(url, extraHeaders, endpoint);
    pool.set(manager, new Set());
  }
  const held = manager;
  pool.get(held)?.add(namespace);
  let released = false;
  return {
    manager: held,
    release() {
      if (released) return;
      released = true;
      const namespaces = pool.get(held);
      namespaces?.delete(namespace);
      if (namespaces?.size !== 0) return;
      pool.delete(held);
      if (pool.size === 0 && pools.get(key) === pool) pools.delete(key);
    },
  };
}

/**
 * The Managers currently open for a server, first (shared by every contract) first. For
 * tests and tools: `managersOf(url)[0]?.engine.close()` drops the page's transport.
 *
 * @example
 * for (const manager of managersOf('http://localhost:3000')) manager.engine.close();
 */
export function managersOf(url: string, extraHeaders?: Record<string, string>, endpoint = DEFAULT_ENDPOINT): Manager[] {
  return [...(pools.get(serverKey(url, extraHeaders, endpoint))?.keys() ?? [])];
}
