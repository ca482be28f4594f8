// Stand-ins for SvelteKit's `afterNavigate` and Svelte's `onDestroy`: they record callbacks,
// or throw like Svelte does outside component initialisation.

export const lifecycle = {
  afterNavigate: [] as ((navigation: unknown) => void)[],
  onDestroy: [] as (() => unknown)[],
  /** Simulates a call outside component initialisation. */
  outside: false,
};

export function afterNavigate(callback: (navigation: unknown) => void): void {
  if (lifecycle.outside) throw new Error('lifecycle_outside_component');
  lifecycle.afterNavigate.push(callback);
}

export function onDestroy(fn: () => unknown): void {
  if (lifecycle.outside) throw new Error('lifecycle_outside_component');
  lifecycle.onDestroy.push(fn);
}
