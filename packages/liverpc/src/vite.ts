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

import * as sockets_ from './sockets.js';

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

/** What the `sockets` plugin needs of Vite's dev server. */
export interface SocketsDevServer extends DevServer {
  readonly httpServer: import('node:http').Server | null;
  ssrLoadModule(url: string): Promise<Record<string, unknown>>;
  readonly moduleGraph: { invalidateAll(): void };
}

/** The `sockets` plugin object (a Vite `Plugin`). */
export interface SocketsPlugin {
  readonly name: 'liverpc:sockets';
  readonly enforce: 'pre';
  configResolved(config: { readonly root: string; readonly resolve?: { readonly alias?: unknown } }): void;
  configureServer(server: SocketsDevServer): void;
  transform(code: string, id: string, options?: { ssr?: boolean }): Promise<string | undefined>;
  closeBundle(): Promise<void>;
}

/**
 * TypeScript contracts on the engine in the Vite process (liverpc/server): in `vite dev`,
 * loads `src/hooks.socket.ts` and every `src/routes/**\/*.socket.ts` through Vite's SSR module
 * loading, registers their contracts (route id from the folder, name from the export), serves
 * the websocket on the dev server's port and registers again when one changes. For the
 * browser, a contract module is replaced by a client built from the contract's names, so
 * no server code reaches the bundle; types come from the real module.
 *
 * @example
 * // vite.config.ts
 * import { sveltekit } from '@sveltejs/kit/vite';
 * import { sockets } from 'liverpc/vite';
 * export default defineConfig({ plugins: [sockets(), sveltekit()] });
 */
export function sockets(): SocketsPlugin {
  let root = process.cwd();
  let alias: unknown;
  let dev: SocketsDevServer | undefined;
  let loader: { ssrLoadModule: SocketsDevServer['ssrLoadModule']; close(): Promise<void> } | undefined;
  const load = async (file: string): Promise<Record<string, unknown>> => {
    if (dev !== undefined) return dev.ssrLoadModule(file);
    if (loader === undefined) {
      // A build has no SSR loader of its own: a bare Vite server (the app's aliases) lends one.
      const vite = (await import(/* @vite-ignore */ 'vite' as string)) as {
        createServer(config: object): Promise<{ ssrLoadModule: SocketsDevServer['ssrLoadModule']; close(): Promise<void> }>;
      };
      loader = await vite.createServer({
        root,
        configFile: false,
        logLevel: 'error',
        appType: 'custom',
        resolve: { alias },
        server: { middlewareMode: true, hmr: false, watch: null },
        optimizeDeps: { noDiscovery: true, include: [] },
      });
    }
    return loader.ssrLoadModule(file);
  };
  return {
    name: 'liverpc:sockets',
    enforce: 'pre',
    configResolved(config) {
      root = config.root;
      alias = config.resolve?.alias;
    },
    configureServer(server) {
      dev = server;
      const { contractFiles, routeIdOf, HOOKS } = sockets_;
      let engine: { native: import('./server/native.js').NativeApp } | undefined;
      const register = async (): Promise<void> => {
        try {
          const { createEngine } = await import('./server/engine.js');
          const hooksFile = resolve(root, HOOKS);
          const hooks = existsSync(hooksFile) ? await server.ssrLoadModule(hooksFile) : undefined;
          const contracts = [];
          for (const file of contractFiles(root)) {
            contracts.push({ route: routeIdOf(root, file), exports: await server.ssrLoadModule(file) });
          }
          engine = createEngine({ hooks: hooks as never, contracts });
        } catch (e) {
          server.config.logger.error(`liverpc: the contracts could not be registered: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
        }
      };
      void register().then(async () => {
        const { attach } = await import('./server/upgrade.js');
        if (server.httpServer !== null) {
          attach(server.httpServer, () => {
            if (engine === undefined) throw new Error('liverpc: no contracts registered');
            return engine.native;
          });
        }
      });
      const relevant = (file: string): boolean => file === resolve(root, HOOKS) || sockets_.isContractFile(root, file) || file.startsWith(resolve(root, 'src', 'lib'));
      for (const event of ['change', 'add', 'unlink'] as const) {
        server.watcher.on(event, (file) => {
          if (!relevant(file)) return;
          // Open connections stay on the engine they joined; new ones get the new contracts.
          server.moduleGraph.invalidateAll();
          void register();
        });
      }
    },
    async transform(_code, id, options) {
      if (options?.ssr === true || !sockets_.isContractFile(root, id)) return undefined;
      const file = id.split('?')[0] ?? id;
      return sockets_.clientModule(sockets_.routeIdOf(root, file), sockets_.contractsOf(await load(file)));
    },
    async closeBundle() {
      await loader?.close();
      loader = undefined;
    },
  };
}
