/**
 * `liverpc/sveltekit`: the same `socket` as `liverpc`, for SvelteKit components. A client
 * created during component initialisation in the browser follows the page (`afterNavigate`
 * -> `navigate(location.pathname)`: `/rooms/general` -> `/rooms/random` re-handshakes) and
 * closes with the component (`onDestroy`). During server-side rendering it is always inert.
 * All logic lives in the core; this file only wires SvelteKit's lifecycle to it.
 */

import { afterNavigate } from '$app/navigation';
import { onDestroy } from 'svelte';

import { createClient } from './client.js';
import type { ClientFactory, ClientOptions, Contract, Descriptor } from './contract.js';
import { inert } from './inert.js';
import { DEFAULT_TIMEOUT, socket as core } from './socket.js';

export * from './index.js';

/**
 * Declares a contract's client for SvelteKit. Call the returned factory in a component's
 * `<script>`; outside component initialisation it still works, but then call `navigate` and
 * `close` yourself.
 *
 * @example
 * // src/routes/rooms/[roomId]/chat.socket.ts (generated) imports from 'liverpc/sveltekit'
 * // +page.svelte:
 * const room = chat();
 * room.on.message((m) => (messages = [...messages, m]));
 */
export function socket<C extends Contract>(descriptor: Descriptor<C>): ClientFactory<C> {
  const factory = core(descriptor);
  return (options: ClientOptions = {}) => {
    if (typeof window === 'undefined') {
      // Server-side rendering never connects, even with an explicit `url`.
      return createClient(descriptor, inert(), options.timeout ?? DEFAULT_TIMEOUT);
    }
    const client = factory(options);
    try {
      onDestroy(() => client.close());
      if (options.path === undefined) {
        // Refusals show in `client.state`; nothing to throw here.
        afterNavigate(() => void client.navigate(window.location.pathname).catch(() => {}));
      }
    } catch {
      // Not in component initialisation: the caller manages `navigate` and `close`.
    }
    return client;
  };
}
