// The names of a contract module, read from its syntax as the browser build does: Vite's own
// TypeScript step and parser, nothing of the module run.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { parseAst, transformWithEsbuild } from 'vite';

import { NamesError, type Program, namesOf } from '../../src/build/names.js';
import { originalPosition, positionIn } from '../../src/build/position.js';

const here = dirname(fileURLToPath(import.meta.url));

/** The names of `source` (TypeScript), or the error with the author's line and column. */
async function read(source: string): Promise<ReturnType<typeof namesOf> | string> {
  const { code, map } = await transformWithEsbuild(source, 'contract.socket.ts');
  try {
    return namesOf(parseAst(code) as unknown as Program);
  } catch (e) {
    if (!(e instanceof NamesError)) throw e;
    const where = originalPosition(map, positionIn(code, e.offset));
    return `${where?.line}:${(where?.column ?? 0) + 1}: ${e.message}`;
  }
}

test("the tutorial's contract: every name, the auto-joined room, nothing run", async () => {
  // The test app's contract imports a database module that opens SQLite and reads $env: read
  // from its source, not imported.
  const source = readFileSync(join(here, '..', '..', '..', '..', 'test', 'server', 'app', 'src', 'routes', 'rooms', '[roomId]', 'chat.socket.ts'), 'utf8');
  assert.deepEqual(await read(source), new Map([['chat', { toClient: ['message'], fromClient: ['send'], rooms: ['chat', 'tenant', 'project'], autoJoin: ['chat'], presence: [] }]]));
});

test('aliases, namespace imports, local consts, export lists and string keys', async () => {
  const source = `
    import * as liverpc from 'liverpc/server';
    import { socket as contract, room as r, handler } from 'liverpc/server';
    import * as v from 'valibot';
    const toClient = { message: v.string(), 'odd-name': v.number() } satisfies Record<string, unknown>;
    const rooms = { lobby: r.private(() => ['lobby'], { autoJoin: true }), ['side']: liverpc.room.expose(v.string(), () => false) };
    const one = contract({ toClient, fromClient: { ping: handler(() => 'pong') }, rooms });
    export const two = liverpc.socket({ rooms: { a: r.private(() => ['a'], { autoJoin: false }), b: r.private(() => ['b']) } });
    export { one as lobby };
    export const notAContract = 1;
    export type Message = string;
  `;
  assert.deepEqual(
    await read(source),
    new Map([
      ['two', { toClient: [], fromClient: [], rooms: ['a', 'b'], autoJoin: [], presence: [] }],
      ['lobby', { toClient: ['message', 'odd-name'], fromClient: ['ping'], rooms: ['lobby', 'side'], autoJoin: ['lobby'], presence: [] }],
    ]),
  );
});

test('fromClient as a function of handler, and the rooms that list their members', async () => {
  const source = `
    import { room, socket } from 'liverpc/server';
    import * as v from 'valibot';
    export const chat = socket({
      fromClient: (handler) => ({ send: handler(v.string(), ({ within }) => within('lobby').emit('m', 1)) }),
      rooms: {
        lobby: room.private(() => ['lobby'], { autoJoin: true, presence: ({ locals }) => locals.user }),
        quiet: room.private(() => ['quiet']),
        project: room.expose(v.string(), () => false, { presence: () => ({ name: 'x' }) }),
      },
    });
    export const other = socket({ fromClient: (handler) => { return { ping: handler(() => 'pong') }; } });
  `;
  assert.deepEqual(
    await read(source),
    new Map([
      ['chat', { toClient: [], fromClient: ['send'], rooms: ['lobby', 'quiet', 'project'], autoJoin: ['lobby'], presence: ['lobby', 'project'] }],
      ['other', { toClient: [], fromClient: ['ping'], rooms: [], autoJoin: [], presence: [] }],
    ]),
  );
});

test('what cannot be read at build time is an error at the line and column that wrote it', async () => {
  const cases: [string, string][] = [
    [
      "import { socket } from 'liverpc/server';\nimport { shared } from './shared';\n\nexport const chat = socket({\n  toClient: { ...shared },\n});\n",
      '5:15: toClient: a spread cannot be read at build time; write each name in the object',
    ],
    [
      "import { socket, room } from 'liverpc/server';\nimport { name } from './names';\nexport const chat = socket({ rooms: {\n  [name]: room.private(() => ['x']) } });\n",
      '4:4: rooms: a computed key cannot be read at build time; write the name',
    ],
    [
      "import { socket } from 'liverpc/server';\nimport { makeRoom } from './rooms';\nexport const chat = socket({\n  rooms: {\n    lobby: makeRoom('lobby'),\n  },\n});\n",
      '5:12: rooms.lobby: write room.private(...) or room.expose(...) here so that the room can be read at build time',
    ],
    [
      "import { socket, room } from 'liverpc/server';\nconst auto = process.env.AUTO === '1';\nexport const chat = socket({ rooms: { a: room.private(() => ['a'], { autoJoin: auto }) } });\n",
      '3:80: rooms.a: autoJoin must be written `true` or `false`',
    ],
    [
      "import { socket } from 'liverpc/server';\nimport { make } from './handlers';\nexport const chat = socket({ fromClient: (handler) => make(handler) });\n",
      '3:42: fromClient: return the handlers as an object literal (`(handler) => ({ send: handler(...) })`) so that their names can be read at build time',
    ],
    ["export { chat } from './elsewhere.socket';\n", '1:1: `export { ... } from` cannot be read at build time: declare the contracts of this route in this file'],
    [
      "import { socket } from 'liverpc/server';\nimport { def } from './def';\nexport const chat = socket(def);\n",
      '3:28: socket() takes its sections as an object literal (`socket({ toClient, fromClient, rooms })`)',
    ],
  ];
  for (const [source, expected] of cases) assert.equal(await read(source), expected, source);
});
