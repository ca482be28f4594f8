/**
 * The connection hook (`src/hooks.socket.ts`): reads the handshake, returns the locals.
 */

import type { Locals, MaybePromise } from './contract.js';

/** The handshake of a connecting page, as the hook reads it. */
export interface HandshakeEvent {
  /** The handshake request's headers. */
  readonly headers: Headers;
  /** Its cookies (`cookies.get('session')`). */
  readonly cookies: { get(name: string): string | undefined };
  /**
   * The client's IP address (as SvelteKit's `getClientAddress()`: no port), when the engine
   * knows it: the socket's peer, or what the server handing the socket over decided
   * (`ADDRESS_HEADER` behind a proxy).
   */
  readonly remote: string | undefined;
  /** Aborted when the engine stops waiting for the hook (its timeout, or the page left). */
  readonly signal: AbortSignal;
}

/**
 * The hook's result: the connection's locals. Leave out what the handshake does not prove (no
 * session, no `user`): a room function that reads it then throws and its join is refused.
 * Throw `new LiverpcError('unauthenticated' | 'forbidden' | 'unavailable', ...)` to refuse the
 * connection; any other throw refuses it `internal`.
 */
export type Handle = (event: HandshakeEvent) => MaybePromise<Partial<Locals>>;

/**
 * Types a hook (an identity function).
 *
 * @example
 * // src/hooks.socket.ts
 * export const handle = hook(async ({ cookies }) => ({ user: await sessions.user(cookies.get('session')) }));
 */
export function hook(handle: Handle): Handle {
  return handle;
}

/** A handshake event from the engine's request. */
export function handshakeEvent(
  headers: readonly (readonly [string, string])[],
  remote: string | null,
  signal: AbortSignal = new AbortController().signal,
): HandshakeEvent {
  const h = new Headers();
  for (const [name, value] of headers) h.append(name, value);
  const cookie = h.get('cookie') ?? '';
  return {
    headers: h,
    cookies: {
      get(name) {
        for (const pair of cookie.split(';')) {
          const at = pair.indexOf('=');
          if (at > 0 && pair.slice(0, at).trim() === name) {
            const value = pair.slice(at + 1).trim().replace(/^"(.*)"$/, '$1');
            try {
              return decodeURIComponent(value);
            } catch {
              return value;
            }
          }
        }
        return undefined;
      },
    },
    remote: remote ?? undefined,
    signal,
  };
}
