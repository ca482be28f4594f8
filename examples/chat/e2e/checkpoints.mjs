// The tutorial's three checkpoints, in a real browser, against any running chat server (an
// object with `url`). Each waits on what the page shows, never on time.

import assert from 'node:assert/strict';
import { messages, openTab, say, seeMessage } from './harness.mjs';

/** Checkpoint 1: a message sent in general reaches the other general tab and never random. */
export async function roomsAreSeparate(browser, server) {
  const general = await openTab(browser, server, { user: 'alice', path: '/rooms/general' });
  const general2 = await openTab(browser, server, { user: 'bob', path: '/rooms/general' });
  const random = await openTab(browser, server, { user: 'carol', path: '/rooms/random' });
  await say(general, 'hello general');
  await seeMessage(general2, 'hello general');
  await seeMessage(general, 'hello general');
  // A later message in random arrives after anything that could have leaked.
  await say(random, 'marker in random');
  await seeMessage(random, 'marker in random');
  assert.deepEqual(await messages(random), ['carol marker in random']);
}

/** Checkpoint 2: signed out, the tenant room fails on the server (`forbidden`); signed in, it joins. */
export async function tenantNeedsASession(browser, server) {
  const guest = await openTab(browser, server, { path: '/rooms/general' });
  await guest.getByTestId('tenant-refused').waitFor();
  const feed = guest.getByTestId('tenant-feed');
  assert.equal(await feed.getAttribute('data-status'), 'denied');
  assert.equal(await feed.getAttribute('data-error'), 'forbidden');
  const alice = await openTab(browser, server, { user: 'alice', path: '/rooms/general' });
  await alice.locator('[data-testid="tenant-feed"][data-status="joined"]').waitFor();
}

/** Checkpoint 3: a project without access is refused `forbidden`; one with access joins. */
export async function projectsAreAuthorized(browser, server) {
  const alice = await openTab(browser, server, { user: 'alice', path: '/rooms/general' });
  const bob = await openTab(browser, server, { user: 'bob', path: '/rooms/general' });
  await bob.getByTestId('project-tab-gemini').click();
  await bob.getByTestId('project-refused').waitFor();
  const panel = bob.getByTestId('project-panel');
  assert.equal(await panel.getAttribute('data-access'), 'denied');
  assert.equal(await panel.getAttribute('data-error'), 'forbidden');
  await alice.getByTestId('project-tab-gemini').click();
  await alice.locator('[data-testid="project-panel"][data-access="joined"]').waitFor();
}
