/// <reference types="node" />
/**
 * `liverpc/vite`: regenerates the `*.socket.ts` clients while `vite dev` runs, whenever a Rust
 * contract file changes. The generator is the app's own server binary (`<server> gen <web
 * root>`, see `liverpc::codegen`); this plugin only watches and runs it, one run at a time.
 * It needs no Vite import: the plugin is a plain object Vite accepts.
 */

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve, sep } from 'node:path';

import type { EnvironmentModuleNode, Plugin, ViteDevServer } from 'vite';

import * as sockets_ from './discovery.js';

/** What the plugin needs of Vite's dev server. */
export interface DevServer {
  readonly config: { readonly root: string; readonly logger: { error(message: string): void } };
  readonly watcher: {
    add(paths: string | readonly string[]): unknown;
    on(event: 'change' | 'add' | 'unlink', listener: (file: string) => void): unknown;
  };
}

/** The plugin object (a Vite `Plugin`, dev server only). */
export interface LiverpcPlugin {
  readonly name: 'liverpc';
  readonly apply: 'serve';
  configureServer(server: DevServer): void;
}

/** Options of {@link liverpc}. */
export interface LiverpcOptions {
  /**
   * The command that writes the clients, run in the Vite root, e.g.
   * `['cargo', 'run', '--quiet', '-p', 'chat-server', '--', 'gen', '.']`.
   */
  generate: readonly [command: string, ...args: string[]];
  /** Where the Rust contracts live (directories or files), relative to the Vite root. */
  watch: string | readonly string[];
  /** File name endings that count as a contract change. Default: `['.rs']`. */
  extensions?: readonly string[];
}

/**
 * Regenerates the clients once when the dev server starts, then after every change to a
 * watched Rust file. Changes during a run schedule exactly one more run.
 *
 * @example
 * // vite.config.ts
 * import { sveltekit } from '@sveltejs/kit/vite';
 * import { liverpc } from 'liverpc/vite';
 *
 * export default defineConfig({
 *   plugins: [
 *     sveltekit(),
 *     liverpc({ generate: ['cargo', 'run', '--quiet', '-p', 'chat-server', '--', 'gen', '.'], watch: '../server/src' }),
 *   ],
 * });
 */
export function liverpc(options: LiverpcOptions): LiverpcPlugin {
  const extensions = options.extensions ?? ['.rs'];
  const [command, ...args] = options.generate;
  return {
    name: 'liverpc',
    apply: 'serve',
    configureServer(server) {
      const root = server.config.root;
      const watched = (typeof options.watch === 'string' ? [options.watch] : options.watch).map((p) => resolve(root, p));
      let running = false;
      let again = false;
      const generate = (): void => {
        if (running) {
          again = true;
          return;
        }
        running = true;
        const child = spawn(command, args, { cwd: root, stdio: 'inherit' });
        const done = (problem?: string): void => {
          if (problem !== undefined) server.config.logger.error(`liverpc: ${command} ${args.join(' ')}: ${problem}`);
          running = false;
          if (again) {
            again = false;
            generate();
          }
        };
        child.once('error', (error) => done(error.message));
        child.once('exit', (code) => done(code === 0 ? undefined : `exited with ${String(code)}`));
      };
      const relevant = (file: string): boolean =>
        extensions.some((ext) => file.endsWith(ext)) &&
        watched.some((dir) => file === dir || file.startsWith(dir.endsWith(sep) ? dir : dir + sep));
      generate();
      server.watcher.add(watched);
      for (const event of ['change', 'add', 'unlink'] as const) {
        server.watcher.on(event, (file) => {
          if (relevant(file)) generate();
        });
      }
    },
  };
}

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
  readonly limits?: import('../server/engine.js').EngineLimits;
}

/** What the `sockets` plugin offers other code in the Vite process (`plugin.api`). */
export interface SocketsApi {
  /**
   * The engine serving the contracts as last registered (`vite dev` only): resolves once the
   * registration under way is done; rejects with its error when it failed.
   */
  engine(): Promise<import('../server/engine.js').Engine>;
  /** The engine of the next registration (after a change to the contracts), once it is done. */
  nextEngine(): Promise<import('../server/engine.js').Engine>;
}

/** The `sockets` plugin object: a Vite `Plugin` with its {@link SocketsApi}. */
export type SocketsPlugin = Plugin<SocketsApi> & { readonly name: 'liverpc:sockets'; readonly api: SocketsApi };

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
export function sockets(options: SocketsOptions = {}): SocketsPlugin {
  let root = process.cwd();
  let command: 'serve' | 'build' = 'serve';
  let alias: import('vite').ResolvedConfig['resolve']['alias'] | undefined;
  let dev: ViteDevServer | undefined;
  let loader: Pick<ViteDevServer, 'ssrLoadModule' | 'close'> | undefined;
  let current: Promise<import('../server/engine.js').Engine> = Promise.reject(new Error('liverpc: sockets() runs its engine in `vite dev` only'));
  current.catch(() => {});
  let waiting: ((registration: Promise<import('../server/engine.js').Engine>) => void)[] = [];
  const load = async (file: string): Promise<Record<string, unknown>> => {
    if (dev !== undefined) return dev.ssrLoadModule(file);
    if (loader === undefined) {
      // A build has no SSR loader of its own: a bare Vite server (the app's aliases) lends one.
      const vite = await import('vite');
      loader = await vite.createServer({
        root,
        configFile: false,
        logLevel: 'error',
        appType: 'custom',
        ...(alias === undefined ? {} : { resolve: { alias } }),
        server: { middlewareMode: true, hmr: false, watch: null, ws: false },
        optimizeDeps: { noDiscovery: true, include: [] },
      });
    }
    return loader.ssrLoadModule(file);
  };
  const hooksFile = (): string => resolve(root, sockets_.HOOKS);
  return {
    name: 'liverpc:sockets',
    enforce: 'pre',
    api: {
      engine: () => current,
      nextEngine: () => new Promise((resolve, reject) => waiting.push((next) => next.then(resolve, reject))),
    },
    configResolved(config) {
      root = config.root;
      command = config.command;
      alias = config.resolve?.alias;
    },
    configureServer(server) {
      dev = server;
      let engine: import('../server/engine.js').Engine | undefined;
      const register = async (): Promise<import('../server/engine.js').Engine> => {
        const { createEngine } = await import('../server/engine.js');
        const hooks = existsSync(hooksFile()) ? await server.ssrLoadModule(hooksFile()) : undefined;
        const contracts = [];
        for (const file of sockets_.contractFiles(root)) {
          contracts.push({ route: sockets_.routeIdOf(root, file), exports: await server.ssrLoadModule(file) });
        }
        engine = createEngine({
          hooks: hooks as { handle?: import('../server/hooks.js').Handle } | undefined,
          contracts,
          ...(options.origins === undefined ? {} : { origins: options.origins }),
          ...(options.longPolling === undefined ? {} : { longPolling: options.longPolling }),
          ...(options.limits === undefined ? {} : { limits: options.limits }),
        });
        return engine;
      };
      const registerLogged = (): void => {
        current = register();
        for (const wake of waiting) wake(current);
        waiting = [];
        current.catch((e: unknown) =>
          server.config.logger.error(`liverpc: the contracts could not be registered: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`),
        );
      };
      registerLogged();
      if (server.httpServer !== null) {
        void import('../server/upgrade.js').then(({ attach }) =>
          // Vite's server is an HTTP/1 server unless `server.https` with HTTP/2, whose upgrades
          // do not exist: the engine listens to the same 'upgrade' event either way.
          attach(server.httpServer as import('node:http').Server, () => {
            // Until the first registration is done (or when it failed) the upgrade is dropped;
            // the page's client retries.
            if (engine === undefined) throw new Error('liverpc: no contracts registered (see the error above)');
            return engine.native;
          }),
        );
      }
      /** Whether `file` is the hook, a contract, or a module one of them imports. */
      const relevant = (file: string): boolean => {
        const isSocket = (f: string): boolean => f === hooksFile() || sockets_.isContractFile(root, f);
        if (isSocket(file)) return true;
        const seen = new Set<EnvironmentModuleNode | import('vite').ModuleNode>();
        const queue = [...(server.moduleGraph.getModulesByFile(file) ?? [])];
        for (let mod = queue.pop(); mod !== undefined; mod = queue.pop()) {
          if (seen.has(mod)) continue;
          seen.add(mod);
          if (mod.file !== null && isSocket(mod.file)) return true;
          queue.push(...mod.importers);
        }
        return false;
      };
      for (const event of ['change', 'add', 'unlink'] as const) {
        server.watcher.on(event, (file) => {
          if (!relevant(file)) return;
          // The SSR instances must be fresh, for this registration and for the pages' SSR
          // (`chat.to(...)` in a form action must be the instance the new engine bound).
          server.moduleGraph.invalidateAll();
          registerLogged();
        });
      }
    },
    async resolveId(source, importer, resolveOptions) {
      if (source === SOCKETS_MODULE) return RESOLVED_SOCKETS_MODULE;
      if (resolveOptions?.ssr !== true || !SERVER_ENTRIES.includes(source)) return undefined;
      // One instance in Node (the engine, its addon and `LiverpcError` shared with this
      // plugin): never inlined by Vite, even when liverpc is a linked package. A build keeps
      // the bare name for Node to resolve from the output's folder.
      if (command === 'build') return { id: source, external: true };
      const resolved = await this.resolve(source, importer, { skipSelf: true });
      return resolved === null ? undefined : { id: resolved.id, external: true };
    },
    load(id) {
      if (id !== RESOLVED_SOCKETS_MODULE) return undefined;
      return sockets_.registryModule(root, existsSync(hooksFile()) ? hooksFile() : undefined, sockets_.contractFiles(root));
    },
    async transform(code, id, transformOptions) {
      const file = id.split('?')[0] ?? id;
      if (transformOptions?.ssr === true) {
        // SvelteKit's server bundle imports the registry, so `liverpc/node` finds the sockets.
        if (command === 'build' && /[\\/]generated[\\/]server[\\/]internal\.js$/.test(file)) {
          return `${code}\nimport ${JSON.stringify(SOCKETS_MODULE)};\n`;
        }
        return undefined;
      }
      if (!sockets_.isContractFile(root, file)) return undefined;
      return sockets_.clientModule(sockets_.routeIdOf(root, file), sockets_.contractsOf(await load(file)), options.client);
    },
    async closeBundle() {
      await loader?.close();
      loader = undefined;
    },
  };
}
