/**
 * Validation through Standard Schema (valibot >= 1, zod >= 3.24, arktype, ...): a payload is
 * validated by the contract's schema and its issues become `invalid_payload` with dotted paths.
 */

import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { Issue } from '../error.js';

export type { StandardSchemaV1 };

/** What the page sends for a schema (its input type). */
export type Input<S extends StandardSchemaV1> = StandardSchemaV1.InferInput<S>;
/** What server code receives for a schema (its output type). */
export type Output<S extends StandardSchemaV1> = StandardSchemaV1.InferOutput<S>;

/** A validated value, or the issues that refuse it. */
export type Validated<T> = { ok: true; value: T } | { ok: false; issues: Issue[] };

/**
 * Validates `value` with `schema` (sync or async schemas): at once when the schema is
 * synchronous (most are), else a promise, so a synchronous schema costs the engine's runs no
 * promise.
 *
 * @example
 * const r = validate(v.object({ text: v.string() }), { text: 1 });
 * const checked = isThenable(r) ? await r : r;
 * if (!checked.ok) console.log(checked.issues); // [{ path: 'text', message: 'Invalid type: ...' }]
 */
export function validate<S extends StandardSchemaV1>(schema: S, value: unknown): Validated<Output<S>> | Promise<Validated<Output<S>>> {
  const result = schema['~standard'].validate(value);
  return isThenable(result) ? Promise.resolve(result).then(validated<S>) : validated<S>(result);
}

/** Whether `value` is a promise (or any thenable `await` would wait for). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function validated<S extends StandardSchemaV1>(result: StandardSchemaV1.Result<unknown>): Validated<Output<S>> {
  if (result.issues === undefined) return { ok: true, value: result.value as Output<S> };
  return { ok: false, issues: result.issues.map((i) => ({ path: pathOf(i.path), message: i.message })) };
}

/** `['items', 2, 'name']` (or path segments `{ key }`) -> `items.2.name`. */
function pathOf(path: StandardSchemaV1.Issue['path']): string {
  if (path === undefined) return '';
  return path.map((p) => String(typeof p === 'object' && p !== null ? p.key : p)).join('.');
}

/** Whether a value implements Standard Schema. */
export function isSchema(value: unknown): value is StandardSchemaV1 {
  return typeof value === 'object' && value !== null && '~standard' in value;
}
