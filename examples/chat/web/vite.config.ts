import { sveltekit } from '@sveltejs/kit/vite';
import { liverpc } from 'liverpc/vite';
import { defineConfig } from 'vite';

/** Where the Rust server listens in development (`cargo run -p chat-server`). */
const server = process.env.CHAT_SERVER ?? 'http://127.0.0.1:3000';

export default defineConfig({
  plugins: [
    sveltekit(),
    // Regenerates src/routes/**/*.socket.ts when a Rust contract changes (dev only).
    liverpc({ generate: ['cargo', 'run', '--quiet', '-p', 'chat-server', '--', 'gen', '.'], watch: '../server/src' }),
  ],
  server: {
    // The realtime endpoint (websocket included) and the sign-in routes live on the Rust server.
    proxy: {
      '/socket.io': { target: server, ws: true },
      '/auth': server,
      '/api': server,
    },
  },
});
