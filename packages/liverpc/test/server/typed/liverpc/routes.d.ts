// Written by liverpc from the contracts under src/routes: do not edit.
// The params of each route that has a contract, as SvelteKit's $types type them: room
// functions and handlers read them as `params`.
import type { MatcherParam } from 'liverpc/server';

declare global {
  namespace Liverpc {
    interface Routes {
      '/docs/[[lang]]/[...path]': { lang?: string; path: string };
      '/items/[id=integer]': { id: MatcherParam<typeof import('../src/params/integer.js').match> };
      '/rooms/[roomId]': { roomId: string };
    }
  }
}

export {};
