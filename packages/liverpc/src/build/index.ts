/**
 * `liverpc/vite`: the build-time side of liverpc, as Vite plugins.
 *
 * - `liverpc({ generate, watch })`: Rust contracts. Runs the Rust generator of the
 *   `*.socket.ts` clients when the dev server starts and after every contract change.
 * - `sockets()`: TypeScript contracts (`liverpc/server`). Serves them in `vite dev`, bundles
 *   them for `liverpc/node`, and gives the browser a client built from their names.
 */

export { liverpc } from './generate.js';
export type { DevServer, LiverpcOptions, LiverpcPlugin } from './generate.js';
export { SOCKETS_MODULE, sockets } from './sockets.js';
export type { SocketsApi, SocketsOptions, SocketsPlugins } from './sockets.js';
