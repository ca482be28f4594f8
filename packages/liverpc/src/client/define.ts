/**
 * `defineClient(descriptor)`: what a generated module calls. It returns the contract's client
 * factory (`chat`), which binds a client to the page's URL.
 */

import { isOneOf } from '../error.js';
import { RESERVED_NAMES, RESERVED_PREFIX } from '../wire.js';
import { type Track, createClient, positionsOf } from './client.js';
import { connectionFor } from './connection.js';
import { inert } from './inert.js';
import { DEFAULT_ENDPOINT } from './manager.js';
import type { ClientFactory, ClientOptions, Contract, Descriptor } from './types.js';

/** Default milliseconds a call, join or leave waits for its answer. */
export const DEFAULT_TIMEOUT = 10_000;

/**
 * Declares a contract's client. Generated modules call it; pages call what it returns.
 *
 * In a browser the client connects to `location.origin` with `location.pathname`; elsewhere
 * pass `url` and `path`. Without a window and without `url` (server-side rendering) the client
 * is inert: it opens nothing, its state stays `connecting` and its calls reject with `closed`.
 *
 * @example
 * export const chat = defineClient<{
 *   toClient: { message: Message };
 *   fromClient: { send: [Send, Sent] };
 *   rooms: { chat: null };
 * }>({ namespace: '/rooms/[roomId]/chat', route: '/rooms/[roomId]', toClient: ['message'],
 *      fromClient: ['send'], rooms: ['chat'], autoJoin: ['chat'] });
 *
 * const room = chat();
 * room.on.message((m) => console.log(m.text));
 * await room.send({ text: 'hi' });
 */
export function defineClient<C extends Contract>(descriptor: Descriptor<C>): ClientFactory<C> {
  return clientFactory(descriptor);
}

/**
 * {@link defineClient} with a way to make `state.current` reactive (the `liverpc/sveltekit` entry
 * passes Svelte's).
 *
 * @example
 * const chat = clientFactory(descriptor, (store) => createSubscriber((update) => store.subscribe(update)));
 */
export function clientFactory<C extends Contract>(descriptor: Descriptor<C>, track?: Track): ClientFactory<C> {
  for (const name of descriptor.fromClient) {
    if (isOneOf(RESERVED_NAMES, name) || name.startsWith(RESERVED_PREFIX)) {
      throw new TypeError(`liverpc: \`${name}\` is reserved and cannot name a handler`);
    }
  }
  return (options: ClientOptions = {}) => {
    const timeout = options.timeout ?? DEFAULT_TIMEOUT;
    const where = locate(options);
    if (where === undefined) return createClient(descriptor, inert(), timeout, track);
    const server = { url: where.url, endpoint: options.endpoint ?? DEFAULT_ENDPOINT, extraHeaders: options.extraHeaders };
    const connection = connectionFor(server, descriptor, where.path, timeout);
    connection.since(positionsOf(options.since));
    return createClient(descriptor, connection, timeout, track);
  };
}

/** The server URL and page path; `undefined` during server-side rendering. */
function locate(options: ClientOptions): { url: string; path: string } | undefined {
  const location = typeof window === 'undefined' ? undefined : window.location;
  const url = options.url ?? location?.origin;
  if (url === undefined) return undefined;
  const path = options.path ?? location?.pathname;
  if (path === undefined) throw new TypeError('liverpc: outside a browser, pass the page path: chat({ url, path })');
  return { url, path };
}
