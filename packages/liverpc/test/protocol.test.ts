// The wire rules that are code (src/protocol.ts), on the vectors the Rust engine is written to:
// `liverpc::protocol::namespace`, the payload identity of joins, the invalid-payload message.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { canonical, invalidPayloadMessage, namespaceOf, samePayload } from '#internal/protocol.js';

test('a namespace is the route id without its trailing slash, then the name', () => {
  assert.equal(namespaceOf('/rooms/[roomId]', 'chat'), '/rooms/[roomId]/chat');
  assert.equal(namespaceOf('/', 'chat'), '/chat');
});

test('join payloads compare by their canonical form: sorted keys, undefined as null', () => {
  assert.equal(JSON.stringify(canonical({ b: [{ d: 1, c: 2 }], a: undefined })), '{"b":[{"c":2,"d":1}]}');
  assert.ok(samePayload({ projectId: 'apollo', tenant: 'acme' }, { tenant: 'acme', projectId: 'apollo' }));
  assert.ok(!samePayload({ projectId: 'apollo' }, { projectId: 'gemini' }));
  assert.ok(samePayload(undefined, null));
});

test('the invalid-payload message has the three shapes the Rust engine writes', () => {
  assert.equal(
    invalidPayloadMessage([{ path: '', message: 'expected an object' }]),
    'invalid payload: expected an object',
  );
  assert.equal(
    invalidPayloadMessage([{ path: 'items.0', message: 'a $& {count}' }]),
    'invalid payload: items.0: a $& {count}',
  );
  const two = [
    { path: 'a', message: 'x' },
    { path: 'b', message: 'y' },
  ];
  assert.equal(invalidPayloadMessage(two), 'invalid payload: 2 issues');
});
