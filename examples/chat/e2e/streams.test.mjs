// Room streams in a real browser, on both examples: the room page shows the room's last 50
// messages before it goes live (the TypeScript example renders them on the server; the Rust
// example's SPA loads them from `GET /api/rooms/{roomId}/history`) and its client continues
// from their position: a page loaded while another page sends shows the room's stream
// exactly, with no gap and no duplicate.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ChatServer, launchBrowser, messages, openTab, seeMessage, withScreenshots } from './harness.mjs';

let browser;
let server;

before(async () => {
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

test('a page loaded with the room\'s history while another sends 50 messages/s shows the stream exactly', async (t) => {
  await withScreenshots(t, browser, async () => {
    const sender = await openTab(browser, server, { user: 'alice', path: '/rooms/streamed' });
    const expected = Array.from({ length: 50 }, (_, i) => `alice s-${i + 1}`);
    const sending = sendMany(sender, 's', 50, 20);
    // Loaded mid-stream: part of it in the history the page loaded, the rest replayed or live.
    await seeMessage(sender, 's-10');
    const viewer = await openTab(browser, server, { user: 'bob', path: '/rooms/streamed' });
    await sending;
    await seeMessage(sender, 's-50');
    await seeMessage(viewer, 's-50');
    assert.deepEqual(await messages(sender), expected);
    assert.deepEqual(await messages(viewer), expected);

    // A reload shows the room's last 50 from the server and continues live.
    await viewer.reload();
    await viewer.getByTestId('connection').filter({ hasText: 'Live' }).waitFor();
    assert.deepEqual(await messages(viewer), expected);
    await sendMany(sender, 'after', 1, 0);
    await seeMessage(viewer, 'after-1');
    assert.deepEqual(await messages(viewer), [...expected, 'alice after-1']);
  });
});
