/**
 * `liverpc/server`: the TypeScript front-end. Write contracts as the tutorial does, in
 * `src/routes/<route>/<name>.socket.ts`, and the connection hook in `src/hooks.socket.ts`;
 * the Rust engine (the `liverpc-node` addon, in this process) serves them.
 *
 * ```ts
 * import { room, socket } from 'liverpc/server';
 * export const chat = socket({
 *   rooms: { chat: room.private(({ params }) => ['chat', params.roomId], { autoJoin: true }) },
 * });
 * ```
 *
 * Only what a user writes is exported here; `liverpc/vite` and `liverpc/node` reach the rest
 * (the addon, the socket handoff) by relative import.
 */

export { event, handler, room, socket } from './contract.js';
export type {
  ClientContract,
  ContractDef,
  EmitTarget,
  Emitter,
  EmitterOf,
  EmitsNeedTheContract,
  EventType,
  Events,
  ExposedRoom,
  FromClientDef,
  Handler,
  HandlerArgs,
  HandlerFunction,
  History,
  Locals,
  MatcherParam,
  MaybePromise,
  Params,
  Presence,
  PresenceArgs,
  PresenceOf,
  PrivateRoom,
  Recorded,
  RoomArgs,
  RoomOptions,
  RoomDef,
  RoomHistory,
  RoomKey,
  RoomPayloads,
  RoomsDef,
  ServerSocket,
  Socket,
  SocketDef,
  ToClientDef,
} from './contract.js';
export { hook } from './hooks.js';
export type { Handle, HandshakeEvent } from './hooks.js';
export { Engine, createEngine } from './engine.js';
export type { CloseOptions, ContractModule, EngineLimits, EngineOptions } from './engine.js';
export type { Input, Output, StandardSchemaV1 } from './schema.js';
export { LiverpcError, isLiverpcError } from '../error.js';
export type { ErrorCode, Issue, ServerErrorCode } from '../error.js';
