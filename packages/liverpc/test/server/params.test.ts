// `params`' types as liverpc writes them (`Liverpc.Routes`): the route ids' params as SvelteKit
// reads them, the exact declaration, and the one typed/ is type-checked with kept fresh.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { ROUTE_TYPES, paramsOf, routeTypes, socketTypes } from '../../src/build/routes.js';

const here = dirname(fileURLToPath(import.meta.url));
// The sources (this file runs from build-test/, which has no .d.ts of typed/).
const typed = join(here, '..', '..', '..', '..', 'test', 'server', 'typed');

test('a route id has the params SvelteKit reads from it', () => {
  assert.deepEqual(paramsOf('/'), []);
  assert.deepEqual(paramsOf('/rooms/[roomId]'), [{ name: 'roomId', optional: false, matcher: undefined }]);
  assert.deepEqual(paramsOf('/[[lang=lang]]/docs/[...path]/(group)/[a]-[b=integer]'), [
    { name: 'lang', optional: true, matcher: 'lang' },
    { name: 'path', optional: false, matcher: undefined },
    { name: 'a', optional: false, matcher: undefined },
    { name: 'b', optional: false, matcher: 'integer' },
  ]);
});

test('the declaration lists each contract route once, matchers by their guard', () => {
  const file = join(typed, ROUTE_TYPES);
  assert.equal(
    routeTypes(typed, file, join(typed, 'src', 'params')),
    `// Written by liverpc from the contracts under src/routes: do not edit.
// The params of each route that has a contract, as SvelteKit's $types type them: room
// functions and handlers read them as \`params\`.
import type { MatcherParam } from 'liverpc/server';

declare global {
  namespace Liverpc {
    interface Routes {
      '/docs/[[lang]]/[...path]': { lang?: string; path: string };
      '/items/[id=integer]': { id: MatcherParam<typeof import('../src/params/integer.js').match> };
      '/rooms/[roomId]': { roomId: string };
    }
  }
}

export {};
`,
  );
  // params.test-d.ts is checked against the declaration as liverpc writes it today.
  assert.equal(readFileSync(file, 'utf8'), routeTypes(typed, file, join(typed, 'src', 'params')), `${file} is stale: regenerate it`);
});

test('socketTypes() writes the declaration and adds it to SvelteKit\'s tsconfig', () => {
  const out = mkdtempSync(join(tmpdir(), 'liverpc-types-'));
  const cwd = process.cwd();
  try {
    process.chdir(typed);
    const hook = socketTypes({ outDir: out });
    const config = hook({ include: ['ambient.d.ts', './liverpc/routes.d.ts'] });
    assert.deepEqual(config.include, ['ambient.d.ts', './liverpc/routes.d.ts']);
    const file = join(out, ROUTE_TYPES);
    assert.equal(readFileSync(file, 'utf8'), routeTypes(typed, file, join(typed, 'src', 'params')));
    assert.deepEqual(hook<{ include?: string[] }>({}).include, ['./liverpc/routes.d.ts']);
  } finally {
    process.chdir(cwd);
    rmSync(out, { recursive: true, force: true });
  }
});
