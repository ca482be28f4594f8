// Starts the liverpc fixture server (crates/liverpc/examples/fixture.rs) for one test file.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = new URL('../..', import.meta.url);
const BUILD = 'cargo build -p liverpc --features testing --example fixture';

export function fixturePath() {
  return process.env.LIVERPC_FIXTURE ?? fileURLToPath(new URL('target/debug/examples/fixture', root));
}

/** Resolves to `{ url, port, stop() }` once the server printed `listening on HOST:PORT`. */
export async function startFixture({ timeoutMs = 10_000 } = {}) {
  const bin = fixturePath();
  if (!existsSync(bin)) {
    throw new Error(`fixture binary not found at ${bin}; build it first: ${BUILD}`);
  }
  const child = spawn(bin, [], {
    env: { ...process.env, LIVERPC_FIXTURE_ADDR: process.env.LIVERPC_FIXTURE_ADDR ?? '127.0.0.1:0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Kept for error messages only: the tests make the server panic on purpose.
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let stopping = false;

  let timer;
  const addr = await new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`fixture did not start within ${timeoutMs} ms`)), timeoutMs);
    child.once('error', reject);
    exited.then((code) => reject(new Error(`fixture exited (${code}) before listening:\n${stderr}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const match = /^listening on (\S+):(\d+)$/.exec(line.trim());
      if (match) resolve({ host: match[1], port: Number(match[2]) });
    });
  }).catch((err) => {
    child.kill('SIGKILL');
    throw err;
  }).finally(() => clearTimeout(timer));

  return {
    url: `http://${addr.host}:${addr.port}`,
    port: addr.port,
    /** Kills the server; fails if it had died on its own meanwhile. */
    async stop() {
      if (stopping) return exited;
      stopping = true;
      const died = child.exitCode !== null || child.signalCode !== null;
      child.kill('SIGTERM');
      await exited;
      if (died) throw new Error(`fixture died during the tests (${child.exitCode ?? child.signalCode}):\n${stderr}`);
    },
  };
}
