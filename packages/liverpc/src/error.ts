/**
 * Errors: what a call, a join or a leave rejects with, and the codes a refused handshake
 * carries. One class, `LiverpcError`, whose `code` says what went wrong.
 */

import { REFUSAL_CODES, type RefusalCode, SERVER_ERROR_CODES, type ServerErrorCode } from './wire.js';

export type { RefusalCode, ServerErrorCode };

/**
 * Codes the client itself produces, when no answer came from the server:
 * - `disconnected`: the connection dropped (or the page navigated) before the answer came;
 * - `timeout`: no answer within the call timeout;
 * - `closed`: the client was closed, or has no connection at all (server-side rendering);
 * - `cancelled`: a join the page replaced (by a leave of the same room and payload) before it
 *   took effect.
 */
export type ClientErrorCode = 'disconnected' | 'timeout' | 'closed' | 'cancelled';

/**
 * Every code a `LiverpcError` may carry. Of the refusal codes, `unavailable` (the server could
 * not decide now) is retried with backoff; the others are final.
 */
export type ErrorCode = ServerErrorCode | RefusalCode | ClientErrorCode;

/** One problem with a payload: where (`text`, `items.0.name`, `` for the whole payload) and what. */
export interface Issue {
  path: string;
  message: string;
}

/**
 * Join refusals that asking again later may change: the runtime retries them with backoff.
 * Every other refusal (`forbidden`, `not_found`, `invalid_payload`, `too_large`) is final.
 */
export const TRANSIENT: readonly ErrorCode[] = ['rate_limited', 'unavailable', 'internal', 'timeout'];

/**
 * The brand every `LiverpcError` carries, whichever copy of this module made it: a bundle may
 * hold two (the app's `liverpc` and the server's), and `instanceof` alone would tell them apart.
 */
const BRAND: unique symbol = Symbol.for('liverpc.error') as never;

/**
 * The error every liverpc promise rejects with. `instanceof LiverpcError` holds for one made by
 * any copy of liverpc (the check reads a brand, not the prototype).
 *
 * @example
 * try {
 *   await room.send({ text });
 * } catch (e) {
 *   if (e instanceof LiverpcError && e.code === 'invalid_payload') {
 *     for (const issue of e.issues ?? []) console.log(issue.path, issue.message);
 *   }
 * }
 */
export class LiverpcError extends Error {
  /** What went wrong; see {@link ErrorCode}. */
  readonly code: ErrorCode;
  /** For `invalid_payload`: each problem with the payload (absent otherwise). */
  declare readonly issues?: Issue[];

  /**
   * @example
   * throw new LiverpcError('closed', 'the client was closed');
   */
  constructor(code: ErrorCode, message: string, issues?: Issue[]) {
    super(message);
    this.name = 'LiverpcError';
    this.code = code;
    Object.defineProperty(this, BRAND, { value: true });
    if (issues !== undefined) Object.defineProperty(this, 'issues', { value: issues, enumerable: true });
  }

  /** `instanceof LiverpcError` by the brand; a subclass keeps the prototype check. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== LiverpcError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return isLiverpcError(value);
  }
}

/**
 * Whether `value` is a `LiverpcError` made by any copy of liverpc (what `instanceof` checks).
 *
 * @example
 * try { await chat().send({ text }); } catch (e) { if (isLiverpcError(e)) console.log(e.code); }
 */
export function isLiverpcError(value: unknown): value is LiverpcError {
  return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Whether `value` is one of `codes` (a wire list). */
export function isOneOf<C extends string>(codes: readonly C[], value: string): value is C {
  return (codes as readonly string[]).includes(value);
}

function isIssue(value: unknown): value is Issue {
  return isObject(value) && typeof value.path === 'string' && typeof value.message === 'string';
}

/**
 * A wire error `{ code, message, issues? }` as a `LiverpcError`; anything malformed becomes
 * `internal`.
 *
 * @example
 * fromWire({ code: 'forbidden', message: 'forbidden' }).code; // 'forbidden'
 */
export function fromWire(error: unknown): LiverpcError {
  if (!isObject(error) || typeof error.code !== 'string' || !isOneOf(SERVER_ERROR_CODES, error.code)) {
    return new LiverpcError('internal', 'liverpc: malformed error from the server');
  }
  const message = typeof error.message === 'string' ? error.message : error.code;
  const issues = Array.isArray(error.issues) ? error.issues.filter(isIssue) : undefined;
  return new LiverpcError(error.code, message, issues);
}

/**
 * The refusal code of a `connect_error` message; an unknown message is `internal`.
 *
 * @example
 * refusalCode('unauthenticated'); // 'unauthenticated'
 */
export function refusalCode(message: string): RefusalCode {
  return isOneOf(REFUSAL_CODES, message) ? message : 'internal';
}
