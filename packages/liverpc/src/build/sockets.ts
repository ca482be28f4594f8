/// <reference types="node" />
/**
 * `sockets()`: TypeScript contracts on the engine (liverpc/server), as a few Vite plugins, each
 * with one job. What they share is the app as Vite resolved it (an {@link App}, passed to each);
 * whatever else a plugin keeps is its own.
 */

import { existsSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import { resolve } from 'node:path';

import type { EnvironmentModuleNode, ModuleNode, Plugin, ResolvedConfig, ViteDevServer } from 'vite';

import type { Engine, EngineLimits } from '../server/engine.js';
import type { Handle } from '../server/hooks.js';
import { HOOKS, contractFiles, contractsOf, isContractFile, routeIdOf } from './discovery.js';
import { clientModule, registryModule } from './modules.js';

/** Options of {@link sockets}. */
export interface SocketsOptions {
  /**
   * The runtime the browser's replacement modules import: `'liverpc/sveltekit'` (the default:
   * follows SvelteKit's navigations) or `'liverpc'` (a plain Vite app).
   */
  readonly client?: 'liverpc/sveltekit' | 'liverpc';
  /** Origins allowed besides the page's own, in `vite dev` (`createEngine`'s `origins`). */
  readonly origins?: readonly string[];
  /** Also accept HTTP long-polling in `vite dev`. */
  readonly longPolling?: boolean;
  /** The engine's limits in `vite dev` (`createEngine`'s `limits`). */
  readonly limits?: EngineLimits;
}

/** What `sockets()` offers other code in the Vite process (`plugins.api`, also on its dev plugin). */
export interface SocketsApi {
  /**
   * The engine serving the contracts as last registered (`vite dev` only): resolves once the
   * registration under way is done; rejects with its error when it failed.
   */
  engine(): Promise<Engine>;
  /** The engine of the next registration (after a change to the contracts), once it is done. */
  nextEngine(): Promise<Engine>;
}

/** What `sockets()` returns: its plugins (Vite flattens the array), with the {@link SocketsApi}. */
export type SocketsPlugins = Plugin[] & { readonly api: SocketsApi };

/**
 * The module that registers an app's sockets for production: imported by the SvelteKit
 * server bundle (the plugin adds the import to SvelteKit's generated server `internal.js`),
 * so that the hook and the contracts are bundled with the pages, one instance each, and
 * `liverpc/node` finds them. Import it yourself (`import 'virtual:liverpc/sockets'`) in a
 * server entry that is not SvelteKit's.
 */
export const SOCKETS_MODULE = 'virtual:liverpc/sockets';
const RESOLVED_SOCKETS_MODULE = '\0' + SOCKETS_MODULE;
/** The packages that must stay one instance in Node, the plugin's own: never bundled for SSR. */
const SERVER_ENTRIES = ['liverpc/server', 'liverpc/node'];

/** The app as Vite resolved it: written by `liverpc:sockets-config`, read by the others. */
interface App {
  root: string;
  command: 'serve' | 'build';
  alias: ResolvedConfig['resolve']['alias'] | undefined;
}

/**
 * TypeScript contracts on the engine (liverpc/server). In `vite dev`: loads
 * `src/hooks.socket.ts` and every `src/routes/**\/*.socket.ts` through Vite's SSR module
 * loading, registers their contracts (route id from the folder, name from the export), serves
 * the websocket on the dev server's port, and registers again when one of them (or a module
 * they import) changes. In `vite build`: bundles them with the SvelteKit server for
 * `liverpc/node`. For the browser, a contract module is replaced by a client built from the
 * contract's names, so no server code reaches the bundle; types come from the real module.
 *
 * When the contracts change, connections already open keep the contracts they connected with
 * (the previous engine serves them until they close); new Engine.IO connections (a page
 * reload) get the new ones.
 *
 * @example
 * // vite.config.ts
 * import { sveltekit } from '@sveltejs/kit/vite';
 * import { sockets } from 'liverpc/vite';
 * export default defineConfig({ plugins: [sockets(), sveltekit()] });
 */
export function sockets(options: SocketsOptions = {}): SocketsPlugins {
  const app: App = { root: process.cwd(), command: 'serve', alias: undefined };
  const dev = devEngine(app, options);
  const plugins = [config(app), serverEntries(app), registry(app), browserModules(app, options.client), dev];
  return Object.assign(plugins, { api: dev.api });
}

/** `liverpc:sockets-config`: records the app's root, command and aliases for the others. */
function config(app: App): Plugin {
  return {
    name: 'liverpc:sockets-config',
    enforce: 'pre',
    configResolved(resolved) {
      app.root = resolved.root;
      app.command = resolved.command;
      app.alias = resolved.resolve?.alias;
    },
  };
}

/**
 * `liverpc:sockets-server-entries`: keeps `liverpc/server` and `liverpc/node` one instance in
 * Node (the engine, its addon and `LiverpcError` shared with this plugin): never inlined in
 * SSR, even when liverpc is a linked package.
 */
function serverEntries(app: App): Plugin {
  return {
    name: 'liverpc:sockets-server-entries',
    enforce: 'pre',
    async resolveId(source, importer, resolveOptions) {
      if (resolveOptions?.ssr !== true || !SERVER_ENTRIES.includes(source)) return undefined;
      // A build keeps the bare name for Node to resolve from the output's folder.
      if (app.command === 'build') return { id: source, external: true };
      const resolved = await this.resolve(source, importer, { skipSelf: true });
      return resolved === null ? undefined : { id: resolved.id, external: true };
    },
  };
}

/**
 * `liverpc:sockets-registry`: serves {@link SOCKETS_MODULE} (the app's hook and contracts, for
 * `liverpc/node`) and, in `vite build`, imports it from SvelteKit's server bundle.
 */
function registry(app: App): Plugin {
  return {
    name: 'liverpc:sockets-registry',
    enforce: 'pre',
    resolveId(source) {
      return source === SOCKETS_MODULE ? RESOLVED_SOCKETS_MODULE : undefined;
    },
    load(id) {
      if (id !== RESOLVED_SOCKETS_MODULE) return undefined;
      const hooks = hooksFile(app);
      return registryModule(app.root, existsSync(hooks) ? hooks : undefined, contractFiles(app.root));
    },
    transform(code, id, transformOptions) {
      if (transformOptions?.ssr !== true || app.command !== 'build') return undefined;
      const file = id.split('?')[0] ?? id;
      if (!/[\\/]generated[\\/]server[\\/]internal\.js$/.test(file)) return undefined;
      return `${code}\nimport ${JSON.stringify(SOCKETS_MODULE)};\n`;
    },
  };
}

/**
 * `liverpc:sockets-browser`: replaces a contract module imported by browser code with a client
 * built from its contracts' names. The names come from the real module, loaded through the dev
 * server's SSR, or in a build through a bare Vite server lent for it.
 */
function browserModules(app: App, entry: SocketsOptions['client']): Plugin {
  let dev: ViteDevServer | undefined;
  let lent: Pick<ViteDevServer, 'ssrLoadModule' | 'close'> | undefined;
  const load = async (file: string): Promise<Record<string, unknown>> => {
    if (dev !== undefined) return dev.ssrLoadModule(file);
    if (lent === undefined) {
      // A build has no SSR loader of its own: a bare Vite server (the app's aliases) lends one.
      const vite = await import('vite');
      lent = await vite.createServer({
        root: app.root,
        configFile: false,
        logLevel: 'error',
        appType: 'custom',
        ...(app.alias === undefined ? {} : { resolve: { alias: app.alias } }),
        server: { middlewareMode: true, hmr: false, watch: null, ws: false },
        optimizeDeps: { noDiscovery: true, include: [] },
      });
    }
    return lent.ssrLoadModule(file);
  };
  return {
    name: 'liverpc:sockets-browser',
    enforce: 'pre',
    configureServer(server) {
      dev = server;
    },
    async transform(_code, id, transformOptions) {
      const file = id.split('?')[0] ?? id;
      if (transformOptions?.ssr === true || !isContractFile(app.root, file)) return undefined;
      return clientModule(routeIdOf(app.root, file), contractsOf(await load(file)), entry);
    },
    async closeBundle() {
      await lent?.close();
      lent = undefined;
    },
  };
}

/**
 * `liverpc:sockets-dev`: the dev server's realtime endpoint. Registers the hook and the
 * contracts with an engine, serves its websocket on the dev server's port, and registers
 * again when one of them (or a module they import) changes.
 */
function devEngine(app: App, options: SocketsOptions): Plugin & { readonly api: SocketsApi } {
  let current: Promise<Engine> = Promise.reject(new Error('liverpc: sockets() runs its engine in `vite dev` only'));
  current.catch(() => {});
  let waiting: ((registration: Promise<Engine>) => void)[] = [];
  return {
    name: 'liverpc:sockets-dev',
    apply: 'serve',
    enforce: 'pre',
    api: {
      engine: () => current,
      nextEngine: () => new Promise((resolve, reject) => waiting.push((next) => next.then(resolve, reject))),
    },
    configureServer(server) {
      let engine: Engine | undefined;
      const register = (): void => {
        current = startEngine(app, server, options);
        current.then((registered) => (engine = registered)).catch(() => {});
        for (const wake of waiting) wake(current);
        waiting = [];
        current.catch((e: unknown) =>
          server.config.logger.error(`liverpc: the contracts could not be registered: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`),
        );
      };
      register();
      if (server.httpServer !== null) {
        void import('../server/upgrade.js').then(({ attach }) =>
          // Vite's server is an HTTP/1 server unless `server.https` with HTTP/2, whose upgrades
          // do not exist: the engine listens to the same 'upgrade' event either way.
          attach(server.httpServer as HttpServer, () => {
            // Until the first registration is done (or when it failed) the upgrade is dropped;
            // the page's client retries.
            if (engine === undefined) throw new Error('liverpc: no contracts registered (see the error above)');
            return engine.native;
          }),
        );
      }
      for (const event of ['change', 'add', 'unlink'] as const) {
        server.watcher.on(event, (file) => {
          if (!reachesSockets(app, server, file)) return;
          // The SSR instances must be fresh, for this registration and for the pages' SSR
          // (`chat.to(...)` in a form action must be the instance the new engine bound).
          server.moduleGraph.invalidateAll();
          register();
        });
      }
    },
  };
}

/** The hook's file (it may not exist). */
function hooksFile(app: App): string {
  return resolve(app.root, HOOKS);
}

/** Loads the hook and the contracts through the dev server's SSR and starts an engine on them. */
async function startEngine(app: App, server: ViteDevServer, options: SocketsOptions): Promise<Engine> {
  const { createEngine } = await import('../server/engine.js');
  const hooks = existsSync(hooksFile(app)) ? await server.ssrLoadModule(hooksFile(app)) : undefined;
  const contracts = [];
  for (const file of contractFiles(app.root)) {
    contracts.push({ route: routeIdOf(app.root, file), exports: await server.ssrLoadModule(file) });
  }
  return createEngine({
    hooks: hooks as { handle?: Handle } | undefined,
    contracts,
    ...(options.origins === undefined ? {} : { origins: options.origins }),
    ...(options.longPolling === undefined ? {} : { longPolling: options.longPolling }),
    ...(options.limits === undefined ? {} : { limits: options.limits }),
  });
}

/** Whether `file` is the hook, a contract, or a module one of them imports. */
function reachesSockets(app: App, server: ViteDevServer, file: string): boolean {
  const isSocket = (f: string): boolean => f === hooksFile(app) || isContractFile(app.root, f);
  if (isSocket(file)) return true;
  const seen = new Set<EnvironmentModuleNode | ModuleNode>();
  const queue = [...(server.moduleGraph.getModulesByFile(file) ?? [])];
  for (let mod = queue.pop(); mod !== undefined; mod = queue.pop()) {
    if (seen.has(mod)) continue;
    seen.add(mod);
    if (mod.file !== null && isSocket(mod.file)) return true;
    queue.push(...mod.importers);
  }
  return false;
}
