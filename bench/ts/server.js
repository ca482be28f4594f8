// The benchmark's chat as the tutorial writes it in TypeScript (`liverpc/server`), served by
// the Rust engine in this Node process (the `liverpc-node` addon): the same contract and wire
// behaviour as bench/src/peers/liverpc_chat.rs, so one load generator drives both.
//
// - namespace `/rooms/[roomId]/chat` (route `/rooms/[roomId]`, contract `chat`);
// - the hook reads the `session` cookie (an unknown user is refused `unauthenticated`, no
//   cookie is an anonymous user);
// - the private room `chat`, auto-joined, keyed by the route's `roomId`;
// - `send { text }` (1..=500 characters) emits `message { room, from, text }` to the room, the
//   sender included, and acks `{ ok: true, data: null }`;
// - the exposed room `project`, authorized against the user's projects (refused exactly
//   `forbidden`).
//
// It imports the built package (`npm run build` in packages/liverpc) and its release addon
// (`node scripts/build-native.mjs`); `cargo xtask bench` makes sure of both.
//
// Usage: node server.js [port] [--default-limits]   (prints `listening 127.0.0.1:<port>` once bound)

import { createServer } from 'node:http';

import { LiverpcError, createEngine, event, handler, hook, room, socket } from '../../packages/liverpc/dist/server/index.js';

// The same users as the Rust peers (bench/src/peers/mod.rs): `bench` holds p0..p63.
const users = new Map([['bench', { name: 'bench', projects: new Set(Array.from({ length: 64 }, (_, i) => `p${i}`)) }]]);

/** A Standard Schema (what valibot or zod would give) for an object of one bounded string. */
function objectOfString(field, min, max) {
  const refuse = (message) => ({ issues: [{ message, path: [field] }] });
  return {
    '~standard': {
      version: 1,
      vendor: 'liverpc-bench',
      validate(value) {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) return { issues: [{ message: 'expected an object' }] };
        const keys = Object.keys(value);
        if (keys.length !== 1 || keys[0] !== field) return refuse(`expected exactly { ${field} }`);
        const text = value[field];
        if (typeof text !== 'string') return refuse('expected a string');
        const length = [...text].length;
        if (length < min || length > max) return refuse(`${min} to ${max} characters`);
        return { value: { [field]: text } };
      },
    },
  };
}

const handle = hook(({ cookies }) => {
  const session = cookies.get('session');
  if (session === undefined) return {};
  const user = users.get(session);
  if (user === undefined) throw new LiverpcError('unauthenticated', 'unknown session');
  return { user };
});

const chat = socket({
  toClient: { message: event() },
  fromClient: {
    send: handler(objectOfString('text', 1, 500), ({ data, locals, params, within }) => {
      within('chat').emit('message', { room: params.roomId, from: locals.user?.name ?? 'anonymous', text: data.text });
    }),
  },
  rooms: {
    chat: room.private(({ params }) => ['chat', params.roomId], { autoJoin: true }),
    project: room.expose(objectOfString('projectId', 1, 64), ({ data, locals }) => {
      if (locals.user === undefined || !locals.user.projects.has(data.projectId)) return false;
      return ['project', data.projectId];
    }),
  },
});

// The Rust liverpc peer's limits: a call rate and in-flight bound that do not throttle the
// senders (up to 50 calls/s each), and connection caps raised as far (the connect burst's
// 10,000 clients come from one address; the websockets Node hands over count against them);
// everything else is the engine's default but one. The one difference: handshakes being decided at once (default 256) are raised to the connect burst's
// 1,000 in flight. The Rust peer's hook answers at once and never holds 256; this one's hook (and
// auto-join) wait for the JavaScript thread, so under the burst a third of the handshakes would
// be refused `unavailable` (a page retries them; the load generator counts them as failures).
// `--default-limits` (the partial-frame measurement): every limit at the engine's default.
const defaultLimits = process.argv.includes('--default-limits');
const engine = createEngine({
  hooks: { handle },
  contracts: [{ route: '/rooms/[roomId]', exports: { chat } }],
  limits: defaultLimits
    ? {}
    : {
        callsPerSecond: 1_000_000,
        burst: 1_000_000,
        maxInFlight: 1_024,
        maxHandshakes: 1_024,
        maxConnections: 1_000_000,
        maxConnectionsPerAddress: 1_000_000,
      },
});

const http = createServer((_req, res) => {
  res.writeHead(404).end();
});
engine.attach(http);

const port = Number(process.argv.slice(2).find((arg) => !arg.startsWith('--')) ?? 0);
http.listen({ host: '127.0.0.1', port, backlog: 1024 }, () => {
  const { address, port } = http.address();
  console.log(`listening ${address}:${port}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
