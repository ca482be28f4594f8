/**
 * `liverpc/sveltekit`: the same `defineClient` as `liverpc`, for SvelteKit components. A client
 * created during component initialisation in the browser follows the page (`afterNavigate`
 * -> `navigate(location.pathname)`: `/rooms/general` -> `/rooms/random` re-handshakes) and
 * closes with the component (`onDestroy`). The app's `paths.base` is taken off the path the
 * server sees (it matches route ids, which do not include it). `room.state.current` is
 * reactive (Svelte's `createSubscriber`). During server-side rendering it is always inert.
 * All logic lives in the core; this file only wires SvelteKit to it.
 */

import { afterNavigate } from '$app/navigation';
import { base } from '$app/paths';
import { onDestroy } from 'svelte';
import { createSubscriber } from 'svelte/reactivity';

import { type Track, createClient } from './client.js';
import type { ClientFactory, ClientOptions, Contract, Descriptor } from './types.js';
import { inert } from './inert.js';
import { DEFAULT_ENDPOINT } from './manager.js';
import { DEFAULT_TIMEOUT, clientFactory } from './define.js';

export * from './index.js';

/** `state.current` reads register with Svelte; the store's own first call is not a change. */
const track: Track = (store) =>
  createSubscriber((update) => {
    let first = true;
    const stop = store.subscribe(() => {
      if (!first) update();
    });
    first = false;
    return stop;
  });

/**
 * The page's path as the server's routes see it: without the app's `paths.base`.
 *
 * @example
 * routePath('/app/rooms/general', '/app'); // '/rooms/general'
 */
export function routePath(pathname: string, prefix: string = base): string {
  if (prefix === '' || !pathname.startsWith(prefix)) return pathname;
  const rest = pathname.slice(prefix.length);
  if (rest === '') return '/';
  return rest.startsWith('/') ? rest : pathname;
}

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
 * // {#if room.state.current.status !== 'connected'}Offline…{/if}
 */
export function defineClient<C extends Contract>(descriptor: Descriptor<C>): ClientFactory<C> {
  const make = clientFactory(descriptor, track);
  return (options: ClientOptions = {}) => {
    if (typeof window === 'undefined') {
      // Server-side rendering never connects, even with an explicit `url`.
      return createClient(descriptor, inert(), options.timeout ?? DEFAULT_TIMEOUT, track);
    }
    const follows = options.path === undefined;
    // The engine serves the app's base path too (`sockets()` gives it that endpoint).
    const located = { endpoint: `${base}${DEFAULT_ENDPOINT}`, ...options };
    const client = make(follows ? { ...located, path: routePath(window.location.pathname) } : located);
    try {
      onDestroy(() => client.close());
      if (follows) {
        // Refusals show in `client.state`; nothing to throw here.
        afterNavigate(() => void client.navigate(routePath(window.location.pathname)).catch(() => {}));
      }
    } catch {
      // Not in component initialisation: the caller manages `navigate` and `close`.
    }
    return client;
  };
}
