// Production: adapter-node's own server (build/index.js, with every variable it documents and
// its graceful shutdown) with the sockets on it, pages and realtime on one port.
// `npm run build && npm start`; HOST and PORT default to 127.0.0.1:3000 (PORT=0: any free port).
import { PROTOCOL_HEADER, serve } from 'liverpc/node';

process.env.HOST ??= '127.0.0.1';
// Plain HTTP with no proxy in front: tell adapter-node (it assumes https) unless the deployment
// says where the page's origin comes from (ORIGIN, or a proxy's PROTOCOL_HEADER).
if (process.env.ORIGIN === undefined) process.env.PROTOCOL_HEADER ??= PROTOCOL_HEADER;

// adapter-node emits this once the server, and with it the engine, is closed (SIGTERM, SIGINT).
process.once('sveltekit:shutdown', (reason) => console.log(`chat demo stopped (${reason})`));

// REDIS_URL: this server is one node of several sharing their rooms (and presence) on Redis.
const { url } = await serve(new URL('./build/', import.meta.url), process.env.REDIS_URL ? { redis: process.env.REDIS_URL } : {});
console.log(`chat demo on ${url}`);
console.log('demo accounts (no password): alice, bob (tenant acme); carol, dave (tenant globex)');
