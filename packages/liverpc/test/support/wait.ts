// Waiting on things that happen, each bounded by a deadline (a failure, never a sync point).

import type { Readable, Unsubscribe } from 'liverpc';

/** Resolves with the first value of `store` that satisfies `ok`; rejects after `ms`. */
export function until<T>(store: Readable<T>, ok: (value: T) => boolean, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    let last: T | undefined;
    let stop: Unsubscribe | undefined;
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      stop?.();
      reject(new Error(`timed out waiting; last value: ${JSON.stringify(last)}`));
    }, ms);
    stop = store.subscribe((value) => {
      last = value;
      if (done || !ok(value)) return;
      done = true;
      clearTimeout(timer);
      queueMicrotask(() => stop?.());
      resolve(value);
    });
    if (done) stop();
  });
}

/** Collects every payload of an event; `next(ok)` resolves with the first matching one (past or future). */
export class Inbox<T> {
  readonly items: T[] = [];
  readonly #waiting = new Set<{ ok: (item: T) => boolean; resolve: (item: T) => void }>();
  readonly stop: Unsubscribe;

  constructor(on: (listener: (payload: T) => void) => Unsubscribe) {
    this.stop = on((item) => {
      this.items.push(item);
      for (const waiter of this.#waiting) {
        if (waiter.ok(item)) {
          this.#waiting.delete(waiter);
          waiter.resolve(item);
        }
      }
    });
  }

  next(ok: (item: T) => boolean, ms = 5000): Promise<T> {
    const seen = this.items.find(ok);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        ok,
        resolve: (item: T) => {
          clearTimeout(timer);
          resolve(item);
        },
      };
      const timer = setTimeout(() => {
        this.#waiting.delete(waiter);
        reject(new Error(`timed out waiting for an event; got ${JSON.stringify(this.items)}`));
      }, ms);
      this.#waiting.add(waiter);
    });
  }
}

/** Expects `promise` to reject with a LiverpcError-like value; returns it. */
export async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string; issues?: unknown }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: string; message: string; issues?: unknown };
  }
  throw new Error('expected a rejection');
}
