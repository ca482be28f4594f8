/**
 * One contract's Socket.IO namespace, bound to one URL path: the handshake (with that path),
 * calls and their ack envelope, the rooms the page wants and their (re)joins, and the state
 * store. Clients of the same contract and path share it (and its rooms); the last one to close
 * disconnects. A client on another path gets its own connection (on its own Engine.IO
 * connection, see manager.ts), so the two never hear each other's rooms.
 */

import type { Socket as IoSocket } from 'socket.io-client';

import type { AnyMissed, Channel, Navigation } from './channel.js';
import { type Answer, Outbox } from './outbox.js';
import { LiverpcError, TRANSIENT, fromWire, refusalCode } from '../error.js';
import { type Intent, Joined, type Waiter } from './joined.js';
import { type Lease, leaseManager } from './manager.js';
import { type AnyState, type ExposedRoomState, type RoomState, joining, roomOf, withRoom } from './state.js';
import { Store, type Unsubscribe } from './store.js';
import type { Position } from './types.js';
import { EVENTS } from '../wire.js';

/** A contract's namespace as a connection uses it: its name, route (for messages) and auto-joins. */
export interface ContractNamespace {
  namespace: string;
  route: string;
  autoJoin: readonly string[];
}

/** The server a connection dials, its Socket.IO endpoint path, and the handshake's headers (Node only). */
export interface ServerTarget {
  url: string;
  endpoint: string;
  extraHeaders?: Record<string, string> | undefined;
}

/** The longest wait before asking again (a dropped page, an unavailable server, a room), in ms. */
const MAX_BACKOFF = 30_000;
/** A connection that lasted this long (ms) resets the backoff of server-side disconnects. */
const KICKS_FORGOTTEN_AFTER = 60_000;

/**
 * Room streams whose last position a connection remembers (the server reads as many, the
 * most recent, as its `maxRooms`, 32 by default): rooms visited long ago are forgotten.
 */
const MAX_POSITIONS = 32;

/** The open connections of the page. */
const open = new Set<Connection>();

/**
 * The connection of a contract on `path`, shared with the clients already on that path, or
 * opened for it.
 *
 * @example
 * const channel = connectionFor({ url }, { namespace, route, autoJoin }, '/rooms/general', 10_000);
 */
export function connectionFor(
  server: ServerTarget,
  contract: ContractNamespace,
  path: string,
  timeout: number,
): Connection {
  for (const connection of open) {
    if (connection.serves(server, contract.namespace, path)) {
      connection.acquire();
      return connection;
    }
  }
  const connection = new Connection(server, contract, path, timeout);
  open.add(connection);
  connection.acquire();
  return connection;
}

/** See the module documentation. */
export class Connection implements Channel {
  readonly #state: Store<AnyState>;
  readonly #server: ServerTarget;
  readonly #lease: Lease;
  readonly #socket: IoSocket;
  readonly #contract: ContractNamespace;
  readonly #joined = new Joined();
  readonly #outbox: Outbox;
  /** Milliseconds each (re)join may take. */
  readonly #timeout: number;
  /** Who waits for the next completed handshake (`navigate`). */
  #waiters: Waiter[] = [];
  #users = 0;
  #path: string;
  /** The path of the handshake under way or done. */
  #sentPath: string | undefined;
  /** Bumped by every connect, drop, refusal, navigation and close: stale results are ignored. */
  #epoch = 0;
  /** Disconnects the server asked for in a row (backoff), and when the last connect happened. */
  #kicks = 0;
  #connectedAt = 0;
  /** Handshakes refused `unavailable` in a row (backoff). */
  #unavailable = 0;
  /** The last position seen of each room stream (rooms with history), by stream. */
  readonly #positions = new Map<string, Position>();
  /** Positions of messages already delivered (a replay overlapping what came live): skipped. */
  readonly #stale = new WeakSet<object>();
  readonly #missed = new Set<(gap: AnyMissed) => void>();

  /**
   * Opens the namespace at once; use {@link connectionFor} to share it.
   *
   * @example
   * new Connection({ url: 'http://localhost:3000' }, contract, '/rooms/general', 10_000);
   */
  constructor(server: ServerTarget, contract: ContractNamespace, path: string, timeout: number) {
    this.#server = server;
    this.#contract = contract;
    this.#path = path;
    this.#state = new Store(joining('connecting', contract.autoJoin));
    this.#timeout = timeout;
    this.#lease = leaseManager(server.url, server.extraHeaders, contract.namespace, server.endpoint);
    this.#socket = this.#lease.manager.socket(contract.namespace);
    this.#outbox = new Outbox(this.#socket);
    this.#socket.auth = (send) => {
      this.#sentPath = this.#path;
      // The last positions: the server replays what the auto-joined rooms missed since.
      const since = [...this.#positions.values()];
      send(since.length === 0 ? { path: this.#path } : { path: this.#path, since });
    };
    // Any-listeners run before an event's listeners: the position is checked once per message.
    this.#socket.onAny((_event: string, _payload: unknown, at: unknown) => this.#track(at));
    this.#socket.on('connect', () => this.#onConnect());
    this.#socket.on('disconnect', (reason) => this.#onDisconnect(reason));
    this.#socket.on('connect_error', (error) => this.#onConnectError(error));
    this.#socket.on(EVENTS.room, (status: unknown) => this.#onRoomStatus(status));
    this.#socket.connect();
  }

  /**
   * The connection's state, a store.
   *
   * @example
   * connection.state.subscribe((s) => console.log(s.status));
   */
  get state(): Store<AnyState> {
    return this.#state;
  }

  /**
   * Whether a client of this contract on `path` shares this connection.
   *
   * @example
   * connection.serves({ url }, '/rooms/[roomId]/chat', '/rooms/general');
   */
  serves(server: ServerTarget, namespace: string, path: string): boolean {
    return (
      this.#users > 0 &&
      this.#contract.namespace === namespace &&
      this.#path === path &&
      this.#server.url === server.url &&
      this.#server.endpoint === server.endpoint &&
      sameHeaders(this.#server.extraHeaders, server.extraHeaders)
    );
  }

  /**
   * One more client uses this connection.
   *
   * @example
   * connection.acquire();
   */
  acquire(): void {
    this.#users += 1;
  }

  /**
   * One client fewer; the last one disconnects, rejects what is pending with `closed` and
   * releases its Engine.IO connection.
   *
   * @example
   * connection.release();
   */
  release(): void {
    this.#users -= 1;
    if (this.#users > 0) return;
    this.#epoch += 1;
    this.#state.set({ status: 'closed', rooms: {} });
    const closed = new LiverpcError('closed', 'liverpc: the client was closed');
    this.#fail(closed);
    for (const intent of this.#joined.clear()) settle(intent, closed);
    this.#socket.disconnect();
    this.#socket.removeAllListeners();
    this.#lease.release();
    open.delete(this);
  }

  /**
   * Sends a handler call and resolves with its reply.
   *
   * @example
   * await connection.call('send', { text: 'hi' }, 10_000); // { delivered: 1 }
   */
  async call(event: string, payload: unknown, timeout: number): Promise<unknown> {
    const answer = await this.#request(event, payload, timeout);
    if (!answer.ok) throw answer.error;
    return answer.data;
  }

  /**
   * Records that the page wants the room (replacing a pending leave or join of the same room
   * and payload) and asks for it now, or once connected. Resolves when joined; rejects with a
   * final refusal, or after `timeout` with the last transient one (`rate_limited`, ...) while
   * the runtime goes on asking, with backoff, until joined, refused for good, or left.
   *
   * @example
   * await connection.join('project', { projectId: 'apollo' }, 10_000);
   */
  join(room: string, data: unknown, timeout: number): Promise<void> {
    const refused = this.#refusal();
    if (refused !== undefined) return Promise.reject(refused);
    const intent = this.#joined.want(room, data);
    if (roomOf(this.#state.get(), room, data)?.status !== 'joined') this.#setRoom(room, data, { status: 'joining' });
    return new Promise<void>((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        reject(intent.error ?? new LiverpcError('timeout', `liverpc: no answer to joining \`${room}\` in time`));
      }, timeout);
      intent.waiters.push({
        resolve: () => {
          clearTimeout(timer);
          if (!done) resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          if (!done) reject(error);
        },
      });
      if (this.#socket.connected) void this.#ask(intent, this.#epoch);
    });
  }

  /**
   * Leaves a room joined with the same `data`; a join of it still pending is cancelled (its
   * promise rejects with `cancelled`) and never asked for again. Without a connection there is
   * nothing to leave on the server (it dropped every room with the connection).
   *
   * @example
   * await connection.leave('project', { projectId: 'apollo' }, 10_000);
   */
  async leave(room: string, data: unknown, timeout: number): Promise<void> {
    const refused = this.#refusal();
    if (refused !== undefined) throw refused;
    const intent = this.#joined.take(room, data);
    if (intent !== undefined) {
      settle(intent, new LiverpcError('cancelled', `liverpc: left \`${room}\` before the join took effect`));
    }
    this.#setRoom(room, data, undefined);
    // Sent after a pending join of the same room: the server handles them in that order.
    if (this.#socket.connected) await this.call(EVENTS.leave, roomRequest(room, data), timeout);
  }

  /**
   * Listens to a server event.
   *
   * @example
   * const off = connection.listen('message', (m) => console.log(m));
   */
  listen(event: string, listener: (payload: unknown) => void): Unsubscribe {
    const own = (payload: unknown, at: unknown): void => {
      if (this.#live() && !(typeof at === 'object' && at !== null && this.#stale.has(at))) listener(payload);
    };
    this.#socket.on(event, own);
    return () => {
      this.#socket.off(event, own);
    };
  }

  /**
   * Listens for rooms with history that could not be recovered on a rejoin.
   *
   * @example
   * const off = connection.missed(({ room }) => refetch(room));
   */
  missed(listener: (gap: AnyMissed) => void): Unsubscribe {
    this.#missed.add(listener);
    return () => {
      this.#missed.delete(listener);
    };
  }

  /**
   * Positions the page already shows (server-rendered history): the next join of each room
   * starts right after (a position the client already passed is kept).
   *
   * @example
   * connection.since([{ stream: '9f1c…', epoch: 'a1…', offset: 42 }]);
   */
  since(positions: readonly Position[]): void {
    for (const position of positions) {
      if (isPosition(position)) this.#advance(position);
    }
  }

  /** A message's position: a new one advances its stream; one already seen marks it stale. */
  #track(at: unknown): void {
    if (!this.#live() || !isPosition(at)) return;
    if (!this.#advance(at)) this.#stale.add(at);
  }

  /** Records `at` unless the stream is known past it in the same epoch; whether it was new. */
  #advance(at: Position): boolean {
    const known = this.#positions.get(at.stream);
    if (known !== undefined && known.epoch === at.epoch && at.offset <= known.offset) return false;
    // Most recent last (a Map keeps insertion order); the oldest goes past MAX_POSITIONS.
    this.#positions.delete(at.stream);
    this.#positions.set(at.stream, { stream: at.stream, epoch: at.epoch, offset: at.offset });
    if (this.#positions.size > MAX_POSITIONS) {
      const oldest = this.#positions.keys().next();
      if (oldest.done !== true) this.#positions.delete(oldest.value);
    }
    return true;
  }

  /**
   * A join of a room with history was answered with its stream's `position` (and, when the
   * page sent one of that stream, whether what it missed was replayed): the room's state
   * says so, and an unrecovered room is reported to `missed`.
   */
  #joinedStream(intent: { room: string; data: unknown }, answer: unknown): RoomState {
    if (typeof answer !== 'object' || answer === null) return { status: 'joined' };
    const { position, recovered } = answer as { position?: unknown; recovered?: unknown };
    if (!isPosition(position)) return { status: 'joined' };
    this.#advance(position);
    if (recovered === false) {
      // Live messages start after `position`: what came before is the page's to refetch.
      for (const listener of [...this.#missed]) listener({ room: intent.room, data: intent.data, position });
    }
    return typeof recovered === 'boolean' ? { status: 'joined', recovered } : { status: 'joined' };
  }

  /**
   * Follows the calling client to a new URL path. Alone on this connection, it re-handshakes
   * with the new path, then rejoins the rooms (calls not sent yet are rejected with
   * `disconnected`: they were meant for the previous page). Shared with other clients, the
   * caller moves to the new path's connection with a copy of the rooms, and the others stay.
   *
   * @example
   * const { channel, done } = connection.navigate('/rooms/random');
   * await done;
   */
  navigate(path: string): Navigation {
    if (this.#state.get().status === 'closed') {
      return { channel: this, done: Promise.reject(new LiverpcError('closed', 'liverpc: the client was closed')) };
    }
    if (path === this.#path || this.#users === 1) return { channel: this, done: this.#move(path) };
    const next = connectionFor(this.#server, this.#contract, path, this.#timeout);
    const joins = this.#joined.all().map((i) => next.join(i.room, i.data, this.#timeout).catch(() => {}));
    this.release();
    const done = next.#move(path).then(() => Promise.all(joins).then(() => {}));
    return { channel: next, done };
  }

  /** Re-handshakes on `path` unless already there; resolves once connected and rejoined. */
  #move(path: string): Promise<void> {
    const status = this.#state.get().status;
    if (path === this.#path && status !== 'refused') {
      return status === 'connected' ? Promise.resolve() : this.#nextHandshake();
    }
    this.#path = path;
    const done = this.#nextHandshake();
    this.#epoch += 1;
    this.#outbox.rejectQueued(new LiverpcError('disconnected', 'liverpc: the page navigated before the call was sent'));
    this.#state.set(this.#awaiting('connecting'));
    if (this.#socket.connected) {
      this.#socket.disconnect();
      this.#socket.connect();
    } else if (!this.#socket.active) {
      this.#socket.connect();
    }
    // Otherwise a handshake is under way: `auth` reads the new path on the next attempt, and
    // `#onConnect` redoes a handshake that carried the old one.
    return done;
  }

  #onConnect(): void {
    if (this.#sentPath !== this.#path) {
      // `navigate` ran while this handshake was in flight.
      this.#socket.disconnect();
      this.#socket.connect();
      return;
    }
    this.#epoch += 1;
    const epoch = this.#epoch;
    this.#connectedAt = Date.now();
    this.#unavailable = 0;
    this.#state.set({ status: 'connected', rooms: this.#state.get().rooms });
    // The rooms first, then the calls queued meanwhile: the server handles a socket's messages
    // in the order sent (Rule 7 (docs/security.md#rule-7)), so a queued call that needs a room
    // finds it joined.
    const asks = this.#joined.all().map((intent) => {
      // A new socket starts with a fresh allowance on the server: the backoff starts over.
      clearTimeout(intent.timer);
      intent.attempt = 0;
      return this.#ask(intent, epoch);
    });
    this.#outbox.flush();
    void Promise.all(asks).then(() => {
      if (epoch !== this.#epoch) return;
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const waiter of waiters) waiter.resolve();
    });
  }

  /** Asks the server for a room the page wants; resolves once answered (or not at all). */
  #ask(intent: Intent, epoch: number): Promise<void> {
    const since = [...this.#positions.values()];
    const request = since.length === 0 ? roomRequest(intent.room, intent.data) : { ...roomRequest(intent.room, intent.data), since };
    return this.#outbox.request(EVENTS.join, request, this.#timeout).then(
      (answer) => this.#answered(intent, epoch, answer),
      (error: unknown) => this.#answered(intent, epoch, { ok: false, error: asError(error) }),
    );
  }

  #answered(intent: Intent, epoch: number, answer: Answer): void {
    // Left (its waiters were told) or replaced (the newer request decides), or an answer on a
    // connection that has since dropped (the next connect asks again).
    if (!this.#joined.current(intent) || epoch !== this.#epoch) return;
    const { room, data } = intent;
    if (answer.ok) {
      intent.attempt = 0;
      delete intent.error;
      this.#setRoom(room, data, this.#joinedStream(intent, answer.data));
      settle(intent);
      return;
    }
    const error = answer.error;
    if (error.code === 'disconnected') return;
    if (!TRANSIENT.includes(error.code)) {
      this.#joined.take(room, data);
      this.#setRoom(room, data, { status: 'denied', error });
      settle(intent, error);
      return;
    }
    // Refused for now: ask again later, on this connection (a new one asks at once).
    intent.error = error;
    this.#setRoom(room, data, { status: 'retrying', error });
    intent.timer = this.#later(backoff(intent.attempt), () => {
      if (this.#joined.current(intent) && this.#epoch === epoch) void this.#ask(intent, epoch);
    });
    intent.attempt += 1;
  }

  #onDisconnect(reason: IoSocket.DisconnectReason): void {
    // Ours (`navigate`, `release`): they set the state themselves.
    if (reason === 'io client disconnect') return;
    this.#epoch += 1;
    this.#state.set(this.#awaiting('reconnecting'));
    // socket.io-client retries a dropped transport (a slow reader's, say) by itself, but not a
    // disconnect the server asked for (the app dropping a room's sockets): come back, and
    // rejoin, backing off when the server keeps dropping this page (0 s, then 0.5 s doubling
    // up to 30 s).
    if (reason === 'io server disconnect') {
      if (Date.now() - this.#connectedAt > KICKS_FORGOTTEN_AFTER) this.#kicks = 0;
      const delay = this.#kicks === 0 ? 0 : backoff(this.#kicks - 1);
      this.#kicks += 1;
      this.#reconnectAfter(delay);
    }
  }

  #onConnectError(error: Error): void {
    // A transport failure: socket.io-client retries (`active` is still true).
    if (this.#socket.active) return;
    if (this.#sentPath !== this.#path) {
      // The refused handshake carried the path before a `navigate`: try the new one.
      this.#socket.connect();
      return;
    }
    const code = refusalCode(error.message);
    this.#epoch += 1;
    if (code === 'unavailable') {
      // The server could not decide now (its session store is down, ...): not final.
      this.#state.set({
        ...this.#awaiting('reconnecting'),
        error: code,
      });
      this.#reconnectAfter(backoff(this.#unavailable));
      this.#unavailable += 1;
      return;
    }
    this.#state.set({ status: 'refused', error: code, rooms: {} });
    const detail =
      code === 'not_found' ? `: the path ${this.#path} does not match the route ${this.#contract.route}` : '';
    this.#fail(new LiverpcError(code, `liverpc: the server refused the connection (${code})${detail}`));
  }

  /** Connects again after `delay` ms, unless something else happened meanwhile. */
  #reconnectAfter(delay: number): void {
    const epoch = this.#epoch;
    this.#later(delay, () => {
      if (this.#epoch === epoch) this.#socket.connect();
    });
  }

  #later(delay: number, run: () => void): ReturnType<typeof setTimeout> {
    const timer = setTimeout(run, delay);
    // In Node (tests, scripts) a pending retry must not keep the process alive.
    (timer as { unref?: () => void }).unref?.();
    return timer;
  }

  #onRoomStatus(status: unknown): void {
    if (!this.#live() || typeof status !== 'object' || status === null) return;
    const { room, status: outcome, error } = status as { room?: unknown; status?: unknown; error?: unknown };
    if (typeof room !== 'string') return;
    if (outcome === 'joined') this.#setRoom(room, undefined, this.#joinedStream({ room, data: undefined }, status));
    else if (outcome === 'denied') this.#setRoom(room, undefined, { status: 'denied', error: fromWire(error) });
  }

  /** Why nothing can be sent now (closed, or refused for good); `undefined` if it can. */
  #refusal(): LiverpcError | undefined {
    const state = this.#state.get();
    if (state.status === 'closed') return new LiverpcError('closed', 'liverpc: the client was closed');
    if (state.status === 'refused') {
      const code = state.error ?? 'internal';
      return new LiverpcError(code, `liverpc: the server refused the connection (${code})`);
    }
    return undefined;
  }

  /** A call, unless the connection is closed or refused. */
  #request(event: string, payload: unknown, timeout: number): Promise<Answer> {
    const refused = this.#refusal();
    return refused === undefined ? this.#outbox.request(event, payload, timeout) : Promise.reject(refused);
  }

  /**
   * Whether an incoming event belongs to the current connection. socket.io-client buffers
   * events that arrive while its socket is not connected (packets of the previous connection,
   * decoded just before a navigation or a drop) and emits them on the next connect, before its
   * `connect` event: at that moment the state is not `connected` yet, so they are dropped.
   */
  #live(): boolean {
    return this.#state.get().status === 'connected';
  }

  /** A handshake future: resolved after the next connect's rejoin, rejected on refusal or close. */
  #nextHandshake(): Promise<void> {
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  #fail(error: LiverpcError): void {
    this.#outbox.rejectQueued(error);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }

  /**
   * The state until the next handshake is done: every room the page wants `joining`, and the
   * explicit rooms denied for good still `denied` (not asked for again, and still shown, until
   * the page joins or leaves them again). Auto-joined rooms are decided again by the server.
   */
  #awaiting(status: 'connecting' | 'reconnecting'): AnyState {
    let next = joining(status, this.#contract.autoJoin, this.#joined.all());
    for (const [name, room] of Object.entries(this.#state.get().rooms)) {
      if (Array.isArray(room)) {
        for (const r of room as readonly ExposedRoomState<unknown>[]) {
          if (r.status === 'denied' && roomOf(next, name, r.data) === undefined) {
            next = withRoom(next, name, r.data, denied(r));
          }
        }
      } else if ((room as RoomState).status === 'denied' && next.rooms[name] === undefined) {
        next = withRoom(next, name, undefined, denied(room as RoomState));
      }
    }
    return next;
  }

  #setRoom(room: string, data: unknown, value: RoomState | undefined): void {
    this.#state.set(withRoom(this.#state.get(), room, data, value));
  }
}

/** Settles every join waiting for an intent: resolved, or rejected with `error`. */
function settle(intent: Intent, error?: LiverpcError): void {
  for (const waiter of intent.waiters.splice(0)) {
    if (error === undefined) waiter.resolve();
    else waiter.reject(error);
  }
}

function denied(room: RoomState): RoomState {
  return room.error === undefined ? { status: 'denied' } : { status: 'denied', error: room.error };
}

/** 0.5 s doubling up to 30 s, stretched by up to 50 % so that pages dropped together spread out. */
function backoff(attempt: number): number {
  return Math.min(MAX_BACKOFF, 500 * 2 ** attempt * (1 + Math.random() / 2));
}

function asError(error: unknown): LiverpcError {
  return error instanceof LiverpcError ? error : new LiverpcError('internal', String(error));
}

function sameHeaders(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const entries = (h: Record<string, string> | undefined) =>
    JSON.stringify(Object.entries(h ?? {}).sort(([x], [y]) => (x < y ? -1 : 1)));
  return entries(a) === entries(b);
}

/** `{ room }` for a private room, `{ room, data }` for an exposed one. */
function roomRequest(room: string, data: unknown): { room: string; data?: unknown } {
  return data === undefined ? { room } : { room, data };
}

/** Whether `value` is a stream position as the server sends it. */
function isPosition(value: unknown): value is Position {
  if (typeof value !== 'object' || value === null) return false;
  const { stream, epoch, offset } = value as { stream?: unknown; epoch?: unknown; offset?: unknown };
  return typeof stream === 'string' && typeof epoch === 'string' && typeof offset === 'number';
}
