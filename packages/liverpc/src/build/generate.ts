/// <reference types="node" />
/**
 * `liverpc()`: regenerates the Rust-generated `*.socket.ts` clients while `vite dev` runs,
 * whenever a Rust contract file changes. The generator is the app's own server binary (`<server> gen <web
 * root>`, see `liverpc::codegen`); this plugin only watches and runs it, one run at a time.
 * It needs no Vite import: the plugin is a plain object Vite accepts.
 */

import { spawn } from 'node:child_process';
import { resolve, sep } from 'node:path';

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
