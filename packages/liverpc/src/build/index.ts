/**
 * `liverpc/vite`: the build-time side of liverpc, as Vite plugins.
 *
 * - `liverpc({ generate, watch })`: Rust contracts. Runs the Rust generator of the
 *   `*.socket.ts` clients when the dev server starts and after every contract change.
 * - `sockets()`: TypeScript contracts (`liverpc/server`). Serves them in `vite dev`, bundles
 *   them for `liverpc/node`, and gives the browser a client built from their names.
 * - `socketTypes()`: SvelteKit's `kit.typescript.config` hook that types the contracts'
 *   `params` from their routes (in svelte.config.js).
 */

export { liverpc } from './generate.js';
export type { DevServer, LiverpcOptions, LiverpcPlugin } from './generate.js';
export { SOCKETS_MODULE, sockets } from './sockets.js';
export { socketTypes } from './routes.js';
export type { SocketTypesOptions } from './routes.js';
export type { SocketsApi, SocketsOptions, SocketsPlugins } from './sockets.js';
