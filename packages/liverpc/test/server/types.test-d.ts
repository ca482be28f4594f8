// Type tests of liverpc/server (tsc --noEmit): the tutorial's page code type-checks against
// the contract's inferred client; every @ts-expect-error line must be an error.

import * as v from 'valibot';
import { event, handler, room, socket } from 'liverpc/server';

import { chat } from './app/src/routes/rooms/[roomId]/chat.socket.js';

// The tutorial's +page.svelte script, verbatim.
const room_ = chat();
async function openProject(projectId: string) {
  // Typed from the room.expose schema in chat.socket.ts.
  await room_.join.project({ projectId });
}
void openProject;

// Handlers: payload and reply typed from the schema and the function.
const sent: Promise<{ delivered: boolean }> = room_.send({ text: 'hi' });
void sent;
room_.on.message((m) => {
  const from: string = m.from;
  void from;
});
void room_.join.chat();
void room_.join.tenant();

// @ts-expect-error a wrong payload
void room_.send({ text: 1 });
// @ts-expect-error a wrong join payload
void room_.join.project({ project: 'apollo' });
// @ts-expect-error a payload on a private room
void room_.join.tenant({ tenantId: 'acme' });
// @ts-expect-error an unknown event
room_.on.notice(() => {});
// @ts-expect-error an unknown room
void room_.join.admin();
// @ts-expect-error an unknown handler
void room_.delete({});

// Emits from anywhere are typed by toClient.
chat.to(['chat', 'general']).emit('message', { room: 'general', from: 'bot', text: 'hi' });
// @ts-expect-error a wrong event payload
chat.to(['chat', 'general']).emit('message', { text: 1 });
// @ts-expect-error an undeclared event
chat.to(['chat', 'general']).emit('notice', {});
// @ts-expect-error a room key is a tuple of strings
chat.to([]).emit('message', { room: '', from: '', text: '' });

// Handlers' emits: rooms from `rooms`, events and payloads from `toClient`, as in Rust.
socket({
  toClient: { message: v.object({ text: v.string() }), tick: event<number>() },
  fromClient: (handler) => ({
    send: handler(v.object({ text: v.string() }), ({ data, within, to, self }) => {
      within('lobby').emit('message', { text: data.text });
      to('lobby').emit('tick', 1);
      within(['lobby']).emit('message', { text: data.text });
      self.emit('tick', 2);
      // @ts-expect-error an undeclared room
      within('lobbby').emit('message', { text: data.text });
      // @ts-expect-error an undeclared event
      within('lobby').emit('notice', { text: data.text });
      // @ts-expect-error a wrong payload
      to('lobby').emit('message', { text: 1 });
      // @ts-expect-error a wrong payload to this socket
      self.emit('tick', '2');
      // @ts-expect-error a room key is a tuple of strings
      within([]).emit('tick', 1);
      return null;
    }),
    ping: handler(({ within }) => {
      // @ts-expect-error an undeclared room, in a handler without a payload
      within('nowhere').emit('tick', 1);
      return 'pong';
    }),
  }),
  rooms: { lobby: room.private(() => ['lobby'], { autoJoin: true }) },
});
// A handler made in the object form does not know the contract: an emit there fails, and the
// message says what to write.
socket({
  toClient: { tick: event<number>() },
  fromClient: {
    // @ts-expect-error emits need fromClient: (handler) => ({ ... })
    tick: handler(({ within }) => within('lobby').emit('tick', 1)),
  },
  rooms: { lobby: room.private(() => ['lobby']) },
});

// Presence: the rooms that declare it, typed by what each member shows.
const present = socket({
  rooms: {
    lobby: room.private(() => ['lobby'], { autoJoin: true, presence: ({ locals }) => ({ name: locals.user.name }) }),
    project: room.expose(v.object({ id: v.string() }), ({ data }) => ['project', data.id], { presence: ({ locals }) => locals.user.tenantId }),
    quiet: room.private(() => ['quiet']),
  },
})();
present.presence.lobby.subscribe((members) => members.map((m) => m.data.name.toUpperCase()));
const tenants: readonly string[] = present.presence.project.current.map((m) => m.data);
void tenants;
// @ts-expect-error a room without presence lists nobody
void present.presence.quiet;
room.private(() => ['x'], {
  // @ts-expect-error presence reads locals, not params (the page chooses params)
  presence: ({ params }) => params,
});
// History from server code: messages typed by toClient, with positions; a client starts after it.
async function render() {
  const history = await chat.history(['chat', 'general'], { limit: 50 });
  for (const m of history.messages) {
    if (m.event === 'message') {
      const text: string = m.payload.text;
      void text;
    }
    const offset: number = m.position.offset;
    void offset;
  }
  chat({ since: history.position }).close();
  // @ts-expect-error a history limit is a number
  await chat.history(['chat', 'general'], { limit: '50' });
}
void render;
const kept = socket({
  toClient: { message: event<{ text: string }>() },
  rooms: {
    chat: room.private(({ params }) => ['chat', params.roomId], { autoJoin: true, history: { size: 100, ttlMs: 60_000 } }),
    project: room.expose(v.object({ projectId: v.string() }), ({ data }) => ['project', data.projectId], { history: {} }),
    // @ts-expect-error history is { size, ttlMs }
    bad: room.private(() => ['bad'], { history: { length: 3 } }),
  },
});
void kept;

// Room functions: sync or async, a key or false; locals typed from Liverpc.Locals.
const other = socket({
  toClient: { tick: event<{ n: number }>() },
  fromClient: { whoami: handler(({ locals }) => locals.user.name) },
  rooms: {
    a: room.private(async ({ locals }) => ['tenant', locals.user.tenantId]),
    b: room.expose(v.object({ id: v.number() }), async ({ data }) => (data.id > 0 ? ['b', String(data.id)] : false)),
    // @ts-expect-error a key is strings, not numbers
    c: room.private(() => ['c', 1]),
    // @ts-expect-error locals has no such field
    d: room.private(({ locals }) => ['d', locals.tenant]),
  },
});
const o = other();
const name: Promise<string> = o.whoami();
void name;
o.on.tick((t) => void (t.n + 1));
void o.join.b({ id: 1 });
// @ts-expect-error the schema's input type
void o.join.b({ id: '1' });
// @ts-expect-error whoami takes no payload
void o.whoami({});
