/**
 * What a page can show about its connection: `room.state`, a store of `ConnectionState`.
 * Values are immutable; every change is a new object.
 */

import type { LiverpcError, RefusalCode } from '../error.js';
import { samePayload } from '../protocol.js';

/**
 * - `connecting`: opening (or re-opening after `navigate`); also the state of an inert client
 *   during server-side rendering, so the server's HTML matches the browser's first render;
 * - `connected`: handshake accepted; calls go out at once;
 * - `reconnecting`: the connection dropped, or the server could not decide the handshake now
 *   (`error: 'unavailable'`); the client retries by itself, calls wait;
 * - `refused`: the server refused the handshake for good, see `error`; calls reject;
 * - `closed`: `close()` was called; calls reject.
 */
export type ConnectionStatus = 'connecting' | 'connected' | 'reconnecting' | 'refused' | 'closed';

/**
 * - `joining`: asked for (or about to be, once connected), no answer yet;
 * - `joined`: the server joined the page;
 * - `retrying`: refused for now (`rate_limited`, `unavailable`, `internal`, `timeout`, see
 *   `error`); asked for again with backoff;
 * - `denied`: refused for good (`forbidden`, `not_found`, ...); not asked for again.
 */
export type RoomStatus = 'joining' | 'joined' | 'retrying' | 'denied';

/** A private room (joined by name, or auto-joined by the server). */
export interface RoomState {
  status: RoomStatus;
  /** Why the room is `retrying` or `denied` (`forbidden` for a refused authorization). */
  error?: LiverpcError;
  /**
   * A room with history, joined with a position (a reconnect, or server-rendered history):
   * `true` when everything missed since was replayed, `false` when it could not be (the
   * page also gets `missed`).
   */
  recovered?: boolean;
}

/** One payload of an exposed room: `project` joined with `{ projectId: 'apollo' }`. */
export interface ExposedRoomState<D> extends RoomState {
  /** The payload this status is about. */
  data: D;
}

/**
 * The rooms of a contract whose room payloads are `R`: a private room (payload `null`) is one
 * `RoomState`; an exposed room is the list of its payloads the page asked for, in the order
 * asked, each with its own status.
 */
export type RoomsState<R> = {
  readonly [K in keyof R]?: [R[K]] extends [null] ? RoomState : readonly ExposedRoomState<R[K]>[];
};

/** The connection of one contract, and its rooms. */
export interface ConnectionState<R = Record<string, unknown>> {
  status: ConnectionStatus;
  /** When `refused`: the refusal code; when `reconnecting` after a refusal: `unavailable`. */
  error?: RefusalCode;
  /** Rooms requested (explicitly, or auto-joined by the server). */
  rooms: RoomsState<R>;
}

/** One room as the runtime stores it: a private room's state, or an exposed room's list. */
export type AnyRoom = RoomState | readonly ExposedRoomState<unknown>[];

/** A state without payload typing, as the runtime handles it. */
export interface AnyState {
  status: ConnectionStatus;
  error?: RefusalCode;
  rooms: { readonly [room: string]: AnyRoom };
}

/**
 * A state with one room set (`value`) or removed (`undefined`): a private room when `data` is
 * `undefined`, else that payload of an exposed room.
 *
 * @example
 * withRoom(state, 'tenant', undefined, { status: 'joined' });
 * withRoom(state, 'project', { projectId: 'apollo' }, undefined); // that payload removed
 */
export function withRoom(state: AnyState, name: string, data: unknown, value: RoomState | undefined): AnyState {
  const rooms: Record<string, AnyRoom> = { ...state.rooms };
  if (data === undefined) {
    if (value === undefined) delete rooms[name];
    else rooms[name] = value;
  } else {
    const before = rooms[name];
    const list = before !== undefined && isList(before) ? [...before] : [];
    const at = list.findIndex((r) => samePayload(r.data, data));
    const entry = value === undefined ? undefined : { ...value, data };
    if (entry === undefined) {
      if (at >= 0) list.splice(at, 1);
    } else if (at >= 0) {
      list[at] = entry;
    } else {
      list.push(entry);
    }
    if (list.length === 0) delete rooms[name];
    else rooms[name] = list;
  }
  return { ...state, rooms };
}

/**
 * One room's state: a private room's when `data` is `undefined`, else that payload's.
 *
 * @example
 * roomOf(state, 'project', { projectId: 'apollo' })?.status; // 'joined'
 */
export function roomOf(state: AnyState, name: string, data: unknown): RoomState | undefined {
  const room = state.rooms[name];
  if (room === undefined) return undefined;
  if (isList(room)) return data === undefined ? undefined : room.find((r) => samePayload(r.data, data));
  return data === undefined ? room : undefined;
}

function isList(room: AnyRoom): room is readonly ExposedRoomState<unknown>[] {
  return Array.isArray(room);
}

/**
 * A state whose rooms are all `joining`: what a page is about to be in after a (re)connect.
 *
 * @example
 * joining('reconnecting', ['chat'], [{ room: 'project', data: { projectId: 'apollo' } }]);
 */
export function joining(
  status: ConnectionStatus,
  autoJoin: Iterable<string>,
  explicit: Iterable<{ room: string; data: unknown }> = [],
): AnyState {
  let state: AnyState = { status, rooms: {} };
  for (const name of autoJoin) state = withRoom(state, name, undefined, { status: 'joining' });
  for (const { room, data } of explicit) state = withRoom(state, room, data, { status: 'joining' });
  return state;
}
