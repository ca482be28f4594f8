/**
 * Presence: who is in a room, as the server lists them (`liverpc:presence`). The server sends a
 * snapshot when the socket is in the room, then each join and leave; what each member shows is
 * derived on the server from that member's locals, never from a page.
 */

import type { Channel } from './channel.js';
import type { AnyState } from './state.js';
import { type Readable, type ReadableState, Store, type Unsubscribe } from './store.js';
import { EVENTS } from '../wire.js';

/** One member of a room, as the server describes it. */
export interface Member<D> {
  /** The member's socket id (stable for its connection). */
  readonly id: string;
  /** What the contract shows of the member (e.g. `{ name }`). */
  readonly data: D;
  /** Whether the member is this page's own socket. */
  readonly self: boolean;
}

/** The event the server sends, in its three shapes. */
type PresenceEvent =
  | { room: string; self: string; members: { id: string; data: unknown }[] }
  | { room: string; join: { id: string; data: unknown } }
  | { room: string; leave: string };

function isEvent(value: unknown): value is PresenceEvent {
  if (typeof value !== 'object' || value === null) return false;
  const event = value as Record<string, unknown>;
  return typeof event.room === 'string' && ('members' in event || 'join' in event || 'leave' in event);
}

/**
 * The members of one room, kept by the rule the protocol states: joins and leaves received
 * before the snapshot are applied after it, in order; afterwards each as it comes. The list is
 * empty, and waits for a new snapshot, whenever the room is not joined (offline, left,
 * refused, reconnecting).
 */
export class Presence<D> {
  readonly #room: string;
  readonly #store = new Store<readonly Member<D>[]>([]);
  #members = new Map<string, D>();
  #self: string | undefined;
  #pending: PresenceEvent[] | undefined = [];
  #off: Unsubscribe = () => {};

  /**
   * @example
   * const here = new Presence<{ name: string }>('chat');
   * here.attach(channel);
   */
  constructor(room: string) {
    this.#room = room;
  }

  /** Listens on `channel` (again, after a navigation moved the client to another one). */
  attach(channel: Channel): void {
    this.#off();
    this.#reset();
    this.#off = channel.listen(EVENTS.presence, (event) => this.#receive(event));
  }

  /**
   * Follows the connection's state: offline, left or refused means no members, until the next
   * snapshot. (`joining` keeps them: the snapshot may come before the join's answer.)
   */
  follow(state: AnyState): void {
    const room = state.rooms[this.#room];
    const denied = room !== undefined && !Array.isArray(room) && (room as { status: string }).status === 'denied';
    const gone = state.status !== 'connected' || room === undefined || denied;
    if (gone && (this.#pending === undefined || this.#store.get().length > 0)) this.#reset();
  }

  /** Stops listening. */
  detach(): void {
    this.#off();
    this.#off = () => {};
    this.#reset();
  }

  /** The members, as the runtime writes them. */
  get store(): Readable<readonly Member<D>[]> {
    return this.#store;
  }

  /** The store the page reads; `seen` makes reading `current` reactive (see `Track`). */
  readable(seen?: () => void): ReadableState<readonly Member<D>[]> {
    const store = this.#store;
    return Object.freeze({
      subscribe: (run: (value: readonly Member<D>[]) => void) => store.subscribe(run),
      get current() {
        seen?.();
        return store.get();
      },
    });
  }

  #reset(): void {
    this.#members = new Map();
    this.#self = undefined;
    this.#pending = [];
    if (this.#store.get().length > 0) this.#store.set([]);
  }

  #receive(event: unknown): void {
    if (!isEvent(event) || event.room !== this.#room) return;
    if ('members' in event) {
      this.#members = new Map(event.members.map((m) => [m.id, m.data as D]));
      this.#self = event.self;
      const pending = this.#pending ?? [];
      this.#pending = undefined;
      for (const earlier of pending) this.#apply(earlier);
    } else if (this.#pending !== undefined) {
      this.#pending.push(event);
      return;
    } else {
      this.#apply(event);
    }
    this.#publish();
  }

  #apply(event: PresenceEvent): void {
    if ('join' in event) this.#members.set(event.join.id, event.join.data as D);
    else if ('leave' in event) this.#members.delete(event.leave);
  }

  #publish(): void {
    const self = this.#self;
    this.#store.set([...this.#members].map(([id, data]) => Object.freeze({ id, data, self: id === self })));
  }
}
