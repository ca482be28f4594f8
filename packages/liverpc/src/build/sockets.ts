/// <reference types="node" />
/**
 * `sockets()`: TypeScript contracts on the engine (liverpc/server), as a few Vite plugins, each
 * with one job. What they share is the app as Vite resolved it (an {@link App}, passed to each);
 * whatever else a plugin keeps is its own.
 */

import { existsSync } from 'node:fs';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { join, relative, resolve } from 'node:path';
import type { Duplex } from 'node:stream';

import type { ModuleNode, Plugin, ResolvedConfig, ViteDevServer } from 'vite';

import { loadRegistered } from '../node/registry.js';
import type { Engine, EngineLimits, EngineOptions } from '../server/engine.js';
import type { Handle } from '../server/hooks.js';
import { SOCKET_IO_PATH } from '../server/upgrade.js';
import { HOOKS, contractFiles, isContractFile, matcherFiles, routeIdOf } from './discovery.js';
import { clientModule, registryModule } from './modules.js';
import { writeRouteTypes } from './routes.js';
import { NamesError, type Program, namesOf } from './names.js';
import { originalPosition, positionIn } from './position.js';

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
   * registration under way is done and the engine it replaces is closed; rejects with its
   * error when it failed.
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

/** The app as Vite (and SvelteKit) resolved it: written by `liverpc:sockets-config`, read by the others. */
interface App {
  root: string;
  command: 'serve' | 'build';
  /** The Socket.IO endpoint: `${paths.base}/socket.io/`. */
  endpoint: string;
  /** Where SvelteKit's param matchers are (absolute). */
  params: string;
  /** SvelteKit's `outDir` (absolute), where `params`' types go; absent in a plain Vite app. */
  outDir: string | undefined;
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
 * When the contracts change, the new engine takes the new connections and the previous one is
 * closed: its pages reconnect (with backoff, as after a restart) to the new contracts.
 * `vite preview` serves the built app's sockets on the preview server's port.
 *
 * @example
 * // vite.config.ts
 * import { sveltekit } from '@sveltejs/kit/vite';
 * import { sockets } from 'liverpc/vite';
 * export default defineConfig({ plugins: [sockets(), sveltekit()] });
 */
export function sockets(options: SocketsOptions = {}): SocketsPlugins {
  const app: App = { root: process.cwd(), command: 'serve', endpoint: SOCKET_IO_PATH, params: join('src', 'params'), outDir: undefined };
  const entry = options.client ?? 'liverpc/sveltekit';
  const dev = devEngine(app, options);
  const plugins = [config(app, entry), routeTypes(app), serverEntries(app), registry(app), browserModules(app, entry), dev, previewEngine(app)];
  return Object.assign(plugins, { api: dev.api });
}

/** The part of SvelteKit's resolved config read here. */
interface KitConfig {
  readonly outDir?: string;
  readonly paths?: { readonly base?: string };
  readonly files?: { readonly params?: string };
}

/** SvelteKit's resolved config: its setup plugin offers it as `api.options` (absent in a plain Vite app). */
function svelteKit(config: ResolvedConfig): KitConfig | undefined {
  const setup = config.plugins.find((plugin) => plugin.name === 'vite-plugin-sveltekit-setup');
  return (setup?.api as { options?: { kit?: KitConfig } } | undefined)?.options?.kit;
}

/**
 * `liverpc:sockets-config`: records the app's root, command, endpoint and matchers folder for
 * the others, and has Vite's dependency scan read a contract module as the browser gets it.
 */
function config(app: App, entry: string): Plugin {
  return {
    name: 'liverpc:sockets-config',
    enforce: 'pre',
    config() {
      // As SvelteKit does for `.remote.ts`: without this, the scan follows the contract's server
      // imports from the page and pre-bundles them (a database driver) for the browser.
      return {
        optimizeDeps: {
          esbuildOptions: {
            plugins: [
              {
                name: 'liverpc:sockets-scan',
                setup(build) {
                  build.onLoad({ filter: /\.socket\.(ts|js)$/ }, (args) =>
                    isContractFile(app.root, args.path) ? { contents: `import ${JSON.stringify(entry)};`, loader: 'js' } : undefined,
                  );
                },
              },
            ],
          },
        },
      };
    },
    configResolved(resolved) {
      app.root = resolved.root;
      app.command = resolved.command;
      const kit = svelteKit(resolved);
      app.endpoint = `${kit?.paths?.base ?? ''}${SOCKET_IO_PATH}`;
      app.params = resolve(app.root, kit?.files?.params ?? join('src', 'params'));
      app.outDir = kit === undefined ? undefined : resolve(app.root, kit.outDir ?? '.svelte-kit');
    },
  };
}

/**
 * `liverpc:sockets-types`: keeps `.svelte-kit/liverpc/routes.d.ts` (the contracts' `params`
 * types) true in `vite dev` and `vite build`: written at the start and again when a contract or
 * a matcher file comes or goes. (`socketTypes()` in svelte.config.js adds it to the tsconfig.)
 */
function routeTypes(app: App): Plugin {
  const write = (): void => {
    if (app.outDir !== undefined) writeRouteTypes(app.root, app.outDir, app.params);
  };
  return {
    name: 'liverpc:sockets-types',
    buildStart: write,
    configureServer(server) {
      for (const event of ['add', 'unlink'] as const) {
        server.watcher.on(event, (file) => {
          if (isContractFile(app.root, file) || !relative(app.params, file).startsWith('..')) write();
        });
      }
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
 * `liverpc:sockets-registry`: serves {@link SOCKETS_MODULE} (the app's endpoint, and a loader of
 * its hook, contracts and matchers, for `liverpc/node`) and, in `vite build`, imports it from
 * SvelteKit's server bundle. The modules it loads are bundled by SvelteKit's own server build,
 * so they resolve as a `+page.server.ts` does (`$env/*`, `$app/*`, `$lib`, aliases).
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
      const files = { hooks: existsSync(hooks) ? hooks : undefined, contracts: contractFiles(app.root), matchers: matcherFiles(app.params) };
      return registryModule(app.root, files, app.endpoint);
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
 * built from its contracts' names. The names are read from the module's syntax (after Vite's
 * TypeScript step, hence no `enforce`), never by running it: the browser build runs no server
 * code, needs no `$env`, and the same reading serves `vite dev` and `vite build`.
 */
function browserModules(app: App, entry: string): Plugin {
  return {
    name: 'liverpc:sockets-browser',
    transform(code, id, transformOptions) {
      const file = id.split('?')[0] ?? id;
      if (transformOptions?.ssr === true || !isContractFile(app.root, file)) return undefined;
      let contracts;
      try {
        contracts = namesOf(this.parse(code) as unknown as Program);
      } catch (e) {
        if (!(e instanceof NamesError)) throw e;
        // Vite's TypeScript step reprinted the module: its source map gives the author's line.
        const at = positionIn(code, e.offset);
        const where = originalPosition(this.getCombinedSourcemap(), at) ?? at;
        return this.error(`liverpc: ${relative(app.root, file)}:${where.line}:${where.column + 1}: ${e.message}`);
      }
      return { code: clientModule(routeIdOf(app.root, file), contracts, entry), map: { mappings: '' } };
    },
  };
}

/**
 * `liverpc:sockets-dev`: the dev server's realtime endpoint. Registers the hook and the
 * contracts with an engine, serves its websocket on the dev server's port, and registers
 * again when one of them (or a module they import) changes; the engine it replaces is closed.
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
      // One registration at a time, each after the previous one's engine is closed, so that
      // at most two engines exist and the last change always wins.
      let queue: Promise<unknown> = Promise.resolve();
      const register = (): void => {
        const registration = queue
          .then(() => startEngine(app, server, options))
          .then(async (next) => {
            const previous = engine;
            engine = next;
            await previous?.close();
            return next;
          });
        current = registration;
        // A contract that fails to load leaves the previous engine serving.
        queue = registration.catch((e: unknown) =>
          server.config.logger.error(`liverpc: the contracts could not be registered: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`),
        );
        for (const wake of waiting) wake(registration);
        waiting = [];
      };
      register();
      if (server.httpServer !== null) {
        // Vite's server is an HTTP/1 server unless `server.https` with HTTP/2, whose upgrades
        // do not exist: the engine listens to the same 'upgrade' event either way.
        serveUpgrades(server.httpServer as HttpServer, app, () => engine ?? current);
      }
      for (const event of ['change', 'add', 'unlink'] as const) {
        server.watcher.on(event, (file) => {
          const affected = importersOf(server, file);
          if (![file, ...[...affected].map((mod) => mod.file)].some((f) => f !== null && isSocketFile(app, f))) return;
          // Fresh SSR instances of what the change reaches, for this registration and for the
          // pages' SSR (`chat.to(...)` in a form action must be the instance the new engine
          // bound); nothing else (SvelteKit's own runtime modules keep their state).
          for (const mod of affected) server.moduleGraph.invalidateModule(mod);
          register();
        });
      }
    },
  };
}

/**
 * `liverpc:sockets-preview`: `vite preview` serves the built app's sockets on its port, as
 * `liverpc/node` does in production.
 */
function previewEngine(app: App): Plugin {
  return {
    name: 'liverpc:sockets-preview',
    configurePreviewServer(server) {
      // The returned function runs after every plugin's hook: SvelteKit's has imported the
      // built server (which sets the registry) and run its `init` by then.
      return () => {
        const engine = loadRegistered().then(async (sockets) => (await import('../server/engine.js')).createEngine(sockets));
        engine.catch((e: unknown) =>
          server.config.logger.error(`liverpc: the built sockets could not be served: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`),
        );
        serveUpgrades(server.httpServer as HttpServer, app, () => engine);
      };
    },
  };
}

/**
 * Hands the upgrades of the endpoint on `server` to the engine of the moment; one that arrives
 * while the engine is being made waits for it (Node leaves the socket unread meanwhile), and is
 * closed if there is none. Other upgrades (Vite's HMR) are left to their own listeners.
 */
function serveUpgrades(server: HttpServer, app: App, engine: () => Engine | Promise<Engine>): void {
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const now = engine();
    if (!(now instanceof Promise)) {
      if (now.ownsUpgrade(req)) now.handOver(req, socket, head);
      return;
    }
    if (!new URL(req.url ?? '/', 'http://localhost').pathname.startsWith(app.endpoint)) return;
    now.then(
      (ready) => ready.handOver(req, socket, head),
      () => socket.destroy(),
    );
  });
}

/** The hook's file (it may not exist). */
function hooksFile(app: App): string {
  return resolve(app.root, HOOKS);
}

/** Whether `file` is the hook or a contract module. */
function isSocketFile(app: App, file: string): boolean {
  return file === hooksFile(app) || isContractFile(app.root, file);
}

/** Loads the hook, the contracts and the matchers through the dev server's SSR and starts an engine on them. */
async function startEngine(app: App, server: ViteDevServer, options: SocketsOptions): Promise<Engine> {
  const { createEngine } = await import('../server/engine.js');
  const hooks = existsSync(hooksFile(app)) ? await server.ssrLoadModule(hooksFile(app)) : undefined;
  const contracts = [];
  for (const file of contractFiles(app.root)) {
    contracts.push({ route: routeIdOf(app.root, file), exports: await server.ssrLoadModule(file) });
  }
  const matchers: Record<string, (param: string) => boolean> = {};
  for (const [name, file] of matcherFiles(app.params)) matchers[name] = (await server.ssrLoadModule(file)).match as (param: string) => boolean;
  const engineOptions: EngineOptions = {
    hooks: hooks as { handle?: Handle } | undefined,
    contracts,
    matchers,
    endpoint: app.endpoint,
    ...(options.origins === undefined ? {} : { origins: options.origins }),
    ...(options.longPolling === undefined ? {} : { longPolling: options.longPolling }),
    ...(options.limits === undefined ? {} : { limits: options.limits }),
  };
  return createEngine(engineOptions);
}

/** The modules of `file` and every module that imports one of them, transitively. */
function importersOf(server: ViteDevServer, file: string): Set<ModuleNode> {
  const seen = new Set<ModuleNode>();
  const queue = [...(server.moduleGraph.getModulesByFile(file) ?? [])];
  for (let mod = queue.pop(); mod !== undefined; mod = queue.pop()) {
    if (seen.has(mod)) continue;
    seen.add(mod);
    queue.push(...mod.importers);
  }
  return seen;
}
