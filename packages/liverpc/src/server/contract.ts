/**
 * The TypeScript front-end's vocabulary: `socket({ toClient, fromClient, rooms })`,
 * `room.private`, `room.expose`, `handler`, `event`. Each returns a plain description:
 * `createEngine` reads the contracts' names from it for the addon, answers the addon's
 * requests with its functions, and binds each contract to its namespace (so `chat.to(key)`
 * can emit). `socket()` also returns the page's client factory, so
 * `import { chat } from './chat.socket'` is typed by inference in the page.
 */

import type { ClientFactory, ClientOptions, Position } from '../client/types.js';
import { LiverpcError } from '../error.js';
import { defineClient } from '../client/define.js';
import type { Input, Output, StandardSchemaV1 } from './schema.js';

declare global {
  /** Declare your app's types here, as SvelteKit's `App` namespace. */
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Liverpc {
    /**
     * What `src/hooks.socket.ts` returns for a connection, as room functions and handlers
     * read it (`declare global { namespace Liverpc { interface Locals { user: User } } }`).
     */
    interface Locals {}
    /**
     * The params of every route that has a contract, by route id, as SvelteKit's `$types` type
     * them. Written by liverpc (`.svelte-kit/liverpc/routes.d.ts`, see `socketTypes` in
     * `liverpc/vite`), not by hand.
     */
    interface Routes {}
  }
}

/** The connection's locals, as declared by the app in `Liverpc.Locals`. */
export type Locals = Liverpc.Locals;
/** A value, or a promise of it: every user function may be sync or async. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * A `[x=matcher]` param: the type the matcher's `match` guards (`param is 'a' | 'b'`), else
 * `string`, as SvelteKit types it.
 */
export type MatcherParam<M> = M extends (param: string) => param is (infer U extends string) ? U : string;

type KeysOf<U> = U extends unknown ? keyof U : never;
type OptionalKeysOf<U> = U extends unknown ? { [K in keyof U]-?: {} extends Pick<U, K> ? K : never }[keyof U] : never;
type ValueOf<U, K extends PropertyKey> = U extends unknown ? (K extends keyof U ? Exclude<U[K], undefined> : never) : never;
type Expand<T> = T extends infer O ? { [K in keyof O]: O[K] } : never;
/**
 * Several routes' params as one object: every name of any of them, optional where one has it
 * optional. (Not optional where a route lacks it: see `Params`.)
 */
type MergedParams<U> = Expand<
  { readonly [K in Exclude<KeysOf<U>, OptionalKeysOf<U>>]: ValueOf<U, K> } & {
    readonly [K in OptionalKeysOf<U>]?: ValueOf<U, K>;
  }
>;

/**
 * The params matched from the page's URL (`/rooms/[roomId]` -> `{ roomId: string }`), typed as
 * SvelteKit types them: `[[lang]]` is `string | undefined`, `[...path]` a `string`, `[id=m]`
 * what `m`'s `match` guards. A `socket({...})` does not say its route (TypeScript cannot tell
 * which file a call is in), so this is the params of every route with a contract: exactly the
 * route's when one route has contracts; with several, a name only another contract's route
 * has type-checks and is `undefined` at run time. Until liverpc wrote `Liverpc.Routes`
 * (`vite dev`, `vite build`, `svelte-kit sync`), any name is a `string`.
 */
export type Params = [keyof Liverpc.Routes] extends [never]
  ? Readonly<Record<string, string>>
  : MergedParams<Liverpc.Routes[keyof Liverpc.Routes]>;
/** A room key: a tuple of strings (`['chat', 'general']`), the Socket.IO group. */
export type RoomKey = readonly [string, ...string[]];

/** A server -> page event declared by type only: `toClient: { message: event<Message>() }`. */
export interface EventType<T> {
  readonly '~liverpc': 'event';
  /** Never set: carries the payload type. */
  readonly type?: T;
}

/**
 * Declares a `toClient` event by its payload type, when you do not want a schema.
 *
 * @example
 * toClient: { message: event<{ from: string; text: string }>() }
 */
export function event<T>(): EventType<T> {
  return { '~liverpc': 'event' };
}

/** The `toClient` section: event name -> a schema of the payload, or `event<T>()`. */
export type ToClientDef = { readonly [event: string]: StandardSchemaV1 | EventType<unknown> };
/** Payload types of a `toClient` section. */
export type Events<T extends ToClientDef> = {
  [K in keyof T]: T[K] extends StandardSchemaV1 ? Output<T[K]> : T[K] extends EventType<infer P> ? P : never;
};

/** What a room function receives. */
export interface RoomArgs {
  /** The params matched from the page's URL. */
  readonly params: Params;
  /** What `hooks.socket.ts` returned for this connection. */
  readonly locals: Locals;
  /**
   * Aborted when the engine gives up on this run: past the handler timeout (the page was
   * answered `timeout`; `signal.reason.code === 'timeout'`) or when the socket closes
   * (`'disconnected'`). Pass it to what can stop (`fetch`, a database query) or check it before
   * committing: the socket's next call starts only once this one has settled.
   */
  readonly signal: AbortSignal;
}

/**
 * How much of a room's stream is kept: its last `size` messages (default 100, at most
 * 10000), each for `ttlMs` milliseconds (default 600000, ten minutes). A room with history
 * gives its messages positions; a page that reconnects gets what it missed, in order, before
 * anything live; server code reads it (`chat.history(key, { limit })`). The room's keys must
 * start with its name (`['chat', id]` for room `chat`): a key's stream is its first part's.
 */
export interface History {
  readonly size?: number;
  readonly ttlMs?: number;
}

/** What a presence function receives: the member's locals (never anything its page sends). */
export interface PresenceArgs {
  /** What `hooks.socket.ts` returned for the member's connection. */
  readonly locals: Locals;
}

/**
 * What each member of a room shows the others (`room.presence.<room>` on the page), derived
 * from its locals when it connects; `null` or `undefined`: the member is not listed.
 */
export type Presence<M> = (args: PresenceArgs) => M | null | undefined;

/** The options every room takes. */
export interface RoomOptions<M> {
  /** The room lists its members to each other, each showing what this returns. */
  readonly presence?: Presence<M>;
  /** The room keeps its last messages (see `History`). */
  readonly history?: History;
}

/** A private room: the server computes the key; the page joins by name only. */
export interface PrivateRoom<M = never> {
  readonly kind: 'private';
  readonly autoJoin: boolean;
  readonly decide: (args: RoomArgs) => MaybePromise<RoomKey | false>;
  readonly presence: Presence<M> | undefined;
  readonly history?: History | undefined;
}

/** An exposed room: the page sends a payload (validated by `schema`), the server decides. */
export interface ExposedRoom<S extends StandardSchemaV1 = StandardSchemaV1, M = never> {
  readonly kind: 'expose';
  readonly schema: S;
  readonly decide: (args: RoomArgs & { readonly data: Output<S> }) => MaybePromise<RoomKey | false>;
  readonly presence: Presence<M> | undefined;
  readonly history?: History | undefined;
}

/** Any room definition. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type RoomDef = PrivateRoom<any> | ExposedRoom<any, any>;
/** The `rooms` section. */
export type RoomsDef = { readonly [room: string]: RoomDef };

/** The rooms as the page joins them: `null` for a private room, the payload for an exposed one. */
export type RoomPayloads<R extends RoomsDef> = {
  [K in keyof R]: R[K] extends ExposedRoom<infer S, infer _> ? Input<S> : null;
};

/** What a member shows in a room declared with `presence` (`never`: the room has none). */
type MemberOf<D> = D extends { readonly presence: Presence<infer M> | undefined } ? M : never;
/** The rooms that list their members, and what each member shows. */
export type PresenceOf<R extends RoomsDef> = {
  [K in keyof R as [MemberOf<R[K]>] extends [never] ? never : K]: MemberOf<R[K]>;
};

/** The `room.private` and `room.expose` declarations. */
export const room = {
  /**
   * A private room: `decide` computes its key from the URL's params or the locals (return
   * `false`, or throw, to refuse). With `autoJoin`, every connected page joins it at once.
   *
   * With `history`, the room keeps its last messages (see `History`).
   *
   * @example
   * chat: room.private(({ params }) => ['chat', params.roomId], { autoJoin: true, history: { size: 100 } })
   */
  private<M = never>(
    decide: (args: RoomArgs) => MaybePromise<RoomKey | false>,
    options?: RoomOptions<M> & { readonly autoJoin?: boolean },
  ): PrivateRoom<NoInfer<M>> {
    return { kind: 'private', autoJoin: options?.autoJoin ?? false, decide, presence: options?.presence, history: options?.history };
  },
  /**
   * An exposed room: the page asks with a payload (`room.join.project({ projectId })`),
   * validated by `schema`; `decide` authorizes it: a key joins, `false` (or a throw) refuses
   * with exactly `forbidden`. With `history`, the room keeps its last messages (see `History`).
   *
   * @example
   * project: room.expose(v.object({ projectId: v.string() }), ({ data, locals }) =>
   *   locals.user.projectIds.includes(data.projectId) ? ['project', data.projectId] : false)
   */
  expose<S extends StandardSchemaV1, M = never>(
    schema: S,
    decide: (args: RoomArgs & { readonly data: Output<S> }) => MaybePromise<RoomKey | false>,
    options?: RoomOptions<M>,
  ): ExposedRoom<S, NoInfer<M>> {
    return { kind: 'expose', schema, decide, presence: options?.presence, history: options?.history };
  },
};

/** Where a handler's emit goes: every member of the room, or every member but this socket. */
export interface Emitter<E> {
  /** Sends `event` with `payload`. */
  emit<K extends keyof E & string>(event: K, payload: E[K]): void;
}

/**
 * What an emit from a handler declared in `fromClient: { ... }` is told: there, a handler
 * cannot know the contract it is in (TypeScript types `handler(...)` before the `socket({...})`
 * around it), so its rooms and events are unknown.
 */
export type EmitsNeedTheContract = 'to emit, write fromClient: (handler) => ({ ... }): that handler knows the rooms and events';

/** A room a handler may emit to: its name (the key this socket holds under it) or a key. */
export type EmitTarget<R> = [R] extends [never] ? EmitsNeedTheContract : (keyof R & string) | RoomKey;
/** An emitter typed by the contract's `toClient`. */
export type EmitterOf<T> = [T] extends [never]
  ? Emitter<{ [K in EmitsNeedTheContract]: never }>
  : Emitter<T extends ToClientDef ? Events<T> : never>;

/**
 * What a handler receives. `T` and `R` are its contract's `toClient` and `rooms` (`never` for a
 * handler made outside `fromClient: (handler) => ...`, which therefore cannot emit).
 */
export interface HandlerArgs<D, T = never, R = never> extends RoomArgs {
  /** The validated payload. */
  readonly data: D;
  /** This socket's id: unique, not a credential. */
  readonly id: string;
  /**
   * The members of a room this socket is in (by room name or key), this socket included.
   * Emits are sent in order when the handler returns, before its reply.
   */
  within(room: EmitTarget<R>): EmitterOf<T>;
  /** The same, but not to this socket. */
  to(room: EmitTarget<R>): EmitterOf<T>;
  /** This socket only. */
  readonly self: EmitterOf<T>;
}

/** A page -> server handler: payload schema (or none) and the function. */
export interface Handler<P = unknown, R = unknown> {
  readonly kind: 'handler';
  readonly schema: StandardSchemaV1 | undefined;
  readonly run: (args: never) => MaybePromise<R>;
  /** Never set: carries the page's payload type. */
  readonly payload?: P;
}

/** `handler(...)`, typed by a contract's `toClient` (`T`) and `rooms` (`R`). */
export interface HandlerFunction<T = never, R = never> {
  /**
   * A page -> server handler. The page's payload is validated by `schema` (issues answer
   * `invalid_payload`); the return value is the reply. Throw `new LiverpcError('forbidden', ...)`
   * to refuse with a code; anything else thrown answers `internal` (logged, without the payload).
   *
   * @example
   * fromClient: (handler) => ({
   *   send: handler(v.object({ text: v.string() }), ({ data, locals, within }) => {
   *     within('chat').emit('message', { from: locals.user.name, text: data.text });
   *     return { delivered: true };
   *   }),
   * })
   */
  <S extends StandardSchemaV1, Out>(
    schema: S,
    run: (args: HandlerArgs<Output<S>, T, R>) => MaybePromise<Out>,
  ): Handler<Input<S>, Awaited<Out>>;
  /**
   * A handler without a payload: the page calls it with no argument.
   *
   * @example
   * whoami: handler(({ locals }) => locals.user?.name ?? null)
   */
  <Out>(run: (args: HandlerArgs<null, T, R>) => MaybePromise<Out>): Handler<null, Awaited<Out>>;
}

/**
 * A handler outside a contract (`fromClient: { whoami: handler(...) }`): it may read and reply,
 * not emit. The `handler` that `fromClient: (handler) => ({ ... })` receives is the same
 * function, typed by the contract, and emits.
 */
export const handler = ((first: StandardSchemaV1 | ((args: never) => unknown), second?: (args: never) => unknown): Handler => {
  if (typeof first === 'function') return { kind: 'handler', schema: undefined, run: first };
  if (second === undefined) throw new TypeError('liverpc: handler(schema, fn) needs a function');
  return { kind: 'handler', schema: first, run: second };
}) as HandlerFunction;

/** The `fromClient` section. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type FromClientDef = { readonly [name: string]: Handler<any, any> };
/** `[payload, reply]` per handler, as the page calls them. */
export type CallSignatures<F extends FromClientDef> = {
  [K in keyof F]: F[K] extends Handler<infer P, infer R> ? readonly [P, R] : never;
};

/**
 * What `socket({ ... })` takes. Every section may be left out. `fromClient` is a function of
 * `handler` (typed by `toClient` and `rooms`, so emits are checked) or, for handlers that do not
 * emit, the object itself.
 */
export interface SocketDef<T extends ToClientDef, F extends FromClientDef, R extends RoomsDef> {
  readonly toClient?: T;
  readonly fromClient?: F | ((handler: HandlerFunction<T, R>) => F);
  readonly rooms?: R;
}

/** A contract's definition as the engine reads it: `fromClient` made. */
export interface ContractDef<T extends ToClientDef, F extends FromClientDef, R extends RoomsDef> {
  readonly toClient?: T;
  readonly fromClient?: F;
  readonly rooms?: R;
}

/** The page's view of a contract: what its client is typed from. */
export interface ClientContract<T extends ToClientDef, F extends FromClientDef, R extends RoomsDef> {
  toClient: Events<T>;
  fromClient: CallSignatures<F>;
  rooms: RoomPayloads<R>;
  presence: PresenceOf<R>;
}

/** Where a contract is served: set by the `Engine` that serves it. */
export interface Binding {
  readonly route: string;
  readonly name: string;
  readonly namespace: string;
  emit(key: RoomKey, event: string, payload: unknown): number;
  history(key: RoomKey, limit: number): Promise<RoomHistory<Record<string, unknown>>>;
}

/** One message of a room's history: its event, payload and position. */
export type Recorded<E> = {
  [K in keyof E & string]: { readonly event: K; readonly payload: E[K]; readonly position: Position };
}[keyof E & string];

/**
 * A room's recent messages, oldest first, and the position after them: render the messages,
 * and hand `position` to the page's client (`chat({ since: history.position })`).
 */
export interface RoomHistory<E> {
  readonly messages: readonly Recorded<E>[];
  readonly position: Position;
}

/** The server side of a contract: its definition, and emits to its rooms from anywhere. */
export interface ServerSocket<T extends ToClientDef, F extends FromClientDef, R extends RoomsDef> {
  /** The definition, read by the `Engine`, and its binding once an engine serves it. */
  readonly '~liverpc': ContractDef<T, F, R> & { binding?: Binding };
  /**
   * Emits to every member of room `key`, from anywhere in the server (a form action, an
   * endpoint, a job). Returns how many sockets of this process it reached. Throws until the
   * contract is served by an engine (`createEngine`).
   *
   * @example
   * chat.to(['tenant', user.tenantId]).emit('notice', { text: 'maintenance at 5' });
   */
  to(key: RoomKey): { emit<K extends keyof Events<T> & string>(event: K, payload: Events<T>[K]): number };
  /**
   * The last `limit` messages (default: all the room keeps) of room `key`, whose room
   * declares `history`, with their positions, and the position after them: for a load
   * function to render, and to hand to the page's client (`chat({ since })`), whose live
   * messages then start exactly after, with no gap and no duplicate. Rejects for a key without
   * a stream, or until the contract is served.
   *
   * @example
   * // +page.server.ts
   * export const load = async ({ params }) => ({ history: await chat.history(['chat', params.roomId], { limit: 50 }) });
   * // +page.svelte
   * const room = chat({ since: data.history.position });
   */
  history(key: RoomKey, options?: { limit?: number }): Promise<RoomHistory<Events<T>>>;
}

/** What `socket()` returns: the page's client factory, and the server side. */
export type Socket<T extends ToClientDef, F extends FromClientDef, R extends RoomsDef> = ClientFactory<
  ClientContract<T, F, R>
> &
  ServerSocket<T, F, R>;

/**
 * A route contract: what the server sends (`toClient`), the calls the page makes
 * (`fromClient`) and the rooms (`rooms`). Export it from `<route>/<name>.socket.ts`: the route
 * id comes from the folder, the contract name from the export name. In the browser the Vite
 * plugin replaces the module with a client built from the names; types come from here.
 *
 * @example
 * export const chat = socket({
 *   toClient: { message: v.object({ from: v.string(), text: v.string() }) },
 *   fromClient: (handler) => ({
 *     send: handler(v.object({ text: v.string() }), ({ data, within }) => { within('chat').emit('message', ...) }),
 *   }),
 *   rooms: { chat: room.private(({ params }) => ['chat', params.roomId], { autoJoin: true }) },
 * });
 */
export function socket<
  const T extends ToClientDef = {},
  const F extends FromClientDef = {},
  const R extends RoomsDef = {},
>(def: SocketDef<T, F, R>): Socket<T, F, R> {
  // `fromClient: (handler) => ({ ... })` is made once, here: its functions are types' business.
  const fromClient = typeof def.fromClient === 'function' ? def.fromClient(handler as HandlerFunction<T, R>) : def.fromClient;
  const state = { ...def, ...(fromClient === undefined ? {} : { fromClient }) } as ContractDef<T, F, R> & { binding?: Binding };
  // During server rendering `chat()` is inert: the core client opens nothing without a window.
  const factory = (options?: ClientOptions) => {
    const binding = state.binding;
    const descriptor = {
      namespace: binding?.namespace ?? '/',
      route: binding?.route ?? '/',
      toClient: Object.keys(def.toClient ?? {}),
      fromClient: Object.keys(fromClient ?? {}),
      rooms: Object.keys(def.rooms ?? {}),
      autoJoin: Object.entries(def.rooms ?? {})
        .filter(([, r]) => r.kind === 'private' && r.autoJoin)
        .map(([n]) => n),
      presence: Object.entries(def.rooms ?? {})
        .filter(([, r]) => r.presence !== undefined)
        .map(([n]) => n),
    };
    return defineClient<ClientContract<T, F, R>>(descriptor as never)(options);
  };
  const server: ServerSocket<T, F, R> = {
    '~liverpc': state,
    to: (key) => ({
      emit: (event, payload) => {
        if (state.binding === undefined) {
          throw new LiverpcError('unavailable', 'liverpc: this contract is not registered with the engine yet');
        }
        return state.binding.emit(key, event, payload);
      },
    }),
    history: (key, options) => {
      if (state.binding === undefined) {
        return Promise.reject(new LiverpcError('unavailable', 'liverpc: this contract is not registered with the engine yet'));
      }
      return state.binding.history(key, options?.limit ?? Number.MAX_SAFE_INTEGER) as Promise<RoomHistory<Events<T>>>;
    },
  };
  return Object.assign(factory, server) as Socket<T, F, R>;
}
