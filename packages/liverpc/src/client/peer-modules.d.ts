// What `liverpc/sveltekit` uses from its peer dependencies, declared here so the package
// builds without installing SvelteKit. Apps get the real declarations from `svelte` and
// `@sveltejs/kit`; this file is not published.
declare module '$app/navigation' {
  export function afterNavigate(callback: (navigation: unknown) => void): void;
}
declare module '$app/paths' {
  export const base: '' | `/${string}`;
}
declare module 'svelte' {
  export function onDestroy(fn: () => unknown): void;
}
declare module 'svelte/reactivity' {
  export function createSubscriber(start: (update: () => void) => (() => void) | void): () => void;
}
