/**
 * The types a generated module supplies (`Contract`, `Descriptor`) and the typed client they
 * produce (`Client`). Types only: nothing here exists at run time.
 */

import type { Member } from './presence.js';
import type { ConnectionState } from './state.js';
import type { ReadableState, Unsubscribe } from './store.js';

/**
 * One route contract, as the generated module declares it (the type parameter of `defineClient`):
 * - `toClient`: event name -> payload type;
 * - `fromClient`: handler name -> `[payload type, reply type]` (`null` payload: no argument);
 * - `rooms`: room name -> join payload type (`null`: a private room, joined by name only);
 * - `presence` (optional): room name -> what each member of that room shows the others.
 */
export interface Contract {
  toClient: { [event: string]: unknown };
  fromClient: { [handler: string]: readonly [payload: unknown, reply: unknown] };
  rooms: { [room: string]: unknown };
  presence?: { [room: string]: unknown };
}

/** The names the runtime needs at run time: the constants of a generated module. */
export interface Descriptor<C extends Contract> {
  /** Socket.IO namespace: the route id, `/`, the contract name (`/rooms/[roomId]/chat`). */
  namespace: string;
  /** SvelteKit route id the contract belongs to (`/rooms/[roomId]`), for messages. */
  route: string;
  /** Every `toClient` event name. */
  toClient: readonly (keyof C['toClient'] & string)[];
  /** Every `fromClient` handler name. */
  fromClient: readonly (keyof C['fromClient'] & string)[];
  /** Every room name. */
  rooms: readonly (keyof C['rooms'] & string)[];
  /** Rooms the server joins on connect (reported by `liverpc:room`). */
  autoJoin: readonly (keyof C['rooms'] & string)[];
  /** Rooms that list their members (presence). */
  presence?: readonly (keyof NonNullable<C['presence']> & string)[];
}

/**
 * Where a message sits in its room's stream (a room with history): the client remembers the
 * last one per room and sends it when it rejoins, so the server replays what it missed. A
 * server-rendered page hands the one of its history to the client (`chat({ since })`).
 */
export interface Position {
  /** The room's stream. */
  readonly stream: string;
  /** The stream's life: it changes when the stream was lost. */
  readonly epoch: string;
  /** 1, 2, 3 … per stream (0 before the first message). */
  readonly offset: number;
}

/**
 * A room with history the page rejoined but could not be given what it missed (trimmed,
 * expired, or the stream was lost): what it shows of that room may have a gap; refetch it.
 * `position` is where the room's live messages start.
 */
export type Missed<R extends Contract['rooms']> = {
  [K in keyof R & string]: {
    readonly room: K;
    readonly data: [R[K]] extends [null] ? undefined : R[K];
    readonly position: Position;
  };
}[keyof R & string];

/** A call: no argument when the payload type is `null`. */
export type Call<P, R> = [P] extends [null] ? () => Promise<R> : (payload: P) => Promise<R>;

/** A join or a leave: no argument for a private room (payload type `null`). */
export type RoomCall<D> = [D] extends [null] ? () => Promise<void> : (data: D) => Promise<void>;

/** `room.<handler>(payload)` for every `fromClient` handler. */
export type Calls<F extends Contract['fromClient']> = {
  readonly [K in keyof F & string]: Call<F[K][0], F[K][1]>;
};

/** `room.on.<event>(listener)` for every `toClient` event; each returns an unsubscribe. */
export type Listeners<E extends Contract['toClient']> = {
  readonly [K in keyof E & string]: (listener: (payload: E[K]) => void) => Unsubscribe;
};

/** `room.presence.<room>` for every room that lists its members: a store of the members. */
export type PresenceStores<P> = {
  readonly [K in keyof P & string]: ReadableState<readonly Member<P[K]>[]>;
};

/** `room.join.<room>(data?)` / `room.leave.<room>(data?)` for every room. */
export type RoomCalls<R extends Contract['rooms']> = {
  readonly [K in keyof R & string]: RoomCall<R[K]>;
};

/** The members every client has besides its handlers. */
export interface ClientBase<C extends Contract> {
  /**
   * Listens to a server event; the listener survives reconnects and navigations.
   *
   * @example
   * const off = room.on.message((m) => messages.push(m));
   * off();
   */
  readonly on: Listeners<C['toClient']>;
  /**
   * Asks the server to join a room. Resolves once joined; rejects with a final refusal
   * (`forbidden`), with `cancelled` when a leave of the same room and payload came first, or,
   * after the timeout, with the last transient refusal (`rate_limited`, ...) while the runtime
   * goes on asking with backoff (the room's state says `retrying`). Joined rooms are asked for
   * again after every reconnect and navigation.
   *
   * @example
   * await room.join.project({ projectId: 'apollo' });
   * await room.join.tenant();
   */
  readonly join: RoomCalls<C['rooms']>;
  /**
   * Leaves a room joined with the same payload, cancelling a join of it still pending: the
   * page's last word wins, across reconnects too. Leaving twice is not an error.
   *
   * @example
   * await room.leave.project({ projectId: 'apollo' });
   */
  readonly leave: RoomCalls<C['rooms']>;
  /**
   * The connection and its rooms: a Svelte store (`$room.state`), and `current`, the value
   * now (reactive in a Svelte 5 component with `liverpc/sveltekit`). A private room is one
   * `RoomState`; an exposed room is the list of the payloads the page asked for, each with its
   * own status.
   *
   * @example
   * room.state.subscribe((s) => console.log(s.status, s.rooms.chat?.status));
   * const apollo = room.state.current.rooms.project?.find((p) => p.data.projectId === 'apollo');
   */
  readonly state: ReadableState<ConnectionState<C['rooms']>>;
  /**
   * Who is in a room that lists its members: a store (and `current`) of `{ id, data, self }`,
   * `data` being what the server derives from each member's session (never what a page
   * sends). Empty while the room is not joined; live with every join and leave, on every node.
   *
   * @example
   * room.presence.chat.subscribe((members) => console.log(members.map((m) => m.data.name)));
   */
  readonly presence: PresenceStores<NonNullable<C['presence']>>;
  /**
   * Listens for rooms with history that could not be recovered after a reconnect: past the
   * window (trimmed or expired) or with the stream lost. The room's state says
   * `recovered: false` too. Refetch what the page shows of that room (a SvelteKit
   * `invalidateAll()`). Returns an unsubscribe.
   *
   * @example
   * room.missed(({ room }) => { if (room === 'chat') void invalidateAll(); });
   */
  missed(listener: (gap: Missed<C['rooms']>) => void): Unsubscribe;
  /**
   * Tells the client the page already shows a room's messages up to `position` (from
   * server-rendered history, `chat.history(...)` in a load function): its next join of that
   * room starts exactly after it, with no gap and no duplicate. `chat({ since })` does the
   * same when the client is made; call this when new history is loaded for a page that stays.
   *
   * @example
   * $effect(() => room.since(data.history.position));
   */
  since(position: Position | readonly Position[]): void;
  /**
   * Follows the page to a new URL path: re-handshakes with it (new params, new auto-joined
   * rooms), then asks again for the rooms joined explicitly. Listeners stay. Resolves once
   * connected and rejoined; rejects with the refusal when the server refuses the new path.
   * A no-op when the path is unchanged. Other clients sharing this one's connection stay on
   * the old path.
   *
   * @example
   * await room.navigate('/rooms/random');
   */
  navigate(path: string): Promise<void>;
  /**
   * Stops listening and, when no other client of this contract remains on the page,
   * disconnects. Pending calls reject with `closed`. Calling it twice is harmless.
   *
   * @example
   * onDestroy(() => room.close());
   */
  close(): void;
}

/** What `chat()` returns: the contract's handlers as methods, plus `ClientBase`. */
export type Client<C extends Contract> = Calls<C['fromClient']> & ClientBase<C>;

/** Where and how a client connects. */
export interface ClientOptions {
  /** The URL path the contract is bound to. Default: `location.pathname`. */
  path?: string;
  /** The server's origin (`http://localhost:3000`). Default: `location.origin`. */
  url?: string;
  /**
   * The server's Socket.IO endpoint path (the engine's `endpoint`). Default: `/socket.io/`;
   * from `liverpc/sveltekit`, `${paths.base}/socket.io/`.
   */
  endpoint?: string;
  /**
   * Headers of the handshake request, e.g. `{ cookie: 'session=alice' }`. Node only: browsers
   * cannot set headers on a websocket (they send the page's cookies themselves).
   */
  extraHeaders?: Record<string, string>;
  /** Milliseconds a call, join or leave may wait for its answer (default 10000). */
  timeout?: number;
  /**
   * Where the page's server-rendered history of its rooms ends (`history.position` of
   * `chat.history(...)` in a load function): the rooms' live messages start exactly after.
   */
  since?: Position | readonly Position[];
}

/** What a generated module exports: call it to get a client bound to the page. */
export type ClientFactory<C extends Contract> = (options?: ClientOptions) => Client<C>;
