// The liverpc/vite contract discovery and the browser module that replaces a contract module.

import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { contractFiles, isContractFile, routeIdOf } from '../../src/build/discovery.js';
import { clientModule } from '../../src/build/modules.js';

const here = dirname(fileURLToPath(import.meta.url));

test('route ids come from the folder under src/routes', () => {
  assert.equal(routeIdOf('/app', '/app/src/routes/rooms/[roomId]/chat.socket.ts'), '/rooms/[roomId]');
  assert.equal(routeIdOf('/app', '/app/src/routes/lobby.socket.ts'), '/');
  assert.equal(isContractFile('/app', '/app/src/routes/a/chat.socket.ts?v=1'), true);
  assert.equal(isContractFile('/app', '/app/src/lib/chat.socket.ts'), false);
  assert.equal(isContractFile('/app', '/app/src/routes/a/+page.svelte'), false);
});

test('contract files are found under src/routes', () => {
  const root = join(here, 'app');
  assert.deepEqual(
    contractFiles(root).map((f) => routeIdOf(root, f)),
    ['/rooms/[roomId]'],
  );
});

test('the browser module is one client per contract, from its names', () => {
  const names = { toClient: ['message'], fromClient: ['send'], rooms: ['chat', 'tenant', 'project'], autoJoin: ['chat'], presence: ['chat'] };
  const code = clientModule('/rooms/[roomId]', new Map([['chat', names]]));
  assert.match(code, /import \{ defineClient \} from "liverpc\/sveltekit"/);
  assert.match(code, /export const chat = defineClient\(/);
  const descriptor = JSON.parse(code.slice(code.indexOf('defineClient({') + 13, code.lastIndexOf(')')));
  assert.deepEqual(descriptor, {
    namespace: '/rooms/[roomId]/chat',
    route: '/rooms/[roomId]',
    toClient: ['message'],
    fromClient: ['send'],
    rooms: ['chat', 'tenant', 'project'],
    autoJoin: ['chat'],
    presence: ['chat'],
  });
});
