// The demo accounts and the sessions that sign them in, kept in the app's database so that a
// restart signs nobody out. The same accounts as the Rust example
// (examples/chat/server/src/accounts.rs).
import { randomBytes } from 'node:crypto';
import { addSession, removeSession, sessionUser } from './db';

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

/** The account signed in by session `id`, as a real store answers: asynchronously. */
export async function lookup(id: string | undefined): Promise<User | undefined> {
  const name = id === undefined ? undefined : sessionUser(id);
  return USERS.find((u) => u.name === name);
}

/** Signs `name` in; returns the new session id, or undefined for an unknown account. */
export function signIn(name: string): string | undefined {
  if (!USERS.some((u) => u.name === name)) return undefined;
  const id = randomBytes(16).toString('hex');
  addSession(id, name);
  return id;
}

/** Ends a session. */
export function signOut(id: string | undefined): void {
  if (id !== undefined) removeSession(id);
}

/** Only same-site paths: never redirect to another origin. */
export function local(next: string | null): string {
  return next !== null && next.startsWith('/') && !next.startsWith('//') ? next : '/rooms/general';
}
