/**
 * `liverpc/vite`: the build-time side of liverpc, as Vite plugins.
 */

export * from './sockets.js';
