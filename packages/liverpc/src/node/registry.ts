/**
 * Where a built app's sockets meet `liverpc/node`: the module `sockets()` bundles with the
 * SvelteKit server stores, on `globalThis` under this key, the endpoint and a `load()` that
 * imports the hook, the contracts and the param matchers; `serve` calls it once SvelteKit's
 * server is initialised.
 */

import type { ContractModule } from '../server/engine.js';
import type { Handle } from '../server/hooks.js';

/** The key (`Symbol.for(REGISTRY)`) the registry module stores an app's sockets under. */
export const REGISTRY = 'liverpc.sockets';

/** The app's sockets, as the build registered them: each field a `createEngine` option. */
export interface RegisteredSockets {
  readonly hooks: { readonly handle?: Handle } | undefined;
  readonly contracts: readonly ContractModule[];
  /** SvelteKit's param matchers (`src/params/<name>.ts`'s `match`), by name. */
  readonly matchers: Readonly<Record<string, (param: string) => boolean>>;
  /** The Socket.IO endpoint: `${paths.base}/socket.io/`. */
  readonly endpoint: string;
}

/** What the registry module stores (see `build/modules.ts`). */
interface Registry {
  readonly endpoint: string;
  load(): Promise<Omit<RegisteredSockets, 'endpoint'>>;
}

const loaded = new WeakMap<Registry, Promise<RegisteredSockets>>();

/**
 * Imports the hook, the contracts and the matchers of the app whose SvelteKit server was
 * imported (adapter-node's `handler.js` or `index.js`, which initialise it first: the modules
 * then read `$env/dynamic/private` at their top as a `+page.server.ts` would). Every call
 * gets the same modules. Rejects when there is no registry: the app was not built with
 * `sockets()`, or its server is not imported yet.
 *
 * @example
 * await import('./build/handler.js');
 * const engine = createEngine({ ...(await loadRegistered()), origins: ['https://example.com'] });
 */
export function loadRegistered(): Promise<RegisteredSockets> {
  const registry = (globalThis as Record<symbol, Registry | undefined>)[Symbol.for(REGISTRY)];
  if (registry === undefined) {
    return Promise.reject(
      new Error(
        'liverpc/node: no sockets registered. Build the app with the sockets() plugin of liverpc/vite ' +
          '(vite.config.ts), and import the built handler (build/handler.js) before calling this.',
      ),
    );
  }
  let sockets = loaded.get(registry);
  if (sockets === undefined) {
    sockets = registry.load().then((modules) => ({ ...modules, endpoint: registry.endpoint }));
    loaded.set(registry, sockets);
  }
  return sockets;
}
