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
