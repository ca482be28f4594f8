/**
 * Discovery of an app's TypeScript contracts, without Vite: where they are
 * (`src/hooks.socket.ts`, `src/routes/**\/*.socket.ts`), which route id a file belongs to, and
 * SvelteKit's param matchers (`src/params/*`).
 */

import { readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** The hook's file, relative to the Vite root. */
export const HOOKS = join('src', 'hooks.socket.ts');
/** Where the routes are, relative to the Vite root. */
export const ROUTES = join('src', 'routes');

/** Whether `file` (absolute) is a route's contract module under `root`. */
export function isContractFile(root: string, file: string): boolean {
  const path = file.split('?')[0] ?? file;
  return /\.socket\.(ts|js)$/.test(path) && !relative(join(root, ROUTES), path).startsWith('..');
}

/**
 * The SvelteKit route id of a contract file: its folder under `src/routes`.
 *
 * @example
 * routeIdOf('/app', '/app/src/routes/rooms/[roomId]/chat.socket.ts'); // '/rooms/[roomId]'
 */
export function routeIdOf(root: string, file: string): string {
  const folder = relative(join(root, ROUTES), join(file, '..'));
  return folder === '' ? '/' : `/${folder.split(sep).join('/')}`;
}

/** Every contract file under `root`'s routes (absolute paths, sorted). */
export function contractFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory() && entry.name !== 'node_modules') walk(path);
      else if (/\.socket\.(ts|js)$/.test(entry.name)) found.push(path);
    }
  };
  walk(join(root, ROUTES));
  return found.sort();
}

/** The names of one contract, as the browser's client needs them. */
export interface ContractNames {
  toClient: string[];
  fromClient: string[];
  rooms: string[];
  autoJoin: string[];
  /** Rooms that list their members (`presence`). */
  presence: string[];
}

/**
 * SvelteKit's param matchers in `dir` (`kit.files.params`): name -> file, for `[id=name]`
 * segments. Test files (`lang.test.ts`) are not matchers.
 */
export function matcherFiles(dir: string): Map<string, string> {
  const found = new Map<string, string>();
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return found;
  }
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const name = /^([A-Za-z_$][\w$]*)\.(js|ts)$/.exec(entry.name)?.[1];
    if (entry.isFile() && name !== undefined && !found.has(name)) found.set(name, join(dir, entry.name));
  }
  return found;
}
