// Both examples behind a real nginx (TLS, Host rewritten, X-Forwarded-For appended), as nearly
// every deployment runs: the checkpoints in Chromium with the public origin set, the client's
// address for the per-address cap only when the proxy is trusted, and a graceful restart.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { Manager } from 'socket.io-client';
import { ChatServer, FRONTEND, launchBrowser, messages, openTab, say, seeMessage, withScreenshots } from './harness.mjs';
import { Nginx } from './nginx.mjs';

const rust = FRONTEND === 'rust';
/**
 * The Rust example's proxy flags (`--origin`, `--trusted-proxy`, `--max-connections-per-address`)
 * and its SIGTERM shutdown come with the Rust front-end's trusted proxies: until its usage
 * names them, its cases here are skipped, saying why.
 */
const rustUsage = rust ? usage() : '';
const ready = !rust || rustUsage.includes('--trusted-proxy');
const maybe = ready ? test : (name, body) => test(name, { skip: 'the Rust example has no --trusted-proxy yet' }, body);

function usage() {
  try {
    execFileSync(process.env.CHAT_SERVER_BIN ?? new URL('../../../target/debug/chat-server', import.meta.url).pathname, ['--help'], { stdio: 'pipe' });
    return '';
  } catch (e) {
    return String(e.stderr ?? '') + String(e.stdout ?? '');
  }
}

/**
 * A chat server behind `nginx`: with its public origin (`ORIGIN` / `--origin`), trusting the
 * proxy's forwarded address (`ADDRESS_HEADER` + `XFF_DEPTH` / `--trusted-proxy`), a per-address cap.
 */
function behind(nginx, { origin = false, trust = false, cap } = {}) {
  if (rust) {
    return new ChatServer(undefined, {
      args: [
        ...(origin ? ['--origin', nginx.url] : []),
        ...(trust ? ['--trusted-proxy', '127.0.0.1/32'] : []),
        ...(cap === undefined ? [] : ['--max-connections-per-address', String(cap)]),
      ],
    });
  }
  return new ChatServer(undefined, {
    env: {
      ...(origin ? { ORIGIN: nginx.url } : {}),
      ...(trust ? { ADDRESS_HEADER: 'x-forwarded-for', XFF_DEPTH: '1' } : {}),
      ...(cap === undefined ? {} : { SERVE_OPTIONS: JSON.stringify({ limits: { maxConnectionsPerAddress: cap } }) }),
    },
    // The example's build with a cap server.js leaves at its default.
    ...(cap === undefined ? {} : { script: 'test/fixtures/serve.mjs' }),
  });
}

/** One deployment: nginx in front of a server, started together, stopped together. */
async function deployment(options) {
  const nginx = await new Nginx().reserve();
  const server = await behind(nginx, options).start();
  await nginx.start(`http://127.0.0.1:${server.port}`);
  // What openTab needs: the public URL, and trust in the test's certificate.
  const site = { url: nginx.url, contextOptions: { ignoreHTTPSErrors: true } };
  return { nginx, server, site, stop: async () => (await nginx.stop(), await server.destroy()) };
}

/** The official client through nginx, from `localAddress`; resolves `true` or the connect_error's message. */
function connects(nginx, localAddress, managers) {
  const manager = new Manager(nginx.url, { transports: ['websocket'], reconnection: false, ca: nginx.ca, localAddress, extraHeaders: { origin: nginx.url } });
  managers.push(manager);
  const socket = manager.socket('/rooms/[roomId]/chat', { auth: { path: '/rooms/general' } });
  socket.connect();
  return new Promise((resolve) => {
    socket.once('connect', () => resolve(true));
    socket.once('connect_error', (e) => resolve(e.message));
  });
}

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

maybe('the checkpoints pass through nginx (TLS, Host rewritten) with the public origin set', async (t) => {
  const d = await deployment({ origin: true });
  try {
    await withScreenshots(t, browser, async () => {
      // 1: rooms are separate.
      const general = await openTab(browser, d.site, { user: 'alice', path: '/rooms/general' });
      const general2 = await openTab(browser, d.site, { user: 'bob', path: '/rooms/general' });
      const random = await openTab(browser, d.site, { user: 'carol', path: '/rooms/random' });
      await say(general, 'through nginx');
      await seeMessage(general2, 'through nginx');
      await say(random, 'marker in random');
      await seeMessage(random, 'marker in random');
      assert.deepEqual(await messages(random), ['carol marker in random']);
      // 2: the tenant room needs a session.
      const guest = await openTab(browser, d.site, { path: '/rooms/general' });
      await guest.getByTestId('tenant-refused').waitFor();
      assert.equal(await guest.getByTestId('tenant-feed').getAttribute('data-error'), 'forbidden');
      await general.locator('[data-testid="tenant-feed"][data-status="joined"]').waitFor();
      // 3: a project needs access.
      await general2.getByTestId('project-tab-gemini').click();
      await general2.getByTestId('project-refused').waitFor();
      await general.getByTestId('project-tab-gemini').click();
      await general.locator('[data-testid="project-panel"][data-access="joined"]').waitFor();
    });
  } finally {
    await d.stop();
  }
});

maybe('without the public origin, the Host nginx rewrote makes the Origin check refuse', async () => {
  const d = await deployment();
  const managers = [];
  try {
    assert.equal(await connects(d.nginx, '127.0.0.2', managers), 'forbidden_origin');
  } finally {
    for (const m of managers) m.engine.close();
    await d.stop();
  }
});

maybe('two client addresses behind nginx are two for the per-address cap when trusted, one when not', async () => {
  const managers = [];
  const trusted = await deployment({ origin: true, trust: true, cap: 1 });
  const untrusted = await deployment({ origin: true, cap: 1 });
  try {
    assert.equal(await connects(trusted.nginx, '127.0.0.2', managers), true);
    assert.equal(await connects(trusted.nginx, '127.0.0.3', managers), true, 'another address, under its own cap');
    assert.notEqual(await connects(trusted.nginx, '127.0.0.2', managers), true, 'the same address again: over its cap of 1');

    assert.equal(await connects(untrusted.nginx, '127.0.0.2', managers), true);
    assert.notEqual(await connects(untrusted.nginx, '127.0.0.3', managers), true, 'not trusted: both are nginx\'s address');
  } finally {
    for (const m of managers) m.engine.close();
    await trusted.stop();
    await untrusted.stop();
  }
});

maybe('SIGTERM behind nginx: pages show reconnecting, then connected to the restarted server, never refused', async (t) => {
  const d = await deployment({ origin: true });
  try {
    await withScreenshots(t, browser, async () => {
      const pages = [];
      for (const user of ['alice', 'bob', undefined]) pages.push(await openTab(browser, d.site, { user, path: '/rooms/general' }));
      // Every status each page shows from now on, as the page's own DOM changes.
      for (const page of pages) {
        await page.evaluate(() => {
          const el = document.querySelector('[data-testid="connection"]');
          const seen = [el.dataset.status];
          window.liverpcStatuses = seen;
          new MutationObserver(() => seen.push(el.dataset.status)).observe(el, { attributes: true, attributeFilter: ['data-status'] });
        });
      }
      assert.equal(await d.server.stop('SIGTERM'), 0, 'the process exits by itself, 0');
      for (const page of pages) await page.locator('[data-testid="connection"][data-status="reconnecting"]').waitFor();
      await d.server.start(d.server.port);
      for (const page of pages) await page.locator('[data-testid="connection"][data-status="connected"]').waitFor({ timeout: 30000 });
      await pages[0].locator('[data-testid="tenant-feed"][data-status="joined"]').waitFor();
      await say(pages[1], 'after the restart');
      await seeMessage(pages[2], 'after the restart');
      for (const page of pages) {
        const seen = await page.evaluate(() => window.liverpcStatuses);
        assert.ok(seen.includes('reconnecting'), seen.join(' '));
        assert.ok(!seen.includes('refused'), seen.join(' '));
        assert.equal(seen.at(-1), 'connected');
      }
    });
  } finally {
    await d.stop();
  }
});
