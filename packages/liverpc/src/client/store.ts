/**
 * The Svelte store contract, implemented in a few lines so the core needs no Svelte:
 * `subscribe(fn)` calls `fn` now and on every change, and returns an unsubscribe.
 */

/** Stops a subscription or a listener. Calling it twice is harmless. */
export type Unsubscribe = () => void;

/** A value that changes over time; `$store` in a Svelte component. */
export interface Readable<T> {
  /**
   * @example
   * const stop = room.state.subscribe((s) => console.log(s.status));
   * stop();
   */
  subscribe(run: (value: T) => void): Unsubscribe;
}

/**
 * A store that also tells its value now: `room.state`. In a Svelte 5 component, `current`
 * is reactive when the client comes from `liverpc/sveltekit` (`{room.state.current.status}`);
 * with the core entry it is a plain getter.
 */
export interface ReadableState<T> extends Readable<T> {
  /**
   * @example
   * if (room.state.current.status === 'connected') console.log('live');
   */
  readonly current: T;
}

/** A store the runtime writes to. Values are replaced, never mutated, so `$store` updates. */
export class Store<T> implements Readable<T> {
  #value: T;
  readonly #runs = new Set<(value: T) => void>();

  /**
   * @example
   * const s = new Store(1); s.set(2); s.get(); // 2
   */
  constructor(value: T) {
    this.#value = value;
  }

  /**
   * The current value.
   *
   * @example
   * store.get();
   */
  get(): T {
    return this.#value;
  }

  /**
   * Replaces the value and tells every subscriber.
   *
   * @example
   * store.set({ ...store.get(), status: 'connected' });
   */
  set(value: T): void {
    this.#value = value;
    for (const run of [...this.#runs]) run(value);
  }

  /**
   * @example
   * const stop = store.subscribe((v) => console.log(v));
   */
  subscribe(run: (value: T) => void): Unsubscribe {
    const own = (value: T): void => run(value);
    this.#runs.add(own);
    run(this.#value);
    return () => {
      this.#runs.delete(own);
    };
  }
}
