/**
 * What a page can show about its connection: `room.state`, a store of `ConnectionState`.
 * Values are immutable; every change is a new object.
 */

import type { LiverpcError, RefusalCode } from './error.js';

/**
 * - `connecting`: opening (or re-opening after `navigate`); also the state of an inert client
 *   during server-side rendering, so the server's HTML matches the browser's first render;
 * - `connected`: handshake accepted; calls go out at once;
 * - `reconnecting`: the connection dropped; socket.io-client retries by itself, calls wait;
 * - `refused`: the server refused the handshake, see `error`; calls reject;
 * - `closed`: `close()` was called; calls reject.
 */
export type ConnectionStatus = 'connecting' | 'connected' | 'reconnecting' | 'refused' | 'closed';

/** `joining` until the server answers; then `joined` or `denied` (see `error`). */
export type RoomStatus = 'joining' | 'joined' | 'denied';

/** One room, by name. `D` is the room's join payload type (`null` for a private room). */
export interface RoomState<D = unknown> {
  status: RoomStatus;
  /** Why the room was denied (`forbidden` for a refused authorization). */
  error?: LiverpcError;
  /** For an exposed room: the payload this status is about. */
  data?: D;
}

/** The connection of one contract, and its rooms by name. */
export interface ConnectionState<R = Record<string, unknown>> {
  status: ConnectionStatus;
  /** When `refused`: the handshake refusal code. */
  error?: RefusalCode;
  /** Rooms requested (explicitly, or auto-joined by the server), by room name. */
  rooms: { readonly [K in keyof R]?: RoomState<R[K]> };
}

/** A state without index typing, as the runtime handles it. */
export type AnyState = ConnectionState<Record<string, unknown>>;

/**
 * A state with one room set.
 *
 * @example
 * withRoom(state, 'tenant', { status: 'joined' });
 */
export function withRoom(state: AnyState, name: string, room: RoomState): AnyState {
  return { ...state, rooms: { ...state.rooms, [name]: room } };
}

/**
 * A state with one room removed.
 *
 * @example
 * withoutRoom(state, 'tenant');
 */
export function withoutRoom(state: AnyState, name: string): AnyState {
  const rooms = { ...state.rooms };
  delete rooms[name];
  return { ...state, rooms };
}

/**
 * A state whose rooms are all `joining`: what a page is about to be in after a (re)connect.
 *
 * @example
 * joining('reconnecting', ['chat', 'tenant']);
 */
export function joining(status: ConnectionStatus, names: Iterable<string>): AnyState {
  const rooms: Record<string, RoomState> = {};
  for (const name of names) rooms[name] = { status: 'joining' };
  return { status, rooms };
}
