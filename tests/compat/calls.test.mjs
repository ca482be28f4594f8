import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { useFixture } from './client.mjs';

const fixture = useFixture();

describe('invalid input is answered, and the socket keeps working', () => {
  const refused = [
    ['an unknown event', 'nope', { text: 'hi' }, 'not_found'],
    ['send with a number for text', 'send', { text: 5 }, 'invalid_payload'],
    ['send with empty text', 'send', { text: '' }, 'invalid_payload'],
    ['send with text over 500 chars', 'send', { text: 'x'.repeat(501) }, 'invalid_payload'],
    ['send with an extra field', 'send', { text: 'hi', extra: true }, 'invalid_payload'],
    ['send with null', 'send', null, 'invalid_payload'],
    ['a payload over 64 KiB', 'send', { text: 'x'.repeat(70_000) }, 'too_large'],
    ['a join of an unknown room', 'liverpc:join', { room: 'nope' }, 'not_found'],
    ['a join of a private room with data', 'liverpc:join', { room: 'tenant', data: { x: 1 } }, 'invalid_payload'],
    ['a post to a room the socket is not in', 'post', { room: 'tenant', text: 'hi' }, 'forbidden'],
    ['a handler that panics', 'boom', null, 'internal'],
  ];
  for (const [what, name, payload, code] of refused) {
    test(what, async () => {
      const tab = await fixture.connect({ user: 'alice' });
      const answer = await tab.call(name, payload);
      assert.equal(answer.ok, false, JSON.stringify(answer));
      assert.equal(answer.error.code, code);
      assert.equal(typeof answer.error.message, 'string');
      assert.deepEqual(await tab.call('whoami'), { ok: true, data: 'alice' });
    });
  }

  test('issues name the offending field by its wire path', async () => {
    const tab = await fixture.connect({ user: 'alice' });
    const answer = await tab.call('send', { text: 5 });
    assert.equal(answer.error.code, 'invalid_payload');
    assert.equal(answer.error.issues[0].path, 'text');
    assert.equal(typeof answer.error.issues[0].message, 'string');
  });

  test('the ack-less emit form of the official client gets the same envelope', async () => {
    const tab = await fixture.connect({ user: 'bob' });
    const answer = await new Promise((resolve) => tab.socket.emit('whoami', null, resolve));
    assert.deepEqual(answer, { ok: true, data: 'bob' });
  });
});

for (const transport of ['websocket', 'polling']) {
  test(`a frame over twice the payload limit closes the ${transport} connection`, async () => {
    const tab = await fixture.connect({ user: 'alice', transports: [transport] });
    const disconnected = tab.once('disconnect');
    tab.socket.emit('send', { text: 'x'.repeat(200_000) });
    assert.match(await disconnected, /^transport (close|error)$/);
  });
}

describe('rate limiting', () => {
  test('a burst of 100 calls is cut at about 40, per socket only', async () => {
    const tab = await fixture.connect({ user: 'alice' });
    const answers = await Promise.all(Array.from({ length: 100 }, () => tab.call('whoami')));
    const ok = answers.filter((a) => a.ok);
    const limited = answers.filter((a) => !a.ok);
    assert.ok(ok.length >= 1 && ok.length <= 41, `${ok.length} calls answered ok`);
    assert.ok(ok.every((a) => a.data === 'alice'));
    assert.equal(limited.length, 100 - ok.length);
    assert.ok(limited.every((a) => a.error.code === 'rate_limited'), JSON.stringify(limited[0]));

    // Another socket has its own bucket.
    const other = await fixture.connect({ user: 'alice' });
    assert.deepEqual(await other.call('whoami'), { ok: true, data: 'alice' });

    // The limited socket is still connected and recovers as its bucket refills (20/s): each
    // attempt awaits a real answer, refused ones take no token.
    assert.ok(tab.socket.connected);
    const deadline = Date.now() + 2_000;
    let answer;
    do answer = await tab.call('whoami');
    while (!answer.ok && answer.error.code === 'rate_limited' && Date.now() < deadline);
    assert.deepEqual(answer, { ok: true, data: 'alice' });
  });
});
