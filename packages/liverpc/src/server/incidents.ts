/**
 * Failures of user code logged once per site with a count, not once per page: a room
 * function that throws for every guest must not flood the log with a stack per join. A site
 * (`room /rooms/[roomId]/chat#tenant`, `the hook`) is logged at its 1st, 10th, 100th, ...
 * failure, with the count so far.
 */

/** Where a log line goes: `console.warn` / `console.error` unless a test says otherwise. */
export interface Log {
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/** See the module documentation. */
export class Incidents {
  readonly #counts = new Map<string, number>();
  readonly #log: Log;

  /**
   * @example
   * const incidents = new Incidents(console);
   */
  constructor(log: Log) {
    this.#log = log;
  }

  /**
   * Counts one failure at `site`; logs it when the count is 1, 10, 100, ... A `TypeError`
   * (reading a property of what is not there: `locals.user.tenantId` for a guest) is logged at
   * WARN with `hint` and no stack; anything else at ERROR with its stack.
   *
   * @example
   * incidents.failed('room /chat#tenant', e, 'the join is refused `forbidden`', 'return false when locals.user is missing');
   */
  failed(site: string, error: unknown, outcome: string, hint: string): void {
    const count = (this.#counts.get(site) ?? 0) + 1;
    this.#counts.set(site, count);
    if (!isPowerOfTen(count)) return;
    const times = count === 1 ? 'logged once per site with a count' : `${count} times so far`;
    if (error instanceof TypeError) {
      this.#log.warn(`liverpc: ${site} threw ${error.name}: ${error.message}; ${outcome} (${times}). ${hint}`);
    } else {
      this.#log.error(`liverpc: ${site} threw; ${outcome} (${times}):`, error);
    }
  }
}

function isPowerOfTen(n: number): boolean {
  let p = 1;
  while (p < n) p *= 10;
  return p === n;
}
