/**
 * The names of a contract module's contracts, read from its syntax tree: what the browser's
 * client is built from. Nothing of the module runs (no server code at build time, no second
 * Vite, no `$env` needed); the names must therefore be written literally in `socket({...})`,
 * and anything else is an error that says where and what to write instead.
 */

import type { ContractNames } from './discovery.js';

/** A contract module that does not say its names literally: where (an offset) and why. */
export class NamesError extends Error {
  constructor(
    message: string,
    /** Offset in the parsed code. */
    readonly offset: number,
  ) {
    super(message);
    this.name = 'NamesError';
  }
}

/**
 * The little of ESTree read here (Rollup's, oxc's and acorn's trees all have `start`/`end`).
 * Kept local so that `liverpc/vite` needs no `@types/estree`.
 */
export interface Node {
  readonly type: string;
  readonly start: number;
  readonly end: number;
}
interface Identifier extends Node { readonly type: 'Identifier'; readonly name: string }
interface Literal extends Node { readonly type: 'Literal'; readonly value: unknown }
interface Property extends Node {
  readonly type: 'Property';
  readonly key: Node;
  readonly value: Node;
  readonly computed: boolean;
}
interface ObjectExpression extends Node { readonly type: 'ObjectExpression'; readonly properties: readonly Node[] }
interface CallExpression extends Node { readonly type: 'CallExpression'; readonly callee: Node; readonly arguments: readonly Node[] }
interface MemberExpression extends Node {
  readonly type: 'MemberExpression';
  readonly object: Node;
  readonly property: Node;
  readonly computed: boolean;
}
interface VariableDeclaration extends Node {
  readonly type: 'VariableDeclaration';
  readonly kind: string;
  readonly declarations: readonly { readonly id: Node; readonly init: Node | null }[];
}
interface ImportDeclaration extends Node {
  readonly type: 'ImportDeclaration';
  readonly source: Literal;
  readonly specifiers: readonly { readonly type: string; readonly local: Identifier; readonly imported?: Node }[];
}
interface ExportNamedDeclaration extends Node {
  readonly type: 'ExportNamedDeclaration';
  readonly declaration: Node | null;
  readonly specifiers: readonly { readonly local: Node; readonly exported: Node }[];
  readonly source: Literal | null;
}
interface ArrowFunction extends Node { readonly type: 'ArrowFunctionExpression'; readonly body: Node }
interface BlockStatement extends Node { readonly type: 'BlockStatement'; readonly body: readonly Node[] }
interface ReturnStatement extends Node { readonly type: 'ReturnStatement'; readonly argument: Node | null }
/** A parsed module. */
export interface Program extends Node {
  readonly body: readonly Node[];
}

const SERVER = 'liverpc/server';

const is = {
  identifier: (n: Node | null | undefined): n is Identifier => n?.type === 'Identifier',
  literal: (n: Node | null | undefined): n is Literal => n?.type === 'Literal',
  object: (n: Node | null | undefined): n is ObjectExpression => n?.type === 'ObjectExpression',
  call: (n: Node | null | undefined): n is CallExpression => n?.type === 'CallExpression',
  member: (n: Node | null | undefined): n is MemberExpression => n?.type === 'MemberExpression',
  arrow: (n: Node | null | undefined): n is ArrowFunction => n?.type === 'ArrowFunctionExpression',
};

/** `fromClient: (handler) => ({ ... })`: its returned object (an expression body, or `{ return {...} }`). */
function returnedObject(arrow: ArrowFunction): Node | undefined {
  if (arrow.body.type !== 'BlockStatement') return arrow.body;
  const [only, ...rest] = (arrow.body as BlockStatement).body;
  return only?.type === 'ReturnStatement' && rest.length === 0 ? ((only as ReturnStatement).argument ?? undefined) : undefined;
}

/** An identifier's or a string literal's text (import and export names may be either). */
function nameOf(node: Node): string | undefined {
  if (is.identifier(node)) return node.name;
  if (is.literal(node) && typeof node.value === 'string') return node.value;
  return undefined;
}

/** What one module says: its top-level `const`s, and its imports from `liverpc/server`. */
class Scope {
  readonly consts = new Map<string, Node>();
  /** Local name -> the `liverpc/server` export it is (`socket`, `room`). */
  readonly imported = new Map<string, string>();
  /** Local names of `import * as x from 'liverpc/server'`. */
  readonly namespaces = new Set<string>();

  constructor(program: Program) {
    for (const statement of program.body) {
      const declaration = statement.type === 'ExportNamedDeclaration' ? (statement as ExportNamedDeclaration).declaration : statement;
      if (declaration?.type === 'VariableDeclaration') {
        const v = declaration as VariableDeclaration;
        if (v.kind !== 'const') continue;
        for (const d of v.declarations) if (is.identifier(d.id) && d.init !== null) this.consts.set(d.id.name, d.init);
      } else if (statement.type === 'ImportDeclaration') {
        const i = statement as ImportDeclaration;
        if (i.source.value !== SERVER) continue;
        for (const s of i.specifiers) {
          if (s.type === 'ImportNamespaceSpecifier') this.namespaces.add(s.local.name);
          else if (s.type === 'ImportSpecifier' && s.imported !== undefined) {
            const name = nameOf(s.imported);
            if (name !== undefined) this.imported.set(s.local.name, name);
          }
        }
      }
    }
  }

  /** `node`, or the initializer of the top-level `const` it names (followed, once per name). */
  resolve(node: Node): Node {
    const seen = new Set<string>();
    while (is.identifier(node) && this.consts.has(node.name) && !seen.has(node.name)) {
      seen.add(node.name);
      node = this.consts.get(node.name) as Node;
    }
    return node;
  }

  /** Whether `node` is `liverpc/server`'s export `name` (`socket`, `ns.socket`). */
  isServer(node: Node, name: string): boolean {
    if (is.identifier(node)) return this.imported.get(node.name) === name;
    return (
      is.member(node) && !node.computed && is.identifier(node.object) && this.namespaces.has(node.object.name) && nameOf(node.property) === name
    );
  }
}

/**
 * The contracts a module exports (`export const chat = socket({...})`, or a local made by
 * `socket()` exported under any name), with their names.
 *
 * @example
 * namesOf(this.parse(code)); // Map { 'chat' => { toClient: ['message'], ... } }
 */
export function namesOf(program: Program): Map<string, ContractNames> {
  const scope = new Scope(program);
  const found = new Map<string, ContractNames>();
  const add = (exported: string, value: Node): void => {
    const call = scope.resolve(value);
    if (!is.call(call) || !scope.isServer(call.callee, 'socket')) return;
    found.set(exported, contract(scope, call));
  };
  for (const statement of program.body) {
    if (statement.type === 'ExportAllDeclaration') {
      throw new NamesError(`\`export * from\` cannot be read at build time: declare the contracts of this route in this file`, statement.start);
    }
    if (statement.type !== 'ExportNamedDeclaration') continue;
    const e = statement as ExportNamedDeclaration;
    if (e.source !== null) {
      throw new NamesError(`\`export { ... } from\` cannot be read at build time: declare the contracts of this route in this file`, e.start);
    }
    if (e.declaration?.type === 'VariableDeclaration') {
      for (const d of (e.declaration as VariableDeclaration).declarations) {
        if (is.identifier(d.id) && d.init !== null) add(d.id.name, d.init);
      }
    }
    for (const s of e.specifiers) {
      const exported = nameOf(s.exported);
      // `export { chat as lobby }`: the local's `const` says what it is.
      if (exported !== undefined) add(exported, s.local);
    }
  }
  return found;
}

/** The names of one `socket({...})` call. */
function contract(scope: Scope, call: CallExpression): ContractNames {
  const [argument] = call.arguments;
  const def = argument === undefined ? undefined : scope.resolve(argument);
  if (!is.object(def)) {
    throw new NamesError('socket() takes its sections as an object literal (`socket({ toClient, fromClient, rooms })`)', (argument ?? call).start);
  }
  const names: ContractNames = { toClient: [], fromClient: [], rooms: [], autoJoin: [], presence: [] };
  for (const [section, value] of entries(scope, def, 'socket({...})')) {
    if (section !== 'toClient' && section !== 'fromClient' && section !== 'rooms') continue;
    let object = scope.resolve(value);
    if (section === 'fromClient' && is.arrow(object)) {
      const returned = returnedObject(object);
      if (!is.object(returned)) {
        throw new NamesError('fromClient: return the handlers as an object literal (`(handler) => ({ send: handler(...) })`) so that their names can be read at build time', object.start);
      }
      object = returned;
    }
    if (!is.object(object)) throw new NamesError(`${section}: write the object here (or in a \`const\` of this file) so that its names can be read at build time`, value.start);
    for (const [name, entry] of entries(scope, object, section)) {
      names[section].push(name);
      if (section !== 'rooms') continue;
      const options = roomOptions(scope, name, entry);
      if (options.autoJoin) names.autoJoin.push(name);
      if (options.presence) names.presence.push(name);
    }
  }
  return names;
}

/** An object literal's keys and values; a spread or a computed key is an error. */
function entries(scope: Scope, object: ObjectExpression, where: string): [string, Node][] {
  const out: [string, Node][] = [];
  for (const p of object.properties) {
    if (p.type !== 'Property') {
      throw new NamesError(`${where}: a spread cannot be read at build time; write each name in the object`, p.start);
    }
    const property = p as Property;
    const key = property.computed ? scope.resolve(property.key) : property.key;
    const name = property.computed ? (is.literal(key) && typeof key.value === 'string' ? key.value : undefined) : nameOf(key);
    if (name === undefined) throw new NamesError(`${where}: a computed key cannot be read at build time; write the name`, property.key.start);
    out.push([name, property.value]);
  }
  return out;
}

/**
 * What room `name` says in its options: `autoJoin` (written `true` or `false`) for
 * `room.private(fn, { autoJoin: true })`, and whether it has `presence` (private or exposed).
 */
function roomOptions(scope: Scope, name: string, value: Node): { autoJoin: boolean; presence: boolean } {
  const call = scope.resolve(value);
  const kind = is.call(call) && is.member(call.callee) && !call.callee.computed ? nameOf(call.callee.property) : undefined;
  if (!is.call(call) || !is.member(call.callee) || (kind !== 'private' && kind !== 'expose') || !scope.isServer(call.callee.object, 'room')) {
    throw new NamesError(`rooms.${name}: write room.private(...) or room.expose(...) here so that the room can be read at build time`, value.start);
  }
  const found = { autoJoin: false, presence: false };
  const options = call.arguments[kind === 'expose' ? 2 : 1];
  if (options === undefined) return found;
  const object = scope.resolve(options);
  const example = kind === 'expose' ? '`{ presence }`' : '`{ autoJoin: true }`';
  if (!is.object(object)) throw new NamesError(`rooms.${name}: write the options as an object literal (${example})`, options.start);
  for (const [key, v] of entries(scope, object, `rooms.${name}`)) {
    if (key === 'presence') found.presence = true;
    if (key !== 'autoJoin' || kind !== 'private') continue;
    if (is.literal(v) && typeof v.value === 'boolean') found.autoJoin = v.value;
    else throw new NamesError(`rooms.${name}: autoJoin must be written \`true\` or \`false\``, v.start);
  }
  return found;
}
