/**
 * What a client needs from the connection under it: the seam between the typed client and
 * the Socket.IO runtime (a live `Connection`, or the `inert` channel of server-side rendering).
 */

import type { AnyState } from './state.js';
import type { Readable, Unsubscribe } from './store.js';

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
  /** Re-handshakes on a new URL path. */
  navigate(path: string): Promise<void>;
  /** One client fewer; the last one closes the connection. */
  release(): void;
}
