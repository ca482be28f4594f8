import { sveltekit } from '@sveltejs/kit/vite';
import { sockets } from 'liverpc/vite';
import { defineConfig } from 'vite';

export default defineConfig({
  // sockets(): src/hooks.socket.ts and src/routes/**/*.socket.ts on the engine (the websocket
  // on the dev server's port in `vite dev`, bundled for server.js in `vite build`), and a
  // names-only client for the browser.
  plugins: [sockets(), sveltekit()],
});
