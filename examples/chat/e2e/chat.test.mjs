// The tutorial's checkpoints, and navigation and restarts, in a real browser.

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

test('a message sent in general appears in the other general tab and never in random', async (t) => {
  await withScreenshots(t, browser, async () => {
    const general = await openTab(browser, server, { user: 'alice', path: '/rooms/general' });
    const general2 = await openTab(browser, server, { user: 'bob', path: '/rooms/general' });
    const random = await openTab(browser, server, { user: 'carol', path: '/rooms/random' });

    await say(general, 'hello general');
    await seeMessage(general2, 'hello general');
    await seeMessage(general, 'hello general');

    // The general broadcast is done; a later message in random arrives after anything that
    // could have leaked, so random's list is exactly the marker.
    await say(random, 'marker in random');
    await seeMessage(random, 'marker in random');
    assert.deepEqual(await messages(random), ['carol marker in random']);
    assert.equal(await random.getByTestId('unread-general').count(), 0);
  });
});

test('signed out, the tenant room fails on the server; signed in, tenant messages arrive', async (t) => {
  await withScreenshots(t, browser, async () => {
    const guest = await openTab(browser, server, { path: '/rooms/general' });
    await guest.getByTestId('tenant-refused').waitFor();
    const feed = guest.getByTestId('tenant-feed');
    assert.equal(await feed.getAttribute('data-status'), 'denied');
    // The page received exactly `forbidden` (not a timeout, not a dropped connection).
    assert.equal(await feed.getAttribute('data-error'), 'forbidden');

    const alice = await openTab(browser, server, { user: 'alice', path: '/rooms/general' });
    const bob = await openTab(browser, server, { user: 'bob', path: '/rooms/random' });
    const carol = await openTab(browser, server, { user: 'carol', path: '/rooms/general' });
    for (const page of [alice, bob, carol]) {
      await page.locator('[data-testid="tenant-feed"][data-status="joined"]').waitFor();
    }
    await alice.getByTestId('announce-input').fill('acme stand-up moved to 11');
    await alice.getByTestId('announce-input').press('Enter');
    await bob.getByTestId('tenant-notice').filter({ hasText: 'acme stand-up moved to 11' }).waitFor();
    await alice.getByTestId('tenant-notice').filter({ hasText: 'acme stand-up moved to 11' }).waitFor();

    // carol is in globex: her own tenant's announcement is the barrier.
    await carol.getByTestId('announce-input').fill('globex only');
    await carol.getByTestId('announce-input').press('Enter');
    await carol.getByTestId('tenant-notice').filter({ hasText: 'globex only' }).waitFor();
    assert.deepEqual(await carol.getByTestId('tenant-notice').allInnerTexts(), ['carol: globex only']);
  });
});

test('joining a project without access is refused and its messages never show', async (t) => {
  await withScreenshots(t, browser, async () => {
    const alice = await openTab(browser, server, { user: 'alice', path: '/rooms/general' });
    const bob = await openTab(browser, server, { user: 'bob', path: '/rooms/general' });

    await bob.getByTestId('project-tab-gemini').click();
    await bob.getByTestId('project-refused').waitFor();
    const panel = bob.getByTestId('project-panel');
    assert.equal(await panel.getAttribute('data-access'), 'denied');
    assert.equal(await panel.getAttribute('data-error'), 'forbidden');
    assert.match(await panel.innerText(), /You don't have access to gemini/);

    await alice.getByTestId('project-tab-gemini').click();
    await alice.locator('[data-testid="project-panel"][data-access="joined"]').waitFor();
    await alice.getByTestId('project-input').fill('gemini launch date');
    await alice.getByTestId('project-input').press('Enter');
    await alice.getByTestId('project-message').filter({ hasText: 'gemini launch date' }).waitFor();

    // Barrier through the shared chat room, then bob's page must not contain the secret.
    await say(alice, 'after the secret');
    await seeMessage(bob, 'after the secret');
    assert.ok(!(await bob.locator('body').innerText()).includes('gemini launch date'));
  });
});

test('navigating from general to random by a link follows the new room', async (t) => {
  await withScreenshots(t, browser, async () => {
    const tab = await openTab(browser, server, { user: 'alice', path: '/rooms/general' });
    const inGeneral = await openTab(browser, server, { user: 'bob', path: '/rooms/general' });
    const inRandom = await openTab(browser, server, { user: 'carol', path: '/rooms/random' });

    await tab.getByTestId('room-link-random').click();
    await tab.waitForURL('**/rooms/random');
    await tab.getByRole('heading', { name: '#random' }).waitFor();
    await tab.getByTestId('connection').filter({ hasText: 'Live' }).waitFor();
    // The page is in random: a message there arrives (after the client followed).
    await say(inRandom, 'hello random');
    await seeMessage(tab, 'hello random');

    // A message in general, then a marker in random: if the tab were still in general, its
    // general badge would count the first before the marker arrives.
    await say(inGeneral, 'general after you left');
    await seeMessage(inGeneral, 'general after you left');
    await say(inRandom, 'marker');
    await seeMessage(tab, 'marker');
    assert.equal(await tab.getByTestId('unread-general').count(), 0);
    assert.ok(!(await messages(tab)).some((m) => m.includes('general after you left')));
  });
});

test('while the server is down the page says offline, not "no access"', async (t) => {
  const own = await new ChatServer().start();
  try {
    await withScreenshots(t, browser, async () => {
      const alice = await openTab(browser, own, { user: 'alice', path: '/rooms/general' });
      await alice.getByTestId('project-tab-gemini').click();
      await alice.locator('[data-testid="project-panel"][data-access="joined"]').waitFor();
      await alice.locator('[data-testid="tenant-feed"][data-status="joined"]').waitFor();

      await own.stop();
      await alice.locator('[data-testid="connection"][data-status="reconnecting"]').waitFor();
      await alice.getByTestId('project-offline').waitFor();
      await alice.getByTestId('tenant-offline').waitFor();
      const panel = alice.getByTestId('project-panel');
      assert.equal(await panel.getAttribute('data-access'), 'offline');
      assert.equal(await panel.getAttribute('data-error'), null);
      assert.equal(await alice.getByTestId('project-refused').count(), 0);
      assert.equal(await alice.getByTestId('tenant-refused').count(), 0);

      await own.start(own.port);
      await alice.locator('[data-testid="project-panel"][data-access="joined"]').waitFor({ timeout: 30000 });
      await alice.locator('[data-testid="tenant-feed"][data-status="joined"]').waitFor();
    });
  } finally {
    await own.destroy();
  }
});

test('after a server restart the tab reconnects, rejoins its rooms and receives new messages', async (t) => {
  const own = await new ChatServer().start();
  try {
    await withScreenshots(t, browser, async () => {
      const alice = await openTab(browser, own, { user: 'alice', path: '/rooms/general' });
      await alice.getByTestId('project-tab-gemini').click();
      await alice.locator('[data-testid="project-panel"][data-access="joined"]').waitFor();
      await alice.locator('[data-testid="tenant-feed"][data-status="joined"]').waitFor();

      await own.stop();
      await alice.getByTestId('connection').filter({ hasNotText: 'Live' }).waitFor();
      await own.start(own.port);
      await alice.getByTestId('connection').filter({ hasText: 'Live' }).waitFor({ timeout: 30000 });

      // The chat room (auto-joined), the project and the tenant feed (re-authorized) all work.
      const alice2 = await openTab(browser, own, { user: 'alice', path: '/rooms/general' });
      await say(alice2, 'welcome back');
      await seeMessage(alice, 'welcome back');

      await alice2.getByTestId('project-tab-gemini').click();
      await alice2.locator('[data-testid="project-panel"][data-access="joined"]').waitFor();
      await alice2.getByTestId('project-input').fill('gemini after restart');
      await alice2.getByTestId('project-input').press('Enter');
      await alice.getByTestId('project-message').filter({ hasText: 'gemini after restart' }).waitFor();

      await alice2.getByTestId('announce-input').fill('tenant after restart');
      await alice2.getByTestId('announce-input').press('Enter');
      await alice.getByTestId('tenant-notice').filter({ hasText: 'tenant after restart' }).waitFor();
    });
  } finally {
    await own.destroy();
  }
});

test('two tabs of one server see each other in the room, and a tab that leaves goes from the list', async (t) => {
  await withScreenshots(t, browser, async () => {
    const alice = await openTab(browser, server, { user: 'alice', path: '/rooms/general' });
    const bob = await openTab(browser, server, { user: 'bob', path: '/rooms/general' });
    for (const tab of [alice, bob]) {
      await tab.getByTestId('member').filter({ hasText: 'alice' }).waitFor();
      await tab.getByTestId('member').filter({ hasText: 'bob' }).waitFor();
    }
    await bob.context().close();
    await alice.getByTestId('member').filter({ hasText: 'bob' }).waitFor({ state: 'detached' });
    assert.deepEqual(await alice.getByTestId('member').allTextContents(), ['alice']);
  });
});

test('two tabs on two nodes of one Redis see each other\'s messages and each other in the room', async (t) => {
  await withTwoNodes(async (nodeA, nodeB) => {
    await withScreenshots(t, browser, async () => {
      const alice = await openTab(browser, nodeA, { user: 'alice', path: '/rooms/general' });
      const bob = await openTab(browser, nodeB, { user: 'bob', path: '/rooms/general' });

      // Presence: each tab lists both members, whichever node they are on.
      for (const tab of [alice, bob]) {
        await tab.getByTestId('member').filter({ hasText: 'alice' }).waitFor();
        await tab.getByTestId('member').filter({ hasText: 'bob' }).waitFor();
      }
      await say(alice, 'from node A');
      await seeMessage(bob, 'from node A');
      await say(bob, 'from node B');
      await seeMessage(alice, 'from node B');

      // A leave on node B reaches node A's list.
      await bob.context().close();
      await alice.getByTestId('member').filter({ hasText: 'bob' }).waitFor({ state: 'detached' });
      assert.deepEqual(await alice.getByTestId('member').allTextContents(), ['alice']);
    });
  });
});
