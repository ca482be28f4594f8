/**
 * The rooms the page asked to be in, by name and payload: the page's intent, which the
 * connection makes true after every join, leave, reconnect and navigation. Payloads compare
 * as canonical JSON (key order does not matter), as the server compares a leave with its join.
 */

import type { LiverpcError } from '../error.js';
import { canonical } from '../protocol.js';

/** Someone waiting for an outcome: a join's, or the next handshake's. */
export interface Waiter {
  resolve(): void;
  reject(error: LiverpcError): void;
}

/**
 * One explicit join the page wants: the room's name, its payload (`undefined` for a private
 * room), the join promises waiting for its outcome, and its retry backoff.
 */
export interface Intent {
  readonly room: string;
  readonly data: unknown;
  readonly waiters: Waiter[];
  /** Transient refusals in a row (the backoff's exponent), and the last one. */
  attempt: number;
  error?: LiverpcError;
  /** The pending retry, if any. */
  timer?: ReturnType<typeof setTimeout>;
}

/** See the module documentation. */
export class Joined {
  readonly #intents = new Map<string, Intent>();

  /**
   * Records a join the page wants, replacing an earlier one of the same room and payload
   * (whose waiters it inherits) and cancelling that one's retry.
   *
   * @example
   * const intent = joined.want('project', { projectId: 'apollo' });
   */
  want(room: string, data: unknown): Intent {
    const previous = this.take(room, data);
    const intent: Intent = { room, data, waiters: previous?.waiters ?? [], attempt: 0 };
    this.#intents.set(keyOf(room, data), intent);
    return intent;
  }

  /**
   * Forgets a join (a leave, or a final refusal) and cancels its retry; returns it, if any.
   *
   * @example
   * joined.take('project', { projectId: 'apollo' });
   */
  take(room: string, data: unknown): Intent | undefined {
    const key = keyOf(room, data);
    const intent = this.#intents.get(key);
    if (intent === undefined) return undefined;
    clearTimeout(intent.timer);
    this.#intents.delete(key);
    return intent;
  }

  /**
   * Whether this very intent is still the page's (not left, not replaced).
   *
   * @example
   * if (joined.current(intent)) retry(intent);
   */
  current(intent: Intent): boolean {
    return this.#intents.get(keyOf(intent.room, intent.data)) === intent;
  }

  /**
   * Every join the page wants, in the order they were made.
   *
   * @example
   * for (const { room, data } of joined.all()) rejoin(room, data);
   */
  all(): Intent[] {
    return [...this.#intents.values()];
  }

  /**
   * Forgets everything (the connection closed); returns what was wanted.
   *
   * @example
   * for (const intent of joined.clear()) for (const w of intent.waiters) w.reject(closed);
   */
  clear(): Intent[] {
    const all = this.all();
    for (const intent of all) clearTimeout(intent.timer);
    this.#intents.clear();
    return all;
  }
}

function keyOf(room: string, data: unknown): string {
  return JSON.stringify([room, canonical(data)]);
}
