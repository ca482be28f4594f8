/**
 * One contract's Socket.IO namespace on the shared Engine.IO connection: the handshake (with
 * the page's URL path), calls and their ack envelope, explicit rooms and their rejoin after
 * every reconnect or navigation, and the state store. Clients of the same contract on the
 * same page share it (and its rooms); the last one to close disconnects.
 */

import type { Manager, Socket } from 'socket.io-client';

import type { Channel } from './channel.js';
import { type Answer, Calls } from './calls.js';
import { LiverpcError, fromWire, refusalCode } from './error.js';
import { Joined } from './joined.js';
import { type AnyState, type RoomState, joining, withRoom, withoutRoom } from './state.js';
import { Store, type Unsubscribe } from './store.js';

/** Reserved wire names (see docs/architecture.md, "Wire protocol"). */
const JOIN = 'liverpc:join';
const LEAVE = 'liverpc:leave';
const ROOM_STATUS = 'liverpc:room';

/** Join refusals that asking again will not change. */
const FINAL: readonly string[] = ['forbidden', 'not_found', 'invalid_payload', 'too_large'];

/** What a connection needs to know about its contract. */
export interface Endpoint {
  namespace: string;
  route: string;
  autoJoin: readonly string[];
}

/** Someone waiting for the next completed handshake (`navigate`). */
interface Waiter {
  resolve(): void;
  reject(error: LiverpcError): void;
}

const connections = new WeakMap<Manager, Map<string, Connection>>();

/** The longest wait before coming back after the server dropped this page, in ms. */
const MAX_BACKOFF = 30_000;
/** A connection that lasted this long (ms) resets the backoff. */
const KICKS_FORGOTTEN_AFTER = 60_000;

/**
 * The connection of a contract on a manager, created on first use. A second client of the
 * same contract shares it (and moves it to its own path).
 *
 * @example
 * const channel = connectionFor(managerFor(url), { namespace, route, autoJoin }, '/rooms/general', 10_000);
 */
export function connectionFor(manager: Manager, endpoint: Endpoint, path: string, timeout: number): Connection {
  let byNamespace = connections.get(manager);
  if (byNamespace === undefined) {
    byNamespace = new Map();
    connections.set(manager, byNamespace);
  }
  const namespaces = byNamespace;
  let connection = namespaces.get(endpoint.namespace);
  if (connection === undefined) {
    connection = new Connection(manager, endpoint, path, timeout, () => namespaces.delete(endpoint.namespace));
    namespaces.set(endpoint.namespace, connection);
  } else {
    // Its state shows a refusal; nothing else to report here.
    connection.navigate(path).catch(() => {});
  }
  connection.acquire();
  return connection;
}

/** See the module documentation. */
export class Connection implements Channel {
  readonly #state: Store<AnyState>;
  readonly #socket: Socket;
  readonly #endpoint: Endpoint;
  readonly #forget: () => void;
  readonly #joined = new Joined();
  readonly #calls: Calls;
  /** Milliseconds the rejoin of each room may take. */
  readonly #timeout: number;
  #waiters: Waiter[] = [];
  #users = 0;
  #path: string;
  /** The path of the handshake under way or done. */
  #sentPath: string | undefined;
  /** Bumped by every connect, drop, navigation and close: stale results are ignored. */
  #epoch = 0;
  /** Disconnects the server asked for in a row (backoff), and when the last connect happened. */
  #kicks = 0;
  #connectedAt = 0;

  /**
   * Opens the namespace at once; use {@link connectionFor} to share it.
   *
   * @example
   * new Connection(manager, endpoint, '/rooms/general', 10_000, () => {});
   */
  constructor(manager: Manager, endpoint: Endpoint, path: string, timeout: number, forget: () => void) {
    this.#endpoint = endpoint;
    this.#forget = forget;
    this.#path = path;
    this.#state = new Store(joining('connecting', endpoint.autoJoin));
    this.#timeout = timeout;
    this.#socket = manager.socket(endpoint.namespace);
    this.#calls = new Calls(this.#socket);
    this.#socket.auth = (send) => {
      this.#sentPath = this.#path;
      send({ path: this.#path });
    };
    this.#socket.on('connect', () => this.#onConnect());
    this.#socket.on('disconnect', (reason) => this.#onDisconnect(reason));
    this.#socket.on('connect_error', (error) => this.#onConnectError(error));
    this.#socket.on(ROOM_STATUS, (status: unknown) => this.#onRoomStatus(status));
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
   * One more client uses this connection.
   *
   * @example
   * connection.acquire();
   */
  acquire(): void {
    this.#users += 1;
  }

  /**
   * One client fewer; the last one disconnects and rejects what is pending with `closed`.
   *
   * @example
   * connection.release();
   */
  release(): void {
    this.#users -= 1;
    if (this.#users > 0) return;
    this.#epoch += 1;
    this.#state.set({ status: 'closed', rooms: {} });
    this.#fail(new LiverpcError('closed', 'liverpc: the client was closed'));
    this.#socket.disconnect();
    this.#socket.removeAllListeners();
    this.#forget();
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
   * Joins a room and remembers it, to ask for it again after a reconnect or a navigation.
   *
   * @example
   * await connection.join('project', { projectId: 'apollo' }, 10_000);
   */
  async join(room: string, data: unknown, timeout: number): Promise<void> {
    const epoch = this.#epoch;
    const before = this.#state.get().rooms[room];
    this.#setRoom(room, { status: 'joining', ...dataOf(data) });
    let answer: Answer;
    try {
      answer = await this.#request(JOIN, roomRequest(room, data), timeout);
    } catch (error) {
      // No answer: the room is where it was (a reconnect has reset the rooms already).
      if (epoch === this.#epoch) this.#setRoom(room, before);
      throw error;
    }
    if (!answer.ok) {
      this.#setRoom(room, { status: 'denied', error: answer.error, ...dataOf(data) });
      throw answer.error;
    }
    this.#joined.add(room, data);
    this.#setRoom(room, { status: 'joined', ...dataOf(data) });
  }

  /**
   * Leaves a room joined with the same `data`. Without a connection there is nothing to leave
   * on the server (it dropped every room with the connection).
   *
   * @example
   * await connection.leave('project', { projectId: 'apollo' }, 10_000);
   */
  async leave(room: string, data: unknown, timeout: number): Promise<void> {
    this.#joined.delete(room, data);
    if (this.#socket.connected) await this.call(LEAVE, roomRequest(room, data), timeout);
    const still = this.#joined.find(room);
    this.#setRoom(room, still === undefined ? undefined : { status: 'joined', ...dataOf(still.data) });
  }

  /**
   * Listens to a server event.
   *
   * @example
   * const off = connection.listen('message', (m) => console.log(m));
   */
  listen(event: string, listener: (payload: unknown) => void): Unsubscribe {
    const own = (payload: unknown): void => {
      if (this.#live()) listener(payload);
    };
    this.#socket.on(event, own);
    return () => {
      this.#socket.off(event, own);
    };
  }

  /**
   * Re-handshakes on a new URL path, then rejoins the explicit rooms. Calls not sent yet are
   * rejected with `disconnected` (they were meant for the previous page).
   *
   * @example
   * await connection.navigate('/rooms/random');
   */
  navigate(path: string): Promise<void> {
    const status = this.#state.get().status;
    if (status === 'closed') return Promise.reject(new LiverpcError('closed', 'liverpc: the client was closed'));
    if (path === this.#path && status !== 'refused') {
      return status === 'connected' ? Promise.resolve() : this.#nextHandshake();
    }
    this.#path = path;
    const done = this.#nextHandshake();
    this.#epoch += 1;
    this.#calls.rejectQueued(new LiverpcError('disconnected', 'liverpc: the page navigated before the call was sent'));
    this.#state.set(joining('connecting', this.#roomNames()));
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
    this.#state.set({ ...this.#state.get(), status: 'connected' });
    this.#calls.flush();
    void this.#rejoin(epoch);
  }

  /** Asks again for every explicitly joined room; the server re-authorizes each. */
  async #rejoin(epoch: number): Promise<void> {
    const entries = this.#joined.entries();
    const outcomes = await Promise.all(
      entries.map((entry) =>
        this.#request(JOIN, roomRequest(entry.room, entry.data), this.#timeout).catch(() => undefined),
      ),
    );
    if (epoch !== this.#epoch) return;
    const denied = new Set<string>();
    entries.forEach((entry, i) => {
      const answer = outcomes[i];
      // No answer (dropped again): the next connect asks again. Left meanwhile: nothing to say.
      if (answer === undefined || !this.#joined.has(entry)) return;
      if (answer.ok) {
        if (!denied.has(entry.room)) this.#setRoom(entry.room, { status: 'joined', ...dataOf(entry.data) });
      } else {
        // Denials are reported, never hidden by a sibling payload's success. A final refusal
        // is forgotten; a transient one (`rate_limited`, `internal`) is asked for again at the
        // next handshake.
        denied.add(entry.room);
        if (FINAL.includes(answer.error.code)) this.#joined.delete(entry.room, entry.data);
        this.#setRoom(entry.room, { status: 'denied', error: answer.error, ...dataOf(entry.data) });
      }
    });
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  #onDisconnect(reason: Socket.DisconnectReason): void {
    // Ours (`navigate`, `release`): they set the state themselves.
    if (reason === 'io client disconnect') return;
    this.#epoch += 1;
    this.#state.set(joining('reconnecting', this.#roomNames()));
    // socket.io-client retries a dropped transport by itself, but not a disconnect the server
    // asked for (e.g. a slow reader dropped by the server): come back, and rejoin, backing off
    // when the server keeps dropping this page (0 s, then 0.5 s doubling up to 30 s).
    if (reason === 'io server disconnect') {
      if (Date.now() - this.#connectedAt > KICKS_FORGOTTEN_AFTER) this.#kicks = 0;
      const delay = this.#kicks === 0 ? 0 : Math.min(MAX_BACKOFF, 500 * 2 ** (this.#kicks - 1));
      this.#kicks += 1;
      const epoch = this.#epoch;
      const timer = setTimeout(() => {
        if (this.#epoch === epoch) this.#socket.connect();
      }, delay);
      // In Node (tests, scripts) a pending comeback must not keep the process alive.
      (timer as { unref?: () => void }).unref?.();
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
    this.#state.set({ status: 'refused', error: code, rooms: {} });
    const detail =
      code === 'not_found' ? `: the path ${this.#path} does not match the route ${this.#endpoint.route}` : '';
    this.#fail(new LiverpcError(code, `liverpc: the server refused the connection (${code})${detail}`));
  }

  #onRoomStatus(status: unknown): void {
    if (!this.#live() || typeof status !== 'object' || status === null) return;
    const { room, status: outcome, error } = status as { room?: unknown; status?: unknown; error?: unknown };
    if (typeof room !== 'string') return;
    if (outcome === 'joined') this.#setRoom(room, { status: 'joined' });
    else if (outcome === 'denied') this.#setRoom(room, { status: 'denied', error: fromWire(error) });
  }

  /** A call, unless the connection is closed or refused. */
  #request(event: string, payload: unknown, timeout: number): Promise<Answer> {
    const state = this.#state.get();
    if (state.status === 'closed') {
      return Promise.reject(new LiverpcError('closed', 'liverpc: the client was closed'));
    }
    if (state.status === 'refused') {
      const code = state.error ?? 'internal';
      return Promise.reject(new LiverpcError(code, `liverpc: the server refused the connection (${code})`));
    }
    return this.#calls.request(event, payload, timeout);
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
    this.#calls.rejectQueued(error);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.reject(error);
  }

  /** Rooms the page will be in after the next handshake: auto-joined and explicitly joined. */
  #roomNames(): Set<string> {
    return new Set([...this.#endpoint.autoJoin, ...this.#joined.entries().map((e) => e.room)]);
  }

  #setRoom(room: string, value: RoomState | undefined): void {
    const state = this.#state.get();
    this.#state.set(value === undefined ? withoutRoom(state, room) : withRoom(state, room, value));
  }
}

/** `{ room }` for a private room, `{ room, data }` for an exposed one. */
function roomRequest(room: string, data: unknown): { room: string; data?: unknown } {
  return data === undefined ? { room } : { room, data };
}

function dataOf(data: unknown): { data?: unknown } {
  return data === undefined ? {} : { data };
}
