/**
 * Errors: what a call, a join or a leave rejects with, and the codes a refused handshake
 * carries. One class, `LiverpcError`, whose `code` says what went wrong.
 */

/** Codes the server answers a call, a join or a leave with (the ack envelope's `error.code`). */
export type ServerErrorCode =
  | 'invalid_payload'
  | 'forbidden'
  | 'not_found'
  | 'rate_limited'
  | 'too_large'
  | 'timeout'
  | 'unavailable'
  | 'internal';

/**
 * Codes of a refused handshake (the `connect_error` message). `unavailable` (the server could
 * not decide now) is retried with backoff; the others are final.
 */
export type RefusalCode =
  | 'forbidden_origin'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'unavailable'
  | 'internal';

/**
 * Codes the client itself produces, when no answer came from the server:
 * - `disconnected`: the connection dropped (or the page navigated) before the answer came;
 * - `timeout`: no answer within the call timeout;
 * - `closed`: the client was closed, or has no connection at all (server-side rendering);
 * - `cancelled`: a join the page replaced (by a leave of the same room and payload) before it
 *   took effect.
 */
export type ClientErrorCode = 'disconnected' | 'timeout' | 'closed' | 'cancelled';

/** Every code a `LiverpcError` may carry. */
export type ErrorCode = ServerErrorCode | RefusalCode | ClientErrorCode;

/** One problem with a payload: where (`text`, `items.0.name`, `` for the whole payload) and what. */
export interface Issue {
  path: string;
  message: string;
}

const REFUSAL_CODES: readonly string[] = [
  'forbidden_origin',
  'unauthenticated',
  'forbidden',
  'not_found',
  'unavailable',
  'internal',
];
const SERVER_CODES: readonly string[] = [
  'invalid_payload',
  'forbidden',
  'not_found',
  'rate_limited',
  'too_large',
  'timeout',
  'unavailable',
  'internal',
];

/**
 * Join refusals that asking again later may change: the runtime retries them with backoff.
 * Every other refusal (`forbidden`, `not_found`, `invalid_payload`, `too_large`) is final.
 */
export const TRANSIENT: readonly ErrorCode[] = ['rate_limited', 'unavailable', 'internal', 'timeout'];

/**
 * The error every liverpc promise rejects with.
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
    if (issues !== undefined) Object.defineProperty(this, 'issues', { value: issues, enumerable: true });
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
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
  if (!isObject(error) || typeof error.code !== 'string' || !SERVER_CODES.includes(error.code)) {
    return new LiverpcError('internal', 'liverpc: malformed error from the server');
  }
  const message = typeof error.message === 'string' ? error.message : error.code;
  const issues = Array.isArray(error.issues) ? error.issues.filter(isIssue) : undefined;
  return new LiverpcError(error.code as ServerErrorCode, message, issues);
}

/**
 * The refusal code of a `connect_error` message; an unknown message is `internal`.
 *
 * @example
 * refusalCode('unauthenticated'); // 'unauthenticated'
 */
export function refusalCode(message: string): RefusalCode {
  return REFUSAL_CODES.includes(message) ? (message as RefusalCode) : 'internal';
}
