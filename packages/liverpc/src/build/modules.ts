/**
 * The code of the modules `sockets()` serves in place of the app's: the browser's client of a
 * contract module (built from the contract's names, like SvelteKit's remote functions; no
 * server code in it) and the production registry of the app's sockets.
 */

import { REGISTRY } from '../node/registry.js';
import { namespaceOf } from '../protocol.js';
import { type ContractNames, routeIdOf } from './discovery.js';

/**
 * The browser module replacing a contract module: one client factory per contract, from its
 * names only.
 *
 * @example
 * clientModule('/rooms/[roomId]', namesOf(this.parse(code)));
 */
export function clientModule(route: string, contracts: ReadonlyMap<string, ContractNames>, entry = 'liverpc/sveltekit'): string {
  let code = `// Built by liverpc/vite from the contract's names: no server code reaches the browser.\nimport { defineClient } from ${JSON.stringify(entry)};\n`;
  for (const [name, names] of contracts) {
    const descriptor = { namespace: namespaceOf(route, name), route, ...names };
    code += `export const ${name} = defineClient(${JSON.stringify(descriptor)});\n`;
  }
  return code;
}

/** What the registry module imports, as absolute files. */
export interface RegistryFiles {
  /** `src/hooks.socket.ts`, when the app has one. */
  readonly hooks: string | undefined;
  /** Every contract module. */
  readonly contracts: readonly string[];
  /** SvelteKit's param matchers: name (the file's) -> file. */
  readonly matchers: ReadonlyMap<string, string>;
}

/**
 * The module that registers an app's sockets for production (`globalThis`, under
 * `Symbol.for(REGISTRY)`), bundled with the server so that each module is one instance. It
 * imports nothing at its top: `load()` imports the hook, the contracts and the matchers when
 * `liverpc/node` asks, after adapter-node's handler ran SvelteKit's `init` — as SvelteKit
 * itself loads a `+page.server.ts` — so `$env/dynamic/private` is set for their module tops.
 *
 * @example
 * registryModule('/app', { hooks: undefined, contracts: contractFiles('/app'), matchers: new Map() }, '/socket.io/');
 */
export function registryModule(root: string, files: RegistryFiles, endpoint: string): string {
  const imports: string[] = [];
  const load = (file: string): string => `m${imports.push(`import(${JSON.stringify(file)})`) - 1}`;
  const hooks = files.hooks === undefined ? 'undefined' : load(files.hooks);
  const contracts = files.contracts.map((file) => `{ route: ${JSON.stringify(routeIdOf(root, file))}, exports: ${load(file)} }`);
  const matchers = [...files.matchers].map(([name, file]) => `${JSON.stringify(name)}: ${load(file)}.match`);
  const names = imports.map((_, i) => `m${i}`);
  return `// Built by liverpc/vite: the app's sockets, for liverpc/node.
globalThis[Symbol.for(${JSON.stringify(REGISTRY)})] = {
  endpoint: ${JSON.stringify(endpoint)},
  async load() {
    const [${names.join(', ')}] = await Promise.all([${imports.join(', ')}]);
    return {
      hooks: ${hooks},
      contracts: [${contracts.join(', ')}],
      matchers: { ${matchers.join(', ')} },
    };
  },
};
`;
}
