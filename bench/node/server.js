// The benchmark's chat on Node's socket.io 4.8: the same wire behaviour as the liverpc and
// raw socketioxide servers of bench/src/peers/, so one load generator drives all three.
//
// - namespace `/rooms/[roomId]/chat`, handshake auth `{ path: "/rooms/<roomId>" }`;
// - the hook: the `session` cookie names the user (unknown user: `unauthenticated`);
// - the route match: `/rooms/<roomId>` (else `not_found`), the socket joins the room's key;
// - `send { text }` (1..=500 characters) broadcasts `message { room, from, text }` to the room,
//   the sender included, and acks `{ ok: true, data: null }`;
// - `liverpc:join { room: "project", data: { projectId } }` joins when the user holds the
//   project, else acks exactly `{ ok: false, error: { code: "forbidden", message: "forbidden" } }`.
//
// Usage: node server.js [port]   (prints `listening 127.0.0.1:<port>` once bound)

import { createServer } from "node:http";
import { Server } from "socket.io";

const NAMESPACE = "/rooms/[roomId]/chat";

// The same users as the Rust peers (bench/src/peers/mod.rs): `bench` holds p0..p63.
const users = new Map([["bench", { name: "bench", projects: new Set(Array.from({ length: 64 }, (_, i) => `p${i}`)) }]]);

function cookie(header, name) {
  if (typeof header !== "string") return undefined;
  for (const pair of header.split(";")) {
    const at = pair.indexOf("=");
    if (at > 0 && pair.slice(0, at).trim() === name) return pair.slice(at + 1).trim().replace(/^"|"$/g, "");
  }
  return undefined;
}

function roomId(path) {
  if (typeof path !== "string" || !path.startsWith("/rooms/")) return undefined;
  const id = path.slice("/rooms/".length);
  return id.length > 0 && !id.includes("/") ? decodeURIComponent(id) : undefined;
}

const OK = { ok: true, data: null };
const FORBIDDEN = { ok: false, error: { code: "forbidden", message: "forbidden" } };
const invalid = (message) => ({ ok: false, error: { code: "invalid_payload", message, issues: [{ path: "", message }] } });

const http = createServer();
const io = new Server(http, {
  serveClient: false,
  transports: ["websocket", "polling"],
  pingInterval: 25_000,
  pingTimeout: 20_000,
  connectTimeout: 10_000,
  maxHttpBufferSize: 128 * 1024,
});

const chat = io.of(NAMESPACE);

chat.use((socket, next) => {
  const session = cookie(socket.handshake.headers.cookie, "session");
  const user = session === undefined ? null : users.get(session);
  if (user === undefined) return next(new Error("unauthenticated"));
  const room = roomId(socket.handshake.auth?.path);
  if (room === undefined) return next(new Error("not_found"));
  socket.data.user = user;
  socket.data.room = room;
  next();
});

chat.on("connection", (socket) => {
  const { user, room } = socket.data;
  const key = JSON.stringify(["chat", room]);
  socket.join(key);
  const from = user ? user.name : "anonymous";

  socket.on("send", (payload, ack) => {
    const text = payload?.text;
    if (typeof text !== "string" || text.length < 1 || text.length > 500) {
      if (typeof ack === "function") ack(invalid("text: 1 to 500 characters"));
      return;
    }
    chat.in(key).emit("message", { room, from, text });
    if (typeof ack === "function") ack(OK);
  });

  socket.on("liverpc:join", (request, ack) => {
    const reply = typeof ack === "function" ? ack : () => {};
    const projectId = request?.data?.projectId;
    if (request?.room !== "project" || typeof projectId !== "string" || projectId.length < 1 || projectId.length > 64) {
      return reply(invalid("expected { room: 'project', data: { projectId } }"));
    }
    if (!user || !user.projects.has(projectId)) return reply(FORBIDDEN);
    socket.join(JSON.stringify(["project", projectId]));
    reply(OK);
  });
});

const port = Number(process.argv[2] ?? 0);
http.listen({ host: "127.0.0.1", port, backlog: 1024 }, () => {
  const { address, port } = http.address();
  console.log(`listening ${address}:${port}`);
});

for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0));
