import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig, type Plugin } from 'vite';

/** Where the Rust server listens in development (`cargo run -p chat-server`). */
const server = process.env.CHAT_SERVER ?? 'http://127.0.0.1:3000';
const webRoot = fileURLToPath(new URL('.', import.meta.url));
const contracts = fileURLToPath(new URL('../server/src', import.meta.url));

/** Regenerates the `*.socket.ts` clients when a Rust contract changes (dev only). */
function liverpcClients(): Plugin {
  let running = false;
  const generate = () => {
    if (running) return;
    running = true;
    const child = spawn('cargo', ['run', '--quiet', '-p', 'chat-server', '--', 'gen', webRoot], { stdio: 'inherit' });
    child.on('exit', () => (running = false));
  };
  return {
    name: 'liverpc-clients',
    apply: 'serve',
    configureServer(dev) {
      generate();
      dev.watcher.add(contracts);
      dev.watcher.on('change', (file) => {
        if (file.startsWith(contracts) && file.endsWith('.rs')) generate();
      });
    },
  };
}

export default defineConfig({
  plugins: [sveltekit(), liverpcClients()],
  server: {
    // The realtime endpoint (websocket included) and the sign-in routes live on the Rust server.
    proxy: {
      '/socket.io': { target: server, ws: true },
      '/auth': server,
      '/api': server,
    },
  },
});
