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

/**
 * A handshake event from the engine's request. Its `Headers` and its `signal` (`signal()`) are
 * made when first read (most hooks read only a cookie, which is taken from the raw list).
 */
export function handshakeEvent(
  headers: readonly (readonly [string, string])[],
  remote: string | null,
  signal: () => AbortSignal = () => new AbortController().signal,
): HandshakeEvent {
  let made: Headers | undefined;
  let cookie: string | undefined;
  let aborted: AbortSignal | undefined;
  return {
    get headers(): Headers {
      if (made === undefined) {
        made = new Headers();
        for (const [name, value] of headers) made.append(name, value);
      }
      return made;
    },
    cookies: {
      get(name) {
        cookie ??= cookieHeader(headers);
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
    get signal(): AbortSignal {
      return (aborted ??= signal());
    },
  };
}

/** The `cookie` header as `Headers#get` gives it: every one, joined with `; `. */
function cookieHeader(headers: readonly (readonly [string, string])[]): string {
  let joined: string | undefined;
  for (const [name, value] of headers) {
    if (name.length !== 6 || name.toLowerCase() !== 'cookie') continue;
    joined = joined === undefined ? value.trim() : `${joined}; ${value.trim()}`;
  }
  return joined ?? '';
}
