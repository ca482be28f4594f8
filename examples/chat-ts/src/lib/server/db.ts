// The app's database: SQLite in one local file (an embedded store, no external service), opened
// once when the server loads this module. Where it lives is the deployment's choice, read when
// the server runs (`CHAT_DATA`, `$env/dynamic/private`); its file name is the app's, fixed when
// it is built (`CHAT_DB_FILE` in .env, `$env/static/private`).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { env } from '$env/dynamic/private';
import { CHAT_DB_FILE } from '$env/static/private';

const folder = env.CHAT_DATA || '.data';
mkdirSync(folder, { recursive: true });

const db = new Database(join(folder, CHAT_DB_FILE));
// Several processes may open it (a restart while the old one drains): readers never block.
db.pragma('journal_mode = WAL');
db.exec(`
  CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, user TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, room TEXT NOT NULL, author TEXT NOT NULL, text TEXT NOT NULL, at INTEGER NOT NULL);
`);

const statements = {
  session: db.prepare<[string], { user: string }>('SELECT user FROM sessions WHERE id = ?'),
  signIn: db.prepare<[string, string]>('INSERT INTO sessions (id, user) VALUES (?, ?)'),
  signOut: db.prepare<[string]>('DELETE FROM sessions WHERE id = ?'),
  keep: db.prepare<[string, string, string, number]>('INSERT INTO messages (room, author, text, at) VALUES (?, ?, ?, ?)'),
};

/** The account name signed in by session `id`. */
export function sessionUser(id: string): string | undefined {
  return statements.session.get(id)?.user;
}

/** Stores a new session of `user`. */
export function addSession(id: string, user: string): void {
  statements.signIn.run(id, user);
}

/** Ends a session (nothing if there is none). */
export function removeSession(id: string): void {
  statements.signOut.run(id);
}

/** Keeps a chat message, as sent, in the room's history. */
export function keepMessage(room: string, author: string, text: string): void {
  statements.keep.run(room, author, text, Date.now());
}
