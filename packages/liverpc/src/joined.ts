/**
 * The rooms a page joined explicitly, by name and payload: what is asked for again after a
 * reconnect or a navigation. Payloads compare as canonical JSON (key order does not matter),
 * as the server compares a leave with its join.
 */

/** One explicit join: the room's name and its payload (`undefined` for a private room). */
export interface Entry {
  readonly room: string;
  readonly data: unknown;
}

/** See the module documentation. */
export class Joined {
  readonly #entries = new Map<string, Entry>();

  /**
   * Remembers a join (again: replaces).
   *
   * @example
   * joined.add('project', { projectId: 'apollo' });
   */
  add(room: string, data: unknown): void {
    this.#entries.set(key(room, data), { room, data });
  }

  /**
   * Forgets a join; forgetting twice is harmless.
   *
   * @example
   * joined.delete('project', { projectId: 'apollo' });
   */
  delete(room: string, data: unknown): void {
    this.#entries.delete(key(room, data));
  }

  /**
   * Whether this very entry is still remembered.
   *
   * @example
   * joined.has(entry);
   */
  has(entry: Entry): boolean {
    return this.#entries.get(key(entry.room, entry.data)) === entry;
  }

  /**
   * Some remembered join of a room, if any.
   *
   * @example
   * joined.find('project')?.data;
   */
  find(room: string): Entry | undefined {
    for (const entry of this.#entries.values()) if (entry.room === room) return entry;
    return undefined;
  }

  /**
   * Every remembered join, in the order they were made.
   *
   * @example
   * for (const { room, data } of joined.entries()) rejoin(room, data);
   */
  entries(): Entry[] {
    return [...this.#entries.values()];
  }
}

function key(room: string, data: unknown): string {
  return JSON.stringify([room, canonical(data)]);
}

/** The value with object keys sorted, recursively; `undefined` becomes `null`. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(record).sort()) if (record[k] !== undefined) sorted[k] = canonical(record[k]);
    return sorted;
  }
  return value ?? null;
}
