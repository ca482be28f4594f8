/**
 * What the `liverpc/vite` plugin needs to know about an app's TypeScript contracts, without
 * Vite: where they are (`src/hooks.socket.ts`, `src/routes/**\/*.socket.ts`), which route id a
 * file belongs to, and the browser module that replaces a contract module (a client built
 * from the contract's names, like SvelteKit's remote functions; no server code in it).
 */

import { readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

import { namespaceOf } from '../protocol.js';

/** The hook's file, relative to the Vite root. */
export const HOOKS = join('src', 'hooks.socket.ts');
/** Where the routes are, relative to the Vite root. */
export const ROUTES = join('src', 'routes');

/** Whether `file` (absolute) is a route's contract module under `root`. */
export function isContractFile(root: string, file: string): boolean {
  const path = file.split('?')[0] ?? file;
  return /\.socket\.(ts|js)$/.test(path) && !relative(join(root, ROUTES), path).startsWith('..');
}

/**
 * The SvelteKit route id of a contract file: its folder under `src/routes`.
 *
 * @example
 * routeIdOf('/app', '/app/src/routes/rooms/[roomId]/chat.socket.ts'); // '/rooms/[roomId]'
 */
export function routeIdOf(root: string, file: string): string {
  const folder = relative(join(root, ROUTES), join(file, '..'));
  return folder === '' ? '/' : `/${folder.split(sep).join('/')}`;
}

/** Every contract file under `root`'s routes (absolute paths, sorted). */
export function contractFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory() && entry.name !== 'node_modules') walk(path);
      else if (/\.socket\.(ts|js)$/.test(entry.name)) found.push(path);
    }
  };
  walk(join(root, ROUTES));
  return found.sort();
}

/** The names of one contract, as the browser's client needs them. */
export interface ContractNames {
  toClient: string[];
  fromClient: string[];
  rooms: string[];
  autoJoin: string[];
}

/** The names of every contract a module exports (the exports made by `socket()`). */
export function contractsOf(exports: Readonly<Record<string, unknown>>): Map<string, ContractNames> {
  const found = new Map<string, ContractNames>();
  for (const [name, value] of Object.entries(exports)) {
    if (typeof value !== 'function' || !('~liverpc' in value)) continue;
    const def = (value as { '~liverpc': { toClient?: object; fromClient?: object; rooms?: Record<string, { kind: string; autoJoin?: boolean }> } })['~liverpc'];
    const rooms = def.rooms ?? {};
    found.set(name, {
      toClient: Object.keys(def.toClient ?? {}),
      fromClient: Object.keys(def.fromClient ?? {}),
      rooms: Object.keys(rooms),
      autoJoin: Object.entries(rooms)
        .filter(([, r]) => r.kind === 'private' && r.autoJoin === true)
        .map(([n]) => n),
    });
  }
  return found;
}

/**
 * The browser module replacing a contract module: one client factory per contract, from its
 * names only.
 *
 * @example
 * clientModule('/rooms/[roomId]', contractsOf(await server.ssrLoadModule(file)));
 */
export function clientModule(route: string, contracts: ReadonlyMap<string, ContractNames>, entry = 'liverpc/sveltekit'): string {
  let code = `// Built by liverpc/vite from the contract's names: no server code reaches the browser.\nimport { defineClient } from ${JSON.stringify(entry)};\n`;
  for (const [name, names] of contracts) {
    const descriptor = { namespace: namespaceOf(route, name), route, ...names };
    code += `export const ${name} = defineClient(${JSON.stringify(descriptor)});\n`;
  }
  return code;
}

/** Where the registry module keeps an app's sockets: read by `liverpc/node`. */
export const REGISTRY = 'liverpc.sockets';

/**
 * The module that registers an app's hook and contracts for production (`globalThis`, under
 * `Symbol.for(REGISTRY)`), bundled with the server so that each is one instance.
 *
 * @example
 * registryModule('/app', '/app/src/hooks.socket.ts', contractFiles('/app'));
 */
export function registryModule(root: string, hooks: string | undefined, contracts: readonly string[]): string {
  let code = '// Built by liverpc/vite: the app\'s sockets, for liverpc/node.\n';
  if (hooks !== undefined) code += `import * as hooks from ${JSON.stringify(hooks)};\n`;
  contracts.forEach((file, i) => (code += `import * as contract${i} from ${JSON.stringify(file)};\n`));
  const list = contracts.map((file, i) => `{ route: ${JSON.stringify(routeIdOf(root, file))}, exports: contract${i} }`);
  code += `globalThis[Symbol.for(${JSON.stringify(REGISTRY)})] = { hooks: ${hooks === undefined ? 'undefined' : 'hooks'}, contracts: [${list.join(', ')}] };\n`;
  return code;
}
