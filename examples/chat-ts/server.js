// Production: the built SvelteKit app (adapter-node's handler) and its sockets on one port.
// `npm run build && npm start`; HOST and PORT default to 127.0.0.1:3000 (PORT=0: any free port).
import { PROTOCOL_HEADER, serve } from 'liverpc/node';

// Plain HTTP: tell adapter-node so (it assumes https), before its handler loads.
process.env.PROTOCOL_HEADER ??= PROTOCOL_HEADER;
const { handler } = await import('./build/handler.js');

const { url } = await serve(handler, { host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 3000) });
console.log(`chat demo on ${url}`);
console.log('demo accounts (no password): alice, bob (tenant acme); carol, dave (tenant globex)');
