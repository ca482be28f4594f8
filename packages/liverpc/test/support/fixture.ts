// Starts the Rust fixture server (crates/liverpc/examples/fixture.rs) for one test file.
// Binary: env LIVERPC_FIXTURE, else <repo>/target/debug/examples/fixture, the repository
// found by walking up from this file to Cargo.lock. Address: env LIVERPC_FIXTURE_ADDR
// (default 127.0.0.1:0; a fixed port needs `--test-concurrency=1`, test files run in parallel).

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface Fixture {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** `POST /admin/revoke/{user}/{project}`: `revoked` or `unchanged`. */
  revoke(user: string, project: string): Promise<string>;
  /** `POST /admin/disconnect/project/{project}`: how many sockets the server disconnected. */
  disconnectProject(project: string): Promise<number>;
  /** `POST /admin/disconnect/team/{tenant}`: the same for a tenant's team room. */
  disconnectTeam(tenant: string): Promise<number>;
  /** `POST /admin/unavailable/{n}`: the next `n` handshakes are refused `unavailable`. */
  refuseUnavailable(n: number): Promise<void>;
  /**
   * `POST /admin/feed/{room}/{label}/{n}`: emits `<label>-1` … `<label>-n` to room
   * `['feed', room]` (history of 256); resolves with how many sockets the last one reached.
   */
  feed(room: string, label: string, n: number): Promise<number>;
  stop(): Promise<void>;
}

function binary(): string {
  const fromEnv = process.env['LIVERPC_FIXTURE'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'Cargo.lock'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('liverpc tests: no Cargo.lock above the test files; set LIVERPC_FIXTURE');
    dir = up;
  }
  const path = join(dir, 'target', 'debug', 'examples', 'fixture');
  if (!existsSync(path)) {
    throw new Error(`liverpc tests: ${path} is missing; build it: npm run fixture (cargo build -p liverpc --features testing --example fixture)`);
  }
  return path;
}

/** Limits of the fixture's server; unset ones keep liverpc's defaults. */
export interface FixtureLimits {
  /** `Limits::max_rooms`: join requests a socket may hold (beyond: `rate_limited`). */
  maxRooms?: number;
}

export async function startFixture(limits: FixtureLimits = {}): Promise<Fixture> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    LIVERPC_FIXTURE_ADDR: process.env['LIVERPC_FIXTURE_ADDR'] ?? '127.0.0.1:0',
    RUST_BACKTRACE: '0',
  };
  if (limits.maxRooms !== undefined) env['LIVERPC_FIXTURE_MAX_ROOMS'] = String(limits.maxRooms);
  const child = spawn(binary(), [], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-8192);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const address = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const match = /^listening on (\S+)$/.exec(line);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`fixture exited (${String(code)}) before listening:\n${stderr}`)));
  });
  const url = `http://${address}`;
  return {
    url,
    async revoke(user, project) {
      const response = await fetch(`${url}/admin/revoke/${user}/${project}`, { method: 'POST' });
      return response.text();
    },
    async disconnectProject(project) {
      const response = await fetch(`${url}/admin/disconnect/project/${project}`, { method: 'POST' });
      return Number(await response.text());
    },
    async disconnectTeam(tenant) {
      const response = await fetch(`${url}/admin/disconnect/team/${tenant}`, { method: 'POST' });
      return Number(await response.text());
    },
    async refuseUnavailable(n) {
      const response = await fetch(`${url}/admin/unavailable/${n}`, { method: 'POST' });
      if (!response.ok) throw new Error(`/admin/unavailable answered ${response.status}`);
    },
    async feed(room, label, n) {
      const response = await fetch(`${url}/admin/feed/${room}/${label}/${n}`, { method: 'POST' });
      if (!response.ok) throw new Error(`/admin/feed answered ${response.status}`);
      return Number(await response.text());
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
