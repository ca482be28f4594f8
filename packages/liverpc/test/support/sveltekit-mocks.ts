// Stand-ins for SvelteKit's `afterNavigate` and `paths.base`, and Svelte's `onDestroy` and
// `createSubscriber`: they record callbacks and reads, or throw like Svelte does outside
// component initialisation.

export const lifecycle = {
  afterNavigate: [] as ((navigation: unknown) => void)[],
  onDestroy: [] as (() => unknown)[],
  /** Simulates a call outside component initialisation. */
  outside: false,
  /** Reads that registered with the reactivity mock, and the updates it was told of. */
  reads: 0,
  updates: 0,
};

/** `paths.base`; set it with `setBase` (an ES module binding is live). */
export let base = '';

export function setBase(value: string): void {
  base = value;
}

export function afterNavigate(callback: (navigation: unknown) => void): void {
  if (lifecycle.outside) throw new Error('lifecycle_outside_component');
  lifecycle.afterNavigate.push(callback);
}

export function onDestroy(fn: () => unknown): void {
  if (lifecycle.outside) throw new Error('lifecycle_outside_component');
  lifecycle.onDestroy.push(fn);
}

/** Like Svelte's: `start` runs on the first tracked read, `update` marks a change. */
export function createSubscriber(start: (update: () => void) => (() => void) | void): () => void {
  let started = false;
  return () => {
    lifecycle.reads += 1;
    if (started) return;
    started = true;
    start(() => {
      lifecycle.updates += 1;
    });
  };
}
