// Room streams in a real browser (the TypeScript example, whose room page renders the room's
// last 50 messages on the server and continues live from their position): a page loaded while
// another page sends shows the room's stream exactly, with no gap and no duplicate.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ChatServer, FRONTEND, launchBrowser, messages, openTab, seeMessage, withScreenshots } from './harness.mjs';

let browser;
let server;

before(async () => {
  if (FRONTEND !== 'ts') return;
  browser = await launchBrowser();
  server = await new ChatServer().start();
});

after(async () => {
  await browser?.close();
  await server?.destroy();
});

/** Sends `count` messages from `page`'s composer, one every `every` ms (the sender's pace). */
function sendMany(page, label, count, every) {
  return page.evaluate(
    async ({ label, count, every }) => {
      const input = document.querySelector('[data-testid=message-input]');
      for (let i = 1; i <= count; i++) {
        input.value = `${label}-${i}`;
        input.dispatchEvent(new Event('input', { bubbles: true }));
        input.form.requestSubmit();
        await new Promise((resolve) => setTimeout(resolve, every));
      }
    },
    { label, count, every },
  );
}

test('a page loaded with server-rendered history while another sends 50 messages/s shows the stream exactly', { skip: FRONTEND !== 'ts' }, async (t) => {
  await withScreenshots(t, browser, async () => {
    const sender = await openTab(browser, server, { user: 'alice', path: '/rooms/streamed' });
    const expected = Array.from({ length: 50 }, (_, i) => `alice s-${i + 1}`);
    const sending = sendMany(sender, 's', 50, 20);
    // Loaded mid-stream: part of it rendered on the server, the rest replayed or live.
    await seeMessage(sender, 's-10');
    const viewer = await openTab(browser, server, { user: 'bob', path: '/rooms/streamed' });
    await sending;
    await seeMessage(sender, 's-50');
    await seeMessage(viewer, 's-50');
    assert.deepEqual(await messages(sender), expected);
    assert.deepEqual(await messages(viewer), expected);

    // A reload renders the room's last 50 from the server and continues live.
    await viewer.reload();
    await viewer.getByTestId('connection').filter({ hasText: 'Live' }).waitFor();
    assert.deepEqual(await messages(viewer), expected);
    await sendMany(sender, 'after', 1, 0);
    await seeMessage(viewer, 'after-1');
    assert.deepEqual(await messages(viewer), [...expected, 'alice after-1']);
  });
});
