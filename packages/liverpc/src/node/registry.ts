/**
 * Where a built app's sockets meet `liverpc/node`: the module `sockets()` bundles with the
 * SvelteKit server stores the hook and the contracts on `globalThis` under this key; `serve`
 * reads them from there.
 */

import type { ContractModule } from '../server/engine.js';
import type { Handle } from '../server/hooks.js';

/** The key (`Symbol.for(REGISTRY)`) the registry module stores an app's sockets under. */
export const REGISTRY = 'liverpc.sockets';

/** The app's sockets, as the build registered them. */
export interface RegisteredSockets {
  readonly hooks: { readonly handle?: Handle } | undefined;
  readonly contracts: readonly ContractModule[];
}

/**
 * The hook and the contracts of the app whose SvelteKit server was imported (its `handler`).
 * Throws when there are none: the app was not built with `sockets()`, or its handler is not
 * imported yet.
 *
 * @example
 * import { handler } from './build/handler.js';
 * const engine = createEngine({ ...registered(), origins: ['https://example.com'] });
 */
export function registered(): RegisteredSockets {
  const found = (globalThis as Record<symbol, RegisteredSockets | undefined>)[Symbol.for(REGISTRY)];
  if (found === undefined) {
    throw new Error(
      'liverpc/node: no sockets registered. Build the app with the sockets() plugin of liverpc/vite ' +
        '(vite.config.ts), and import the built handler (build/handler.js) before calling this.',
    );
  }
  return found;
}
