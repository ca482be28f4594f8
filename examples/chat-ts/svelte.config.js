import adapter from '@sveltejs/adapter-node';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';
import { socketTypes } from 'liverpc/vite';

/** Built for Node (adapter-node); server.js serves the pages and the realtime on one port. */
export default {
  preprocess: vitePreprocess(),
  kit: {
    adapter: adapter(),
    // Types the contracts' `params` from their routes, in every svelte-kit sync (and so in
    // `npm run check`, vite dev and vite build).
    typescript: { config: socketTypes() },
  },
};
