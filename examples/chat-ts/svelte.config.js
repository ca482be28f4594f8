import adapter from '@sveltejs/adapter-node';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** Built for Node (adapter-node); server.js serves the pages and the realtime on one port. */
export default {
  preprocess: vitePreprocess(),
  kit: {
    adapter: adapter(),
  },
};
