/**
 * The engine in this process: registers contracts with the addon and answers its requests
 * (the hook, room functions, handlers). Locals stay JavaScript objects, kept here under the
 * per-connection token the engine holds; the engine frees the token when the connection goes.
 */

import { LiverpcError, isOneOf, type Issue, type RefusalCode, type ServerErrorCode } from '../error.js';
import { invalidPayloadMessage, namespaceOf } from '../protocol.js';
import { type Limits, SERVER_ERROR_CODES } from '../wire.js';
import type { Binding, Handler, HandlerArgs, Locals, RoomDef, RoomKey, ServerSocket } from './contract.js';
import { handshakeEvent, type Handle } from './hooks.js';
import { loadNative, type NativeApp } from './native.js';
import { validate } from './schema.js';
import { SOCKET_IO_PATH, attach, handOver } from './upgrade.js';
import type { Server } from 'node:http';

/** A route's `*.socket.ts` module: every export made by `socket()` is a contract. */
export interface ContractModule {
  /** The SvelteKit route id of the folder the module is in (`/rooms/[roomId]`). */
  readonly route: string;
  /** The module's exports. */
  readonly exports: Readonly<Record<string, unknown>>;
}

/** What an engine serves. */
export interface EngineOptions {
  /** `src/hooks.socket.ts`'s exports (its `handle`); without one, every connection's locals are `{}`. */
  readonly hooks?: { readonly handle?: Handle } | undefined;
  /** Every route's contract module. */
  readonly contracts: readonly ContractModule[];
  /** Origins allowed besides the page's own (`['*']`: any). Default: same origin only. */
  readonly origins?: readonly string[];
  /** Also accept HTTP long-polling (default: websocket only). */
  readonly longPolling?: boolean;
  /** The engine's limits to change; the others keep their defaults (see `EngineLimits`). */
  readonly limits?: EngineLimits;
  /**
   * `redis://host:port`: this process is one node of several sharing their rooms through Redis
   * (at most once across nodes while Redis is down; local delivery never stops).
   */
  readonly redis?: string;
  /** STAND-IN (prod-build): the Socket.IO endpoint path (default `/socket.io/`). */
  readonly endpoint?: string;
  /** STAND-IN (prod-build): SvelteKit's param matchers by name (`src/params/<name>.ts`). */
  readonly matchers?: Readonly<Record<string, (param: string) => boolean>>;
}

/**
 * The engine's limits to change, as the Rust engine applies them: any of the Rust crate's
 * `Limits` (Rule 5 (docs/security.md#rule-5)), under their serde names, durations in
 * milliseconds. The others keep their defaults, `DEFAULT_LIMITS` in `wire.ts` (`maxPayload`
 * 65536 bytes, `maxRooms` 32, `handlerTimeoutMs` 10000, ...). Behind a reverse proxy every
 * page has the proxy's address: raise `maxConnectionsPerAddress` there.
 *
 * @example
 * createEngine({ hooks, contracts, limits: { maxRooms: 8, handlerTimeoutMs: 5000 } });
 */
export type EngineLimits = Partial<Limits>;

/** A contract ready to be described to the engine. */
interface BoundContract {
  readonly route: string;
  readonly name: string;
  readonly namespace: string;
  readonly socket: ServerSocket<never, never, never>['~liverpc'];
}

/** A room function's or a handler's request: which one, for which socket. */
interface SocketRequest {
  contract: string;
  name: string;
  token: number;
  socket: string;
  params: Record<string, string>;
  data: unknown;
}
type Request =
  | { t: 'hook'; token: number; headers: [string, string][]; remote: string | null }
  | { t: 'free'; token: number }
  | ({ t: 'room' } & SocketRequest)
  | ({ t: 'call' } & SocketRequest);

type Refused = { ok: false; error: { code: ServerErrorCode; message: string; issues?: Issue[] } };
const FORBIDDEN: Refused = { ok: false, error: { code: 'forbidden', message: 'forbidden' } };
/** The refusals a hook may throw; any other throw refuses the connection `internal`. */
const HOOK_REFUSALS: readonly RefusalCode[] = ['unauthenticated', 'forbidden', 'unavailable'];
/** Marks a token whose hook is still running. */
const HOOK_RUNNING = Symbol('hook running');

function isSocket(value: unknown): value is ServerSocket<never, never, never> {
  return typeof value === 'function' && '~liverpc' in value;
}

/**
 * The engine serving a set of contracts in this process. Make one with `createEngine`, then
 * `attach` it to an HTTP server.
 */
export class Engine {
  #native: NativeApp;
  #hooks: EngineOptions['hooks'];
  #contracts = new Map<string, BoundContract>();
  #locals = new Map<number, Partial<Locals> | typeof HOOK_RUNNING>();

  /**
   * @example
   * const engine = new Engine({ hooks, contracts: [{ route: '/rooms/[roomId]', exports: chatModule }] });
   */
  constructor(options: EngineOptions) {
    this.#endpoint = options.endpoint ?? SOCKET_IO_PATH;
    this.#hooks = options.hooks;
    const description = {
      contracts: [] as object[],
      longPolling: options.longPolling ?? false,
      origins: options.origins ?? [],
      limits: options.limits ?? {},
      redis: options.redis ?? null,
    };
    for (const { route, exports } of options.contracts) {
      for (const [name, value] of Object.entries(exports)) {
        if (!isSocket(value)) continue;
        const def = value['~liverpc'];
        const namespace = namespaceOf(route, name);
        if (this.#contracts.has(namespace)) throw new LiverpcError('internal', `liverpc: contract ${namespace} registered twice`);
        this.#contracts.set(namespace, { route, name, namespace, socket: def });
        const rooms = Object.entries((def.rooms ?? {}) as Record<string, RoomDef>).map(([room, r]) => ({
          name: room,
          exposed: r.kind === 'expose',
          autoJoin: r.kind === 'private' && r.autoJoin,
        }));
        description.contracts.push({
          route,
          name,
          events: Object.keys(def.toClient ?? {}),
          handlers: Object.keys(def.fromClient ?? {}),
          rooms,
        });
      }
    }
    const { NativeApp } = loadNative();
    try {
      this.#native = new NativeApp((request) => this.#dispatch(request), JSON.stringify(description));
    } catch (e) {
      throw new LiverpcError('internal', `liverpc: the contracts were refused: ${e instanceof Error ? e.message : String(e)}`);
    }
    for (const { route, name, namespace, socket } of this.#contracts.values()) {
      const binding: Binding = {
        route,
        name,
        namespace,
        emit: (key, event, payload) => this.emit(namespace, key, event, payload),
      };
      (socket as { binding?: Binding }).binding = binding;
    }
  }

  /** @internal The addon's app, for the socket handoff of `liverpc/vite`'s dev server. */
  get native(): NativeApp {
    return this.#native;
  }

  /**
   * Serves the realtime endpoint (`/socket.io/`) on `server`'s websocket upgrades: each
   * socket is handed to the engine. Returns a function that detaches it.
   *
   * @example
   * const server = http.createServer(app);
   * engine.attach(server);
   * server.listen(3000);
   */
  attach(server: Server, options: { proxy?: boolean } = {}): () => void {
    return attach(server, () => this.#native, options);
  }

  // STAND-IN (prod-build): the engine helper's fixed interface (PROD-SPEC.md), so that the
  // build side compiles and runs before prod-engine lands. Dropped at merge in favour of theirs.
  /** Whether this upgrade request is liverpc's (its path is the endpoint). */
  ownsUpgrade(req: import('node:http').IncomingMessage): boolean {
    return new URL(req.url ?? '/', 'http://x').pathname.startsWith(this.#endpoint);
  }
  /** Hands an upgrade's socket to the engine. */
  handOver(req: import('node:http').IncomingMessage, socket: import('node:stream').Duplex, head: Buffer, _options: { remote?: string } = {}): void {
    handOver(this.#native, req, socket, head);
  }
  #endpoint: string = SOCKET_IO_PATH;
  /** Graceful close (stand-in: frees nothing). */
  close(_options: { timeoutMs?: number } = {}): Promise<void> {
    return Promise.resolve();
  }

  /** How many connections' locals are held now (for tests of the token's lifetime). */
  get connections(): number {
    return this.#locals.size;
  }

  /**
   * Emits `event` to every member of room `key` of the contract on `namespace`.
   *
   * @example
   * engine.emit('/rooms/[roomId]/chat', ['chat', 'general'], 'message', { from: 'bot', text: 'hi' });
   */
  emit(namespace: string, key: RoomKey, event: string, payload: unknown): number {
    return this.#native.emit(namespace, [...key], event, JSON.stringify(payload ?? null));
  }

  async #dispatch(text: string): Promise<string> {
    try {
      return JSON.stringify(await this.#answer(JSON.parse(text) as Request));
    } catch (e) {
      console.error('liverpc: internal error answering the engine:', e);
      return JSON.stringify({ ok: false, refuse: 'internal', error: { code: 'internal', message: 'internal server error' } });
    }
  }

  async #answer(request: Request): Promise<object> {
    switch (request.t) {
      case 'hook':
        return this.#hook(request.token, request.headers, request.remote);
      case 'free':
        this.#locals.delete(request.token);
        return {};
      case 'room':
        return this.#room(request);
      case 'call':
        return this.#call(request);
    }
  }

  async #hook(token: number, headers: [string, string][], remote: string | null): Promise<object> {
    this.#locals.set(token, HOOK_RUNNING);
    try {
      const locals = (await this.#hooks?.handle?.(handshakeEvent(headers, remote))) ?? {};
      // Freed meanwhile (the engine gave up on the hook): keep nothing.
      if (this.#locals.has(token)) this.#locals.set(token, locals);
      return { ok: true };
    } catch (e) {
      this.#locals.delete(token);
      if (e instanceof LiverpcError && isOneOf(HOOK_REFUSALS, e.code)) return { ok: false, refuse: e.code };
      console.error('liverpc: src/hooks.socket.ts threw; the connection is refused `internal`:', e);
      return { ok: false, refuse: 'internal' };
    }
  }

  #localsOf(token: number): Locals {
    const locals = this.#locals.get(token);
    return (locals === undefined || locals === HOOK_RUNNING ? {} : locals) as Locals;
  }

  async #room(request: SocketRequest): Promise<object> {
    const def = (this.#contracts.get(request.contract)?.socket.rooms as Record<string, RoomDef> | undefined)?.[request.name];
    if (def === undefined) return FORBIDDEN;
    const base = { params: request.params, locals: this.#localsOf(request.token) };
    try {
      let key: RoomKey | false;
      if (def.kind === 'expose') {
        const checked = await validate(def.schema, request.data);
        if (!checked.ok) return invalid(checked.issues);
        key = await def.decide({ ...base, data: checked.value });
      } else {
        key = await def.decide(base);
      }
      if (key === false) return FORBIDDEN;
      if (!Array.isArray(key) || key.length === 0 || !key.every((p) => typeof p === 'string')) {
        console.error(`liverpc: room ${request.contract}#${request.name} returned ${JSON.stringify(key)}, not a key of strings or false; the join is refused`);
        return FORBIDDEN;
      }
      return { ok: true, key };
    } catch (e) {
      console.error(`liverpc: room ${request.contract}#${request.name} threw; the join is refused \`forbidden\`:`, e);
      return FORBIDDEN;
    }
  }

  async #call(request: SocketRequest): Promise<object> {
    const def = (this.#contracts.get(request.contract)?.socket.fromClient as Record<string, Handler> | undefined)?.[request.name];
    if (def === undefined) return { ok: false, error: { code: 'not_found', message: `no handler ${request.name}` } };
    let data: unknown = null;
    if (def.schema !== undefined) {
      const checked = await validate(def.schema, request.data);
      if (!checked.ok) return invalid(checked.issues);
      data = checked.value;
    } else if (request.data !== null) {
      return invalid([{ path: '', message: 'this call takes no payload' }]);
    }
    const emits: object[] = [];
    const target = (room: string | RoomKey, others: boolean) => ({
      emit: (event: string, payload: unknown) => {
        emits.push({ ...(typeof room === 'string' ? { room } : { key: [...room] }), others, event, payload: payload ?? null });
      },
    });
    const args: HandlerArgs<unknown> = {
      data,
      params: request.params,
      locals: this.#localsOf(request.token),
      id: request.socket,
      within: (room) => target(room, false),
      to: (room) => target(room, true),
      self: { emit: (event, payload) => void emits.push({ event, payload: payload ?? null }) },
    };
    try {
      const reply = await def.run(args as HandlerArgs<never>);
      return { ok: true, data: reply ?? null, emits };
    } catch (e) {
      if (e instanceof LiverpcError && isOneOf(SERVER_ERROR_CODES, e.code)) {
        return { ok: false, error: { code: e.code, message: e.message, ...(e.issues ? { issues: e.issues } : {}) } };
      }
      // Logged without the payload (Rule 3 (docs/security.md#rule-3)).
      console.error(`liverpc: handler ${request.contract}#${request.name} threw; answered \`internal\`:`, e);
      return { ok: false, error: { code: 'internal', message: 'internal server error' } };
    }
  }
}

function invalid(issues: Issue[]): Refused {
  return { ok: false, error: { code: 'invalid_payload', message: invalidPayloadMessage(issues), issues } };
}

/**
 * Starts the engine for a set of contracts.
 *
 * @example
 * import * as hooks from './src/hooks.socket';
 * import * as chat from './src/routes/rooms/[roomId]/chat.socket';
 * const engine = createEngine({ hooks, contracts: [{ route: '/rooms/[roomId]', exports: chat }] });
 * engine.attach(httpServer);
 */
export function createEngine(options: EngineOptions): Engine {
  return new Engine(options);
}
