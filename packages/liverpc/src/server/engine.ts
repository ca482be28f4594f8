/**
 * The engine in this process: registers contracts with the addon and answers its requests
 * (the hook, room functions, handlers). Locals stay JavaScript objects, kept here under the
 * per-connection token the engine holds; the engine frees the token when the connection goes.
 */

import { LiverpcError, isLiverpcError, isOneOf, type Issue, type RefusalCode, type ServerErrorCode } from '../error.js';
import { invalidPayloadMessage, namespaceOf } from '../protocol.js';
import { type Limits, SERVER_ERROR_CODES } from '../wire.js';
import type { Binding, Handler, HandlerArgs, Locals, MaybePromise, RoomDef, RoomHistory, RoomKey, RoomsDef, ServerSocket, ToClientDef } from './contract.js';
import { handshakeEvent, type Handle } from './hooks.js';
import { Incidents } from './incidents.js';
import { loadNative, type NativeApp } from './native.js';
import { isThenable, validate } from './schema.js';
import { SOCKET_IO_PATH, attach, handOver, isEndpoint } from './upgrade.js';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';

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
  /**
   * The Socket.IO endpoint's path (default `/socket.io/`); under SvelteKit's `paths.base`,
   * `${base}/socket.io/`. The page's client connects with the same `path`.
   */
  readonly endpoint?: string;
  /**
   * Hook, room function and handler runs queued for or running in JavaScript at once, for the
   * whole engine (default 1024; Rule 5 (docs/security.md#rule-5)). Past it a call or a join is
   * answered `rate_limited` and a connection refused `unavailable` (the page retries with
   * backoff). A run counts until its promise settles, also after it timed out.
   */
  readonly maxPendingJs?: number;
  /**
   * SvelteKit's param matchers by name (`src/params/<name>.ts`'s `match`), for routes with
   * `[param=name]`: a page whose URL a matcher refuses is refused `not_found` (the contract
   * belongs to one route: there is no fallback to another route, as SvelteKit's router has).
   */
  readonly matchers?: Readonly<Record<string, (param: string) => boolean>>;
}

/** How `engine.close()` shuts down. */
export interface CloseOptions {
  /**
   * How long calls, joins and leaves in flight may take to finish and be answered before what
   * is left is cancelled (default 30000 ms, adapter-node's `SHUTDOWN_TIMEOUT`).
   */
  readonly timeoutMs?: number;
}

/**
 * The engine's limits to change, as the Rust engine applies them: any of the Rust crate's
 * `Limits` (Rule 5 (docs/security.md#rule-5)), under their serde names, durations in
 * milliseconds. The others keep their defaults, `DEFAULT_LIMITS` in `wire.ts` (`maxPayload`
 * 65536 bytes, `maxRooms` 32, `handlerTimeoutMs` 10000, ...). Behind a reverse proxy every
 * socket has the proxy's address unless the server hands it over with the client's
 * (`handOver(..., { remote })`, which `liverpc/node` does from `ADDRESS_HEADER`/`XFF_DEPTH`).
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
/** Why the engine gave up on a run: its timeout, its socket closed, or it stopped waiting. */
type AbortWhy = 'timeout' | 'disconnected' | 'gone';
type Request =
  | { t: 'hook'; id: number; token: number; headers: [string, string][]; remote: string | null }
  | { t: 'free'; token: number }
  | { t: 'abort'; id: number; why: AbortWhy }
  | ({ t: 'room'; id: number } & SocketRequest)
  | ({ t: 'call'; id: number } & SocketRequest)
  | { t: 'match'; id: number; contract: string; params: Record<string, string> };
type RunRequest = Exclude<Request, { t: 'free' } | { t: 'abort' }>;

type Refused = { ok: false; error: { code: ServerErrorCode; message: string; issues?: Issue[] } };
const FORBIDDEN: Refused = { ok: false, error: { code: 'forbidden', message: 'forbidden' } };
/** What the page is told of a failure inside the server: nothing more (the log has the rest). */
const INTERNAL: Refused = { ok: false, error: { code: 'internal', message: 'internal server error' } };
const ROOM_HINT =
  'If it reads what the hook leaves out for some connections (a guest has no `locals.user`), ' +
  'declare that optional in Liverpc.Locals and return false when it is missing.';
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
  /** The signal of each run in JavaScript, by the engine's request id. */
  #signals = new Map<number, RunSignal>();
  /** Runs whose promise has not settled (what `close()` waits for). */
  #running = new Set<Promise<string>>();
  #incidents = new Incidents(console);
  #endpoint: string;
  #closing: Promise<void> | undefined;
  /** Set once `close()` has finished: nothing is served or emitted any more. */
  #closed = false;
  #matchers: Readonly<Record<string, (param: string) => boolean>>;
  /** `(param, matcher)` of every `[param=matcher]`, by contract namespace. */
  #matched = new Map<string, [string, string][]>();
  /** Whether any room of any contract has presence (else the hook derives nothing to show). */
  #presence = false;

  /**
   * @example
   * const engine = new Engine({ hooks, contracts: [{ route: '/rooms/[roomId]', exports: chatModule }] });
   */
  constructor(options: EngineOptions) {
    this.#hooks = options.hooks;
    this.#endpoint = options.endpoint ?? SOCKET_IO_PATH;
    this.#matchers = options.matchers ?? {};
    const description = {
      contracts: [] as object[],
      longPolling: options.longPolling ?? false,
      origins: options.origins ?? [],
      limits: options.limits ?? {},
      redis: options.redis ?? null,
      endpoint: this.#endpoint,
      maxPendingJs: options.maxPendingJs ?? null,
    };
    for (const { route, exports } of options.contracts) {
      for (const [name, value] of Object.entries(exports)) {
        if (!isSocket(value)) continue;
        const def = value['~liverpc'];
        const namespace = namespaceOf(route, name);
        if (this.#contracts.has(namespace)) throw new LiverpcError('internal', `liverpc: contract ${namespace} registered twice`);
        this.#contracts.set(namespace, { route, name, namespace, socket: def });
        const pairs = matcherPairs(route);
        for (const [, matcher] of pairs) {
          if (typeof this.#matchers[matcher] !== 'function') {
            throw new LiverpcError(
              'internal',
              `liverpc: route ${route} (contract ${namespace}) uses the param matcher \`${matcher}\`, but no matcher of that name was given: export \`match\` from src/params/${matcher}.ts`,
            );
          }
        }
        if (pairs.length > 0) this.#matched.set(namespace, pairs);
        const rooms = Object.entries((def.rooms ?? {}) as Record<string, RoomDef>).map(([room, r]) => ({
          name: room,
          exposed: r.kind === 'expose',
          autoJoin: r.kind === 'private' && r.autoJoin,
          presence: r.presence !== undefined,
          history: r.history === undefined ? null : { ...r.history },
        }));
        if (rooms.some((r) => r.presence)) this.#presence = true;
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
      this.#native = new NativeApp((requests) => this.#dispatch(requests), JSON.stringify(description));
    } catch (e) {
      throw new LiverpcError('internal', `liverpc: the contracts were refused: ${e instanceof Error ? e.message : String(e)}`);
    }
    for (const { route, name, namespace, socket } of this.#contracts.values()) {
      const binding: Binding = {
        route,
        name,
        namespace,
        emit: (key, event, payload) => this.emit(namespace, key, event, payload),
        history: (key, limit) => this.history(namespace, key, limit),
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
    return attach(server, () => this.#native, { ...options, endpoint: this.#endpoint });
  }

  /**
   * @internal Whether this upgrade request is for the engine's endpoint (`liverpc/node` and
   * `liverpc/vite` pass the others on).
   */
  ownsUpgrade(req: IncomingMessage): boolean {
    return isEndpoint(req, this.#endpoint);
  }

  /**
   * @internal Hands an upgrade's socket to the engine; `remote` is the client's address as the
   * caller decided it (adapter-node's `ADDRESS_HEADER` / `XFF_DEPTH`), else the socket's peer
   * counts. A socket the engine cannot take (it is closed) is destroyed: the page's client
   * retries with backoff.
   */
  handOver(req: IncomingMessage, socket: Duplex, head: Buffer, options: { remote?: string } = {}): void {
    try {
      handOver(this.#native, req, socket, head, options.remote);
    } catch (e) {
      if (this.#closing === undefined) console.error('liverpc: a websocket upgrade could not be served:', e);
      socket.destroy();
    }
  }

  /**
   * Shuts the engine down gracefully: no new connection or handshake is taken; the calls,
   * joins and leaves in flight finish and are answered, up to `timeoutMs` (then they are
   * cancelled: their `signal` aborts); every connection is then closed at the transport, so
   * the pages' clients reconnect with backoff (never shown `refused`). Resolves once every
   * connection is closed and the engine holds nothing (the addon's dispatch function is
   * released, the native app freed). Calling it again returns the same promise.
   *
   * @example
   * process.on('SIGTERM', () => void engine.close({ timeoutMs: 30_000 }).then(() => server.close()));
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.#closing ??= this.#shutdown(options.timeoutMs ?? 30_000);
    return this.#closing;
  }

  async #shutdown(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await this.#native.close(Math.max(0, Math.round(timeoutMs)));
    this.#closed = true;
    // Every connection is closed now: what still runs was cut with it. The engine asked each
    // to stop; say it here too, so no abort can be lost to the close's own race.
    for (const signal of this.#signals.values()) signal.abort(abortReason('disconnected'));
    // JavaScript still running past the deadline was asked to stop (its signal): give it what
    // is left of the time, not more.
    const left = deadline - Date.now();
    if (this.#running.size > 0 && left > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const expired = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, left);
        timer.unref();
      });
      await Promise.race([Promise.allSettled([...this.#running]), expired]);
      clearTimeout(timer);
    }
    this.#locals.clear();
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
    if (this.#closed) throw new LiverpcError('unavailable', 'liverpc: the engine is closed');
    return this.#native.emit(namespace, [...key], event, JSON.stringify(payload ?? null));
  }

  /**
   * The last `limit` messages of room `key` of the contract on `namespace`, with positions.
   *
   * @example
   * const { messages, position } = await engine.history('/rooms/[roomId]/chat', ['chat', 'general'], 50);
   */
  async history(namespace: string, key: RoomKey, limit: number): Promise<RoomHistory<Record<string, unknown>>> {
    if (this.#closing !== undefined) throw new LiverpcError('unavailable', 'liverpc: the engine is closed');
    const bounded = Math.max(0, Math.min(Math.floor(limit), 0xffff_ffff));
    try {
      return JSON.parse(await this.#native.history(namespace, [...key], bounded)) as RoomHistory<Record<string, unknown>>;
    } catch (e) {
      throw new LiverpcError('not_found', `liverpc: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /**
   * The engine's requests queued since JavaScript last took them (a JSON array): the frees and
   * aborts are done at once, the runs started; their answers go back together (`#answered`).
   */
  #dispatch(text: string): void {
    let requests: Request[];
    try {
      requests = JSON.parse(text) as Request[];
    } catch (e) {
      console.error('liverpc: the engine sent requests that are not JSON:', e);
      return;
    }
    for (const request of requests) {
      switch (request.t) {
        case 'free':
          this.#locals.delete(request.token);
          break;
        case 'abort':
          this.#signals.get(request.id)?.abort(abortReason(request.why));
          break;
        default: {
          const { id } = request;
          const signal = new RunSignal();
          const run = this.#run(request, signal);
          if (typeof run === 'string') {
            // Settled at once (synchronous user code, the usual case): no abort can reach it.
            this.#answer(id, run);
            break;
          }
          this.#signals.set(id, signal);
          this.#running.add(run);
          void run.then((answer) => {
            this.#signals.delete(id);
            this.#running.delete(run);
            this.#answer(id, answer);
          });
        }
      }
    }
  }

  /** Answers settled since the last flush, `[id,answer]` texts. */
  #answers: string[] = [];

  /**
   * Queues a run's answer; the answers settled in one turn of the event loop go to the engine
   * in one call (flushed in its check phase, right after the poll phase that woke JavaScript).
   */
  #answer(id: number, answer: string): void {
    if (this.#answers.length === 0) setImmediate(this.#flush);
    this.#answers.push(`[${id},${answer}]`);
  }

  #flush = (): void => {
    const answers = this.#answers;
    this.#answers = [];
    try {
      this.#native.answer(`[${answers.join(',')}]`);
    } catch (e) {
      console.error('liverpc: the engine refused answers:', e);
    }
  };

  /**
   * One hook, room function or handler run, with its signal: its answer at once when the user
   * code returned at once, else a promise of it; never throws nor rejects.
   */
  #run(request: RunRequest, signal: RunSignal): string | Promise<string> {
    return attempt(() => then(this.#decide(request, signal), (answer) => JSON.stringify(answer)), failedRun);
  }

  #decide(request: RunRequest, signal: RunSignal): MaybePromise<object> {
    switch (request.t) {
      case 'hook':
        return this.#hook(request.token, request.headers, request.remote, signal);
      case 'room':
        return this.#room(request, signal);
      case 'call':
        return this.#call(request, signal);
      case 'match':
        return { ok: this.#match(request.contract, request.params) };
    }
  }

  /** Whether every matcher of the contract's route accepts its param (an absent one is not checked). */
  #match(contract: string, params: Record<string, string>): boolean {
    for (const [param, name] of this.#matched.get(contract) ?? []) {
      const value = params[param];
      if (value === undefined) continue;
      try {
        if (this.#matchers[name]?.(value) !== true) return false;
      } catch (e) {
        this.#incidents.failed(`param matcher src/params/${name}`, e, 'the page is refused `not_found`', 'A matcher returns a boolean.');
        return false;
      }
    }
    return true;
  }

  #hook(token: number, headers: [string, string][], remote: string | null, signal: RunSignal): MaybePromise<object> {
    this.#locals.set(token, HOOK_RUNNING);
    const hooked = (returned: Partial<Locals> | undefined): object => {
      const locals = returned ?? {};
      // Freed meanwhile (the engine gave up on the hook): keep nothing.
      if (this.#locals.has(token)) this.#locals.set(token, locals);
      return this.#presence ? { ok: true, presence: this.#shown(locals as Locals) } : { ok: true };
    };
    return attempt(() => then(this.#hooks?.handle?.(handshakeEvent(headers, remote, () => signal.signal)), hooked), (e) => {
      this.#locals.delete(token);
      if (isLiverpcError(e) && isOneOf(HOOK_REFUSALS, e.code)) return { ok: false, refuse: e.code };
      this.#incidents.failed(
        'the connection hook (src/hooks.socket.ts)',
        e,
        'the connection is refused `internal`',
        'Return the locals a guest has (leave `user` out), or throw new LiverpcError("unauthenticated", ...) to refuse it.',
      );
      return { ok: false, refuse: 'internal' };
    });
  }

  /**
   * What a connection shows in every room with presence, by namespace and room: derived now,
   * from the locals the hook returned (they never change), because the engine reads it when the
   * socket joins, synchronously. A room where it shows nothing is left out (not listed).
   */
  #shown(locals: Locals): Record<string, Record<string, unknown>> {
    const shown: Record<string, Record<string, unknown>> = {};
    for (const { namespace, socket } of this.#contracts.values()) {
      for (const [room, def] of Object.entries((socket.rooms ?? {}) as Record<string, RoomDef>)) {
        if (def.presence === undefined) continue;
        let data: unknown;
        try {
          data = def.presence({ locals });
        } catch (e) {
          this.#incidents.failed(`presence of room ${namespace}#${room}`, e, 'the member is not listed', 'Return null for a member who shows nothing (a guest).');
          continue;
        }
        if (data !== null && data !== undefined) (shown[namespace] ??= {})[room] = data;
      }
    }
    return shown;
  }

  #localsOf(token: number): Locals {
    const locals = this.#locals.get(token);
    return (locals === undefined || locals === HOOK_RUNNING ? {} : locals) as Locals;
  }

  #room(request: SocketRequest, signal: RunSignal): MaybePromise<object> {
    const def = (this.#contracts.get(request.contract)?.socket.rooms as Record<string, RoomDef> | undefined)?.[request.name];
    if (def === undefined) return FORBIDDEN;
    const params = request.params;
    const locals = this.#localsOf(request.token);
    const decided = (key: RoomKey | false): object => {
      if (key === false) return FORBIDDEN;
      if (!Array.isArray(key) || key.length === 0 || !key.every((p) => typeof p === 'string')) {
        console.error(`liverpc: room ${request.contract}#${request.name} returned ${JSON.stringify(key)}, not a key of strings or false; the join is refused`);
        return FORBIDDEN;
      }
      return { ok: true, key };
    };
    return attempt(
      () => {
        if (def.kind === 'expose') {
          const { schema, decide } = def;
          return then(validate(schema, request.data), (checked) => {
            if (!checked.ok) return invalid(checked.issues);
            const data = checked.value;
            return then(
              decide({
                params,
                locals,
                data,
                get signal() {
                  return signal.signal;
                },
              }),
              decided,
            );
          });
        }
        return then(
          def.decide({
            params,
            locals,
            get signal() {
              return signal.signal;
            },
          }),
          decided,
        );
      },
      (e) => {
        // A deliberate refusal; anything else refuses too (Rule 2 (docs/security.md#rule-2)).
        if (isLiverpcError(e) && e.code === 'forbidden') return FORBIDDEN;
        this.#incidents.failed(`room ${request.contract}#${request.name}`, e, 'the join is refused `forbidden`', ROOM_HINT);
        return FORBIDDEN;
      },
    );
  }

  #call(request: SocketRequest, signal: RunSignal): MaybePromise<object> {
    const def = (this.#contracts.get(request.contract)?.socket.fromClient as Record<string, Handler> | undefined)?.[request.name];
    if (def === undefined) return { ok: false, error: { code: 'not_found', message: `no handler ${request.name}` } };
    if (def.schema === undefined) {
      if (request.data !== null) return invalid([{ path: '', message: 'this call takes no payload' }]);
      return this.#handle(request, signal, def, null);
    }
    return then(validate(def.schema, request.data), (checked) =>
      checked.ok ? this.#handle(request, signal, def, checked.value) : invalid(checked.issues),
    );
  }

  /** Runs a handler on its validated payload. */
  #handle(request: SocketRequest, signal: RunSignal, def: Handler, data: unknown): MaybePromise<object> {
    const emits: object[] = [];
    const target = (room: string | RoomKey, others: boolean) => ({
      emit: (event: string, payload: unknown) => {
        emits.push({ ...(typeof room === 'string' ? { room } : { key: [...room] }), others, event, payload: payload ?? null });
      },
    });
    const args: HandlerArgs<unknown, ToClientDef, RoomsDef> = {
      data,
      params: request.params,
      locals: this.#localsOf(request.token),
      get signal() {
        return signal.signal;
      },
      id: request.socket,
      within: (room) => target(room, false),
      to: (room) => target(room, true),
      self: { emit: (event, payload) => void emits.push({ event, payload: payload ?? null }) },
    };
    return attempt<object>(
      () => then(def.run(args as never), (reply): object => ({ ok: true, data: reply ?? null, emits })),
      (e) => {
        // By a brand, not `instanceof`: the class may come from another copy of liverpc.
        if (isLiverpcError(e) && isOneOf(SERVER_ERROR_CODES, e.code) && e.code !== 'internal') {
          return { ok: false, error: { code: e.code, message: e.message, ...(e.issues ? { issues: e.issues } : {}) } };
        }
        // Logged without the payload (Rule 3 (docs/security.md#rule-3)); the page learns nothing
        // of it, not even an `internal` error's own message.
        this.#incidents.failed(
          `handler ${request.contract}#${request.name}`,
          e,
          'answered `internal` (the page gets no message)',
          'Throw a LiverpcError with a code to answer the page with it.',
        );
        return INTERNAL;
      },
    );
  }
}

/**
 * `next(value)`, at once when `value` is not a promise, else once it resolves: a run whose user
 * code is synchronous makes no promise (and waits for no microtask).
 */
function then<T, U>(value: T | PromiseLike<T>, next: (value: T) => MaybePromise<U>): MaybePromise<U> {
  return isThenable(value) ? Promise.resolve(value).then(next) : next(value);
}

/** `run()`, its throw or its rejection answered by `failed` (sync or async as `run` is). */
function attempt<T>(run: () => MaybePromise<T>, failed: (e: unknown) => T): MaybePromise<T> {
  let result: MaybePromise<T>;
  try {
    result = run();
  } catch (e) {
    return failed(e);
  }
  return isThenable(result) ? Promise.resolve(result).then(undefined, failed) : result;
}

/** A run that failed inside liverpc itself (an answer that cannot be written, e.g.). */
function failedRun(e: unknown): string {
  console.error('liverpc: internal error answering the engine:', e);
  return JSON.stringify({ ok: false, refuse: 'internal', error: INTERNAL.error });
}

/** The `(param, matcher)` pairs of a route id's `[param=matcher]`, `[[param=matcher]]`, `[...param=matcher]`. */
function matcherPairs(route: string): [string, string][] {
  const pairs: [string, string][] = [];
  for (const m of route.matchAll(/\[\[?(?:\.\.\.)?([A-Za-z_]\w*)=([A-Za-z_]\w*)\]\]?/g)) {
    if (m[1] !== undefined && m[2] !== undefined) pairs.push([m[1], m[2]]);
  }
  return pairs;
}

/**
 * A run's `signal`, its `AbortController` made when first read (most runs never read it); an
 * abort before that is kept, and the signal is made already aborted.
 */
class RunSignal {
  #controller: AbortController | undefined;
  #reason: LiverpcError | undefined;

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#reason !== undefined) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Aborts the signal (the first reason stays, as `AbortController#abort` keeps it). */
  abort(reason: LiverpcError): void {
    if (this.#controller !== undefined) this.#controller.abort(reason);
    else this.#reason ??= reason;
  }
}

/** What a run's signal is aborted with: why the engine gave up on it. */
function abortReason(why: AbortWhy): LiverpcError {
  switch (why) {
    case 'timeout':
      return new LiverpcError('timeout', 'liverpc: past the handler timeout; the page was answered `timeout`');
    case 'disconnected':
      return new LiverpcError('disconnected', 'liverpc: the socket closed');
    case 'gone':
      return new LiverpcError('unavailable', 'liverpc: the engine no longer waits for this');
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
