/**
 * The declaration that types `params` (`Liverpc.Routes`): the params of every route that has a
 * contract, as SvelteKit's `$types` type them. A `socket({...})` does not say its route, and
 * TypeScript cannot tell which file a call is in, so the one place that can type `params` is an
 * app-wide declaration; it is written where SvelteKit writes its own types (`.svelte-kit/`),
 * by `sockets()` in `vite dev` and `vite build` and by `svelte-kit sync` through
 * {@link socketTypes}.
 */

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

import { contractFiles, matcherFiles, routeIdOf } from './discovery.js';

/** Where the declaration goes, relative to SvelteKit's `outDir`. */
export const ROUTE_TYPES = join('liverpc', 'routes.d.ts');

/** One param of a route id, as SvelteKit reads it. */
interface Param {
  readonly name: string;
  /** `[[name]]`: may be absent. */
  readonly optional: boolean;
  /** `[name=matcher]`. */
  readonly matcher: string | undefined;
}

/**
 * The params of a route id: `[x]`, `[[x]]`, `[...x]` and their `=matcher` forms, in order.
 *
 * @example
 * paramsOf('/[[lang]]/docs/[...path]'); // [{ name: 'lang', optional: true }, { name: 'path', optional: false }]
 */
export function paramsOf(route: string): Param[] {
  const params: Param[] = [];
  for (const m of route.matchAll(/\[(\[)?(?:\.\.\.)?([A-Za-z_$][\w$]*)(?:=([A-Za-z_$][\w$]*))?\]\]?/g)) {
    params.push({ name: m[2] as string, optional: m[1] !== undefined, matcher: m[3] });
  }
  return params;
}

/**
 * The declaration's text for an app: one `Liverpc.Routes` entry per route with a contract.
 * `file` is where it will be written (matcher imports are relative to it).
 *
 * @example
 * routeTypes('/app', '/app/.svelte-kit/liverpc/routes.d.ts', '/app/src/params');
 */
export function routeTypes(root: string, file: string, paramsDir: string): string {
  const routes = [...new Set(contractFiles(root).map((f) => routeIdOf(root, f)))].sort();
  const matchers = matcherFiles(paramsDir);
  const uses = new Set<string>();
  const entries = routes.map((route) => {
    const fields = paramsOf(route).map(({ name, optional, matcher }) => {
      let type = 'string';
      const at = matcher === undefined ? undefined : matchers.get(matcher);
      if (at !== undefined) {
        uses.add('MatcherParam');
        const from = relative(dirname(file), at).split(sep).join('/').replace(/\.ts$/, '.js');
        type = `MatcherParam<typeof import('${from.startsWith('.') ? from : `./${from}`}').match>`;
      }
      return `${name}${optional ? '?' : ''}: ${type}`;
    });
    // Route ids and file names never hold a quote or a backslash (SvelteKit refuses them).
    return `      '${route}': { ${fields.join('; ')}${fields.length ? ' ' : ''}};`;
  });
  const imports = uses.size ? `import type { ${[...uses].join(', ')} } from 'liverpc/server';\n\n` : '';
  return `// Written by liverpc from the contracts under src/routes: do not edit.
// The params of each route that has a contract, as SvelteKit's $types type them: room
// functions and handlers read them as \`params\`.
${imports}declare global {
  namespace Liverpc {
    interface Routes {
${entries.join('\n')}
    }
  }
}

export {};
`;
}

/**
 * Writes the declaration under SvelteKit's `outDir` when its text changed; returns its path.
 *
 * @example
 * writeRouteTypes('/app', '/app/.svelte-kit', '/app/src/params');
 */
export function writeRouteTypes(root: string, outDir: string, paramsDir: string): string {
  const file = join(resolve(root, outDir), ROUTE_TYPES);
  const text = routeTypes(root, file, paramsDir);
  let old: string | undefined;
  try {
    old = readFileSync(file, 'utf8');
  } catch {
    old = undefined;
  }
  if (old !== text) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  return file;
}

/** Options of {@link socketTypes}, for an app that moved SvelteKit's folders. */
export interface SocketTypesOptions {
  /** SvelteKit's `kit.outDir` (default `.svelte-kit`). */
  readonly outDir?: string;
  /** SvelteKit's `kit.files.params` (default `src/params`). */
  readonly params?: string;
}

/** The part of SvelteKit's generated tsconfig changed here. */
interface TsConfig {
  include?: string[];
}

/**
 * SvelteKit's `kit.typescript.config` hook that types the contracts' `params`: it runs in every
 * `svelte-kit sync` (so `svelte-kit sync && svelte-check` on a fresh clone sees the routes), and
 * in `vite dev` and `vite build`; it writes `.svelte-kit/liverpc/routes.d.ts` and adds it to
 * the generated tsconfig.
 *
 * @example
 * // svelte.config.js
 * import { socketTypes } from 'liverpc/vite';
 * export default { kit: { adapter: adapter(), typescript: { config: socketTypes() } } };
 */
export function socketTypes(options: SocketTypesOptions = {}): <C extends TsConfig>(config: C) => C {
  const root = process.cwd();
  return (config) => {
    writeRouteTypes(root, options.outDir ?? '.svelte-kit', resolve(root, options.params ?? join('src', 'params')));
    // Paths in the generated tsconfig are relative to outDir, where it lives.
    const entry = `./${ROUTE_TYPES.split(sep).join('/')}`;
    config.include = [...(config.include ?? []).filter((p) => p !== entry), entry];
    return config;
  };
}
