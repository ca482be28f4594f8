/**
 * What a client needs from the connection under it: the seam between the typed client and
 * the Socket.IO runtime (a live `Connection`, or the `inert` channel of server-side rendering).
 */

import type { AnyState } from './state.js';
import type { Readable, Unsubscribe } from './store.js';
import type { Position } from './types.js';

/** A room with history that could not be recovered, untyped. */
export interface AnyMissed {
  readonly room: string;
  readonly data: unknown;
  readonly position: Position;
}

/** Where a navigation left the client: the channel it now uses, and when it is ready. */
export interface Navigation {
  /** The same channel, or another one when the previous was shared with other clients. */
  readonly channel: Channel;
  /** Resolves once connected on the new path and rejoined; rejects with the refusal. */
  readonly done: Promise<void>;
}

/** One contract's connection, untyped; the client puts the types on. */
export interface Channel {
  /** The connection's state. */
  readonly state: Readable<AnyState>;
  /** Sends a handler call; resolves with the reply, rejects with a `LiverpcError`. */
  call(event: string, payload: unknown, timeout: number): Promise<unknown>;
  /** Joins a room (`data` undefined for a private room). */
  join(room: string, data: unknown, timeout: number): Promise<void>;
  /** Leaves a room joined with the same `data`. */
  leave(room: string, data: unknown, timeout: number): Promise<void>;
  /** Listens to a server event. */
  listen(event: string, listener: (payload: unknown) => void): Unsubscribe;
  /** Listens for rooms with history that could not be recovered. */
  missed(listener: (gap: AnyMissed) => void): Unsubscribe;
  /** Positions the page already shows: the next join of their rooms starts after them. */
  since(positions: readonly Position[]): void;
  /** Re-handshakes on a new URL path. */
  navigate(path: string): Navigation;
  /** One client fewer; the last one closes the connection. */
  release(): void;
}
