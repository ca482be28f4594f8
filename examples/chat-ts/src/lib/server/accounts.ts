// The demo accounts and the sessions that sign them in, kept in a JSON file so that a restart
// signs nobody out (an embedded store: no external service). The same accounts as the Rust
// example (examples/chat/server/src/accounts.rs).
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface User {
  name: string;
  tenantId: string;
  projectIds: string[];
}

/** Two tenants, each with access to some projects and not others. */
export const USERS: readonly User[] = [
  { name: 'alice', tenantId: 'acme', projectIds: ['apollo', 'gemini'] },
  { name: 'bob', tenantId: 'acme', projectIds: ['apollo'] },
  { name: 'carol', tenantId: 'globex', projectIds: ['zeus', 'hermes'] },
  { name: 'dave', tenantId: 'globex', projectIds: ['hermes'] },
];

/** Every project, for the page's tabs (access is decided by the server on join). */
export const PROJECTS: readonly string[] = ['apollo', 'gemini', 'zeus', 'hermes'];

const file = join(process.env.CHAT_DATA ?? '.data', 'sessions.json');

function read(): Map<string, string> {
  try {
    return new Map(Object.entries(JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>));
  } catch {
    return new Map();
  }
}

const sessions = read();

function save(): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(Object.fromEntries(sessions)));
}

/** The account signed in by session `id`, as a real store answers: asynchronously. */
export async function lookup(id: string | undefined): Promise<User | undefined> {
  const name = id === undefined ? undefined : sessions.get(id);
  return USERS.find((u) => u.name === name);
}

/** Signs `name` in; returns the new session id, or undefined for an unknown account. */
export function signIn(name: string): string | undefined {
  if (!USERS.some((u) => u.name === name)) return undefined;
  const id = randomBytes(16).toString('hex');
  sessions.set(id, name);
  save();
  return id;
}

/** Ends a session. */
export function signOut(id: string | undefined): void {
  if (id !== undefined && sessions.delete(id)) save();
}

/** Only same-site paths: never redirect to another origin. */
export function local(next: string | null): string {
  return next !== null && next.startsWith('/') && !next.startsWith('//') ? next : '/rooms/general';
}
