/**
 * liverpc: typed realtime for SvelteKit pages, over Socket.IO.
 *
 * Generated modules call `defineClient(...)`; pages call what it returns:
 *
 * ```ts
 * import { chat } from './chat.socket';
 * const room = chat();
 * room.on.message((m) => ...);
 * await room.send({ text });
 * await room.join.project({ projectId });
 * ```
 *
 * In a SvelteKit app import `defineClient` from `liverpc/sveltekit` instead: same API, plus it
 * follows navigations and closes with the component.
 */

export { defineClient, DEFAULT_TIMEOUT } from './define.js';
export { LiverpcError, isLiverpcError } from '../error.js';
export type { ClientErrorCode, ErrorCode, Issue, RefusalCode, ServerErrorCode } from '../error.js';
export type {
  Call,
  Calls,
  Client,
  ClientBase,
  ClientFactory,
  ClientOptions,
  Contract,
  Descriptor,
  Listeners,
  Missed,
  Position,
  PresenceStores,
  RoomCall,
  RoomCalls,
} from './types.js';
export type { Member } from './presence.js';
export type {
  ConnectionState,
  ConnectionStatus,
  ExposedRoomState,
  RoomState,
  RoomStatus,
  RoomsState,
} from './state.js';
export type { Readable, ReadableState, Unsubscribe } from './store.js';
