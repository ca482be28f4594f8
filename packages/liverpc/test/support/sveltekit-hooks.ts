// Node module hooks for the adapter test: `$app/navigation`, `$app/paths`, `svelte` and
// `svelte/reactivity` resolve to
// ./sveltekit-mocks.js, which records the lifecycle callbacks the adapter registers.

interface Resolved {
  url: string;
  shortCircuit?: boolean;
}
type NextResolve = (specifier: string, context: unknown) => Promise<Resolved>;

export async function resolve(specifier: string, context: unknown, next: NextResolve): Promise<Resolved> {
  if (['$app/navigation', '$app/paths', 'svelte', 'svelte/reactivity'].includes(specifier)) {
    return { url: new URL('./sveltekit-mocks.js', import.meta.url).href, shortCircuit: true };
  }
  return next(specifier, context);
}
