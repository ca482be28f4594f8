/**
 * The wire rules that are code, not data (the data is in the generated `wire.ts`): a
 * contract's namespace, when two join payloads are the same, and the message of an invalid
 * payload. The Rust engine applies the same rules (`liverpc::protocol`); both sides must agree.
 */

import type { Issue } from './error.js';
import { INVALID_PAYLOAD } from './wire.js';

/**
 * The Socket.IO namespace of a contract: the route id without its trailing `/`, then `/`, then
 * the contract's name. Names are identifiers, so the mapping is injective.
 *
 * @example
 * namespaceOf('/rooms/[roomId]', 'chat'); // '/rooms/[roomId]/chat'
 * namespaceOf('/', 'lobby'); // '/lobby'
 */
export function namespaceOf(route: string, name: string): string {
  return `${route.replace(/\/$/, '')}/${name}`;
}

/**
 * The value with object keys sorted, recursively, and `undefined` as `null`: two payloads are
 * the same join payload when their canonical forms serialize alike (key order does not matter).
 *
 * @example
 * JSON.stringify(canonical({ b: 2, a: 1 })); // '{"a":1,"b":2}'
 */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(record).sort()) if (record[k] !== undefined) sorted[k] = canonical(record[k]);
    return sorted;
  }
  return value ?? null;
}

/**
 * Whether two payloads are the same join payload (key order does not matter).
 *
 * @example
 * samePayload({ a: 1, b: 2 }, { b: 2, a: 1 }); // true
 */
export function samePayload(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/**
 * The ack's `error.message` for an invalid payload, from its issues.
 *
 * @example
 * invalidPayloadMessage([{ path: 'text', message: 'too short' }]); // 'invalid payload: text: too short'
 */
export function invalidPayloadMessage(issues: readonly Issue[]): string {
  const [one] = issues;
  if (issues.length !== 1 || one === undefined) return fill(INVALID_PAYLOAD.many, { count: String(issues.length) });
  if (one.path === '') return fill(INVALID_PAYLOAD.one, { message: one.message });
  return fill(INVALID_PAYLOAD.onePath, { path: one.path, message: one.message });
}

/** `template` with each `{name}` replaced by `values[name]`, in one pass (values are not rescanned). */
function fill(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => values[name] ?? '');
}

/**
 * Where a message sits in its room's stream (a room with history): the client remembers the
 * last one per room and sends it when it rejoins, so the server replays what it missed. A
 * server-rendered page hands the one of its history to the client (`chat({ since })`).
 */
export interface Position {
  /** The room's stream. */
  readonly stream: string;
  /** The stream's life: it changes when the stream was lost. */
  readonly epoch: string;
  /** 1, 2, 3 … per stream (0 before the first message). */
  readonly offset: number;
}
