// Type tests: compiled by `tsc --noEmit` (npm run test:types), never run. Every
// `@ts-expect-error` line must fail to compile, or the build fails ("unused directive").
import type { ConnectionState, ExposedRoomState, LiverpcError, Member, ReadableState, RoomState, Unsubscribe } from 'liverpc';

import { type Message, type Sent, chat } from './fixture/core/rooms/[roomId]/chat.socket.js';
import { stale } from './fixture/stale.socket.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T>(_value: T): void {}
function assert<T extends true>(): void {}

export async function positive(): Promise<void> {
  const room = chat({ url: 'http://127.0.0.1:1', path: '/rooms/general' });

  const off: Unsubscribe = room.on.message((m) => {
    assert<Equal<typeof m, Message>>();
    expectType<string>(m.text);
  });
  off();
  room.on.notice((n) => expectType<string>(n.text));

  const sent = await room.send({ text: 'hi' });
  assert<Equal<typeof sent, Sent>>();
  expectType<number>(sent.delivered);
  const me = await room.whoami();
  assert<Equal<typeof me, string | null>>();
  const nothing = await room.boom();
  assert<Equal<typeof nothing, null>>();
  await room.post({ room: 'tenant', text: 'hello' });

  await room.join.project({ projectId: 'apollo' });
  await room.join.tenant();
  await room.join.chat();
  await room.leave.project({ projectId: 'apollo' });
  await room.leave.tenant();
  const joined: Promise<void> = room.join.tenant();
  await joined;

  const state: ReadableState<ConnectionState<{ chat: null; tenant: null; project: { projectId: string } }>> =
    room.state;
  state.subscribe((s) => {
    expectType<'connecting' | 'connected' | 'reconnecting' | 'refused' | 'closed'>(s.status);
    // An exposed room: one entry per payload, each with its own status and its typed payload.
    const projects: readonly ExposedRoomState<{ projectId: string }>[] | undefined = s.rooms.project;
    const apollo = projects?.find((p) => p.data.projectId === 'apollo');
    expectType<string | undefined>(apollo?.data.projectId);
    expectType<'joining' | 'joined' | 'retrying' | 'denied' | undefined>(apollo?.status);
    // A private room: one state, no payload.
    const tenant: RoomState | undefined = s.rooms.tenant;
    expectType<LiverpcError | undefined>(tenant?.error);
    if (s.error !== undefined) {
      expectType<'forbidden_origin' | 'unauthenticated' | 'forbidden' | 'not_found' | 'unavailable' | 'internal'>(
        s.error,
      );
    }
  });
  // The value now, without subscribing (reactive in Svelte 5 with `liverpc/sveltekit`).
  const now = room.state.current;
  assert<Equal<typeof now, ConnectionState<{ chat: null; tenant: null; team: null; feed: null; project: { projectId: string } }>>>();
  // Presence: the members of a room that lists them, typed by what the server shows.
  const team = room.presence.team.current;
  assert<Equal<typeof team, readonly Member<{ name: string }>[]>>();
  expectType<boolean | undefined>(team[0]?.self);
  // @ts-expect-error the chat room does not list its members
  void room.presence.chat;
  expectType<'joining' | 'joined' | 'retrying' | 'denied' | undefined>(now.rooms.chat?.status);
  expectType<number | undefined>(now.rooms.project?.length);
  // Room streams: whether a rejoin recovered what was missed, and the event when it could not.
  expectType<boolean | undefined>(now.rooms.feed?.recovered);
  const stopMissed = room.missed((gap) => {
    expectType<'chat' | 'tenant' | 'team' | 'feed' | 'project'>(gap.room);
    if (gap.room === 'project') expectType<{ projectId: string }>(gap.data);
    if (gap.room === 'feed') expectType<undefined>(gap.data);
    expectType<number>(gap.position.offset);
  });
  stopMissed();
  room.since({ stream: 's', epoch: 'e', offset: 3 });
  // @ts-expect-error a position has a stream, an epoch and an offset
  room.since({ offset: 3 });
  await room.navigate('/rooms/random');
  room.close();
}

export async function negative(): Promise<void> {
  const room = chat({ url: 'http://127.0.0.1:1', path: '/rooms/general' });

  // @ts-expect-error an event the contract does not declare
  room.on.nope(() => {});
  // @ts-expect-error `send` is a call, not an event
  room.on.send(() => {});
  // @ts-expect-error the listener's payload is a Message, not a number
  room.on.message((m: number) => m);

  // @ts-expect-error wrong payload field type
  await room.send({ text: 5 });
  // @ts-expect-error missing field
  await room.send({});
  // @ts-expect-error extra field
  await room.send({ text: 'hi', extra: true });
  // @ts-expect-error a payload is required
  await room.send();
  // @ts-expect-error `whoami` takes no payload
  await room.whoami({ who: 'me' });
  // @ts-expect-error a handler the contract does not declare
  await room.shout({ text: 'hi' });
  // @ts-expect-error the reply is Sent, not a string
  const reply: string = await room.send({ text: 'hi' });
  void reply;

  // @ts-expect-error unknown room
  await room.join.nope();
  // @ts-expect-error a private room is joined by name only
  await room.join.tenant({ x: 1 });
  // @ts-expect-error an exposed room needs its payload
  await room.join.project();
  // @ts-expect-error wrong payload for an exposed room
  await room.join.project({ projectId: 1 });
  // @ts-expect-error a private room is left by name only
  await room.leave.tenant({ x: 1 });
  // @ts-expect-error unknown room
  await room.leave.nope();

  // @ts-expect-error `current` is read-only
  room.state.current = { status: 'closed', rooms: {} };
  // @ts-expect-error a private room is one state, not a list
  void room.state.current.rooms.tenant?.[0];
  // @ts-expect-error a private room's state has no payload
  void room.state.current.rooms.tenant?.data;
  // @ts-expect-error an exposed room is a list of payload states
  void room.state.current.rooms.project?.status;
  // @ts-expect-error the payload is typed
  void room.state.current.rooms.project?.[0]?.data.nope;
  room.state.subscribe((s) => {
    // @ts-expect-error no such room in the state
    void s.rooms.nope;
    // @ts-expect-error not a connection status
    const status: 'online' = s.status;
    void status;
  });

  // @ts-expect-error the client is read-only
  room.send = async () => ({ delivered: 0 });
}

export function emptySections(): void {
  // A contract with nothing in a section: the generator writes `{}` (not `Record<string, never>`,
  // whose `string` keys would let any name through).
  const quiet = stale({ url: 'http://127.0.0.1:1', path: '/rooms/general' });
  // @ts-expect-error no events at all
  quiet.on.message(() => {});
  void quiet.gone();
  void quiet.join.archive();
  quiet.close();
}
