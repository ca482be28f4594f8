// Room streams in a real browser, on both examples: the room page shows the room's last 50
// messages before it goes live (the TypeScript example renders them on the server; the Rust
// example's SPA loads them from `GET /api/rooms/{roomId}/history`) and its client continues
// from their position: a page loaded while another page sends shows the room's stream
// exactly, with no gap and no duplicate; a page whose room's stream was lost (a restart) is
// told (`missed`) and shows the room as the server now has it; on Redis, a page whose node
// restarts gets every message the other node sent meanwhile.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ChatServer, launchBrowser, messages, openTab, say, seeMessage, withScreenshots, withTwoNodes } from './harness.mjs';

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

test('after a restart loses the room\'s stream, the page is told and shows the room as the server has it, then continues live', async (t) => {
  const own = await new ChatServer().start();
  try {
    await withScreenshots(t, browser, async () => {
      const viewer = await openTab(browser, own, { user: 'bob', path: '/rooms/restarted' });
      const sender = await openTab(browser, own, { user: 'alice', path: '/rooms/restarted' });
      for (const text of ['old-1', 'old-2']) {
        await say(sender, text);
        await seeMessage(viewer, text);
      }
      assert.deepEqual(await messages(viewer), ['alice old-1', 'alice old-2']);

      // History lives in the server's memory: the restarted one has a new epoch, so the page's
      // position cannot be recovered; `missed` reloads the room's history (empty now).
      await own.stop();
      await viewer.locator('[data-testid="connection"][data-status="reconnecting"]').waitFor();
      await own.start(own.port);
      await viewer.getByTestId('messages').locator('.empty').waitFor({ timeout: 30000 });
      await viewer.getByTestId('connection').filter({ hasText: 'Live' }).waitFor();
      await sender.getByTestId('connection').filter({ hasText: 'Live' }).waitFor({ timeout: 30000 });
      await say(sender, 'new-1');
      await seeMessage(viewer, 'new-1');
      assert.deepEqual(await messages(viewer), ['alice new-1']);
    });
  } finally {
    await own.destroy();
  }
});

test('on Redis, a page whose node restarts gets every message sent meanwhile on the other node, once', async (t) => {
  await withTwoNodes(async (nodeA, nodeB) => {
    await withScreenshots(t, browser, async () => {
      const viewer = await openTab(browser, nodeA, { user: 'bob', path: '/rooms/relayed' });
      const sender = await openTab(browser, nodeB, { user: 'alice', path: '/rooms/relayed' });
      await say(sender, 'before-1');
      await seeMessage(viewer, 'before-1');

      // The room's stream is in Redis: node A's restart (a new node) keeps it, so the page's
      // position is recovered and what it missed is replayed, not reported as `missed` (which
      // would reload the room's history: its load's request is watched for).
      const reloads = [];
      viewer.on('request', (request) => {
        if (/\/history|__data\.json/.test(request.url())) reloads.push(request.url());
      });
      await nodeA.stop();
      await viewer.locator('[data-testid="connection"][data-status="reconnecting"]').waitFor();
      for (const text of ['during-1', 'during-2', 'during-3']) {
        await say(sender, text);
        await seeMessage(sender, text); // sent (the composer is cleared by the answer)
      }
      await nodeA.start(nodeA.port);
      await seeMessage(viewer, 'during-3');
      await viewer.getByTestId('connection').filter({ hasText: 'Live' }).waitFor();
      const expected = ['alice before-1', 'alice during-1', 'alice during-2', 'alice during-3'];
      assert.deepEqual(await messages(viewer), expected);
      await say(sender, 'after-1');
      await seeMessage(viewer, 'after-1');
      assert.deepEqual(await messages(viewer), [...expected, 'alice after-1']);
      assert.deepEqual(reloads, [], 'recovered from its position, not reloaded');
    });
  });
});
