// Getting started, as a new user does it: a fresh SvelteKit app from the official CLI, liverpc
// installed from the tarballs `cargo xtask pack` wrote (nothing from the repository, no copy of
// liverpc from the registry), the files of the getting-started page
// (packages/liverpc/README.md) written as the page shows them, and no cargo or rustc on PATH.
// Then the tutorial's three checkpoints in Chromium, against `vite dev` and against the built
// app on `node server.js`; and the loader's one line on platforms without an engine.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { launchBrowser } from '../../examples/chat/e2e/harness.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const packs = process.env.LIVERPC_PACK ?? join(root, 'target', 'pack');
const SV = 'sv@0.17.1';
/** The page's commands, in order; the test runs each (the install of liverpc from the tarballs). */
const COMMANDS = [
  `npx ${SV} create --template minimal --types ts --no-add-ons --no-install my-app`,
  'cd my-app',
  'npm install liverpc valibot',
  'npm install -D @sveltejs/adapter-node@5',
  'npm run check',
  'npm run dev',
  'npm run build',
  'node server.js',
];

/** PATH without any directory that holds cargo or rustc: a machine without Rust. */
function pathWithoutRust() {
  const exe = process.platform === 'win32' ? '.exe' : '';
  const rust = (dir) => ['cargo', 'rustc'].some((tool) => existsSync(join(dir, tool + exe)));
  return (process.env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => dir !== '' && !rust(dir))
    .join(delimiter);
}

const env = { ...process.env, PATH: pathWithoutRust(), NO_COLOR: '1' };
// The parent's npm run-script variables and anything pointing at a local engine build.
for (const name of Object.keys(env)) {
  if (/^(npm_package_|npm_lifecycle_|LIVERPC_|CARGO|RUSTUP|RUSTC)/.test(name)) delete env[name];
}

let work;
let app;

/** Runs a command to completion in `cwd`; its output is shown only when it fails. */
function sh(cwd, command, args, extraEnv = {}) {
  const done = spawnSync(command, args, {
    cwd,
    env: { ...env, ...extraEnv },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  assert.equal(
    done.status,
    0,
    `${command} ${args.join(' ')} failed (${done.error?.message ?? done.status}):\n${done.stdout}\n${done.stderr}`,
  );
  return done.stdout;
}

/** The getting-started section of the package's README: its commands and its files. */
function gettingStarted() {
  const readme = readFileSync(join(root, 'packages', 'liverpc', 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Getting started'));
  assert.ok(section, 'packages/liverpc/README.md has a "## Getting started" section');
  const commands = [];
  const files = new Map();
  for (const [, indent, lang, body] of section.matchAll(/^( *)```(\w*)\n([\s\S]*?)^\1```/gm)) {
    const lines = body.split('\n').map((line) => line.slice(indent.length));
    if (lang === 'sh') {
      commands.push(...lines.filter((line) => line.trim() !== ''));
      continue;
    }
    // A file's block names it on its first line: `// path` or `<!-- path -->`.
    const named = /^(?:\/\/ |<!-- )(\S+?)(?: -->)?$/.exec(lines[0] ?? '');
    if (named) files.set(named[1], lines.slice(1).join('\n').replace(/\n*$/, '\n'));
  }
  return { commands, files };
}

/** A server started by `command` in the app; resolves with its URL once it printed it. */
async function start(args, pattern, extraEnv = {}) {
  const child = spawn(args[0], args.slice(1), {
    cwd: app,
    env: { ...env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  const url = await new Promise((resolve, reject) => {
    const seen = (chunk) => {
      out += chunk;
      const found = pattern.exec(out);
      if (found) resolve(found[1].replace(/\/$/, ''));
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code}):\n${out}`)));
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    // The whole group: `npm run dev` is npm, a shell and Vite.
    process.kill(-child.pid, 'SIGTERM');
    await exited;
  };
  return { url, stop, output: () => out };
}

/** The tutorial's three checkpoints in Chromium against the app at `base`. */
async function checkpoints(base) {
  const browser = await launchBrowser();
  try {
    const open = async (user, path) => {
      const context = await browser.newContext({ baseURL: base });
      // Signing in, as the page's stand-in session store has it: the cookie names the user.
      if (user) await context.addCookies([{ name: 'session', value: user, url: base }]);
      const page = await context.newPage();
      await page.goto(path);
      await page.getByTestId('status').filter({ hasText: 'connected' }).waitFor();
      return page;
    };
    /** The text `testId` shows once the page wrote one. */
    const outcome = async (page, testId) => {
      await page.locator(`[data-testid="${testId}"]:not(:empty)`).waitFor();
      return page.getByTestId(testId).innerText();
    };
    const say = async (page, text) => {
      await page.getByTestId('text').fill(text);
      await page.getByTestId('send').click();
    };
    const sees = (page, text) => page.getByTestId('message').filter({ hasText: text }).first().waitFor();

    // 1. /rooms/general and /rooms/random are different rooms.
    const general = await open('alice', '/rooms/general');
    const general2 = await open('bob', '/rooms/general');
    const random = await open('bob', '/rooms/random');
    await say(general, 'hello general');
    await sees(general2, 'alice: hello general');
    await sees(general, 'alice: hello general');
    // After the general broadcast, a message in random: random's list is exactly it.
    await say(random, 'marker in random');
    await sees(random, 'bob: marker in random');
    assert.deepEqual(await random.getByTestId('message').allInnerTexts(), ['bob: marker in random']);

    // 2. Without a session the tenant room is refused on the server; with one it is joined.
    const guest = await open(undefined, '/rooms/general');
    await guest.getByTestId('join-tenant').click();
    assert.equal(await outcome(guest, 'tenant'), 'forbidden');
    await general.getByTestId('join-tenant').click();
    assert.equal(await outcome(general, 'tenant'), 'joined');

    // 3. A project the user cannot access is refused, exactly `forbidden`; one they can, joined.
    await general2.getByTestId('open-gemini').click();
    assert.equal(await outcome(general2, 'project'), 'forbidden');
    await general.getByTestId('open-gemini').click();
    assert.equal(await outcome(general, 'project'), 'joined');
  } finally {
    await browser.close();
  }
}

before(() => {
  for (const tool of ['cargo', 'rustc']) {
    assert.equal(
      spawnSync(tool, ['--version'], { env }).error?.code,
      'ENOENT',
      `${tool} is still on the PATH given to the app`,
    );
  }
  for (const tool of ['node', 'npm']) {
    assert.equal(
      spawnSync(tool, ['--version'], { env }).status,
      0,
      `${tool} shares a PATH directory with cargo or rustc: install them apart`,
    );
  }
  work = mkdtempSync(join(tmpdir(), 'liverpc-getting-started-'));
  mkdirSync(join(work, 'packs'));
  for (const file of readdirSync(packs).filter((f) => f.endsWith('.tgz')))
    copyFileSync(join(packs, file), join(work, 'packs', file));
});

after(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

test('the getting-started page creates the app, step by step, without Rust', () => {
  const { commands, files } = gettingStarted();
  assert.deepEqual(commands, COMMANDS, "the README's commands are the ones this test runs");

  sh(work, 'npx', [
    '-y',
    SV,
    'create',
    '--template',
    'minimal',
    '--types',
    'ts',
    '--no-add-ons',
    '--no-install',
    'my-app',
  ]);
  app = join(work, 'my-app');

  // `npm install liverpc`, from the tarballs: the engine still comes in through liverpc's
  // optionalDependencies (npm picks this platform's), from its tarball instead of the registry.
  const tarballs = readdirSync(join(work, 'packs'));
  const main = tarballs.find((f) => /^liverpc-\d/.test(f));
  assert.ok(main, `a liverpc tarball in ${packs}: run cargo xtask pack`);
  const manifest = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8'));
  manifest.overrides = Object.fromEntries(
    tarballs
      .filter((f) => f.startsWith('liverpc-engine-'))
      .map((f) => [`@liverpc/${f.slice('liverpc-'.length).replace(/-\d.*$/, '')}`, `file:../packs/${f}`]),
  );
  assert.ok(Object.keys(manifest.overrides).length > 0, 'an engine tarball');
  writeFileSync(join(app, 'package.json'), JSON.stringify(manifest, null, 2));
  sh(app, 'npm', ['install', '--no-audit', '--no-fund', `../packs/${main}`, 'valibot']);
  sh(app, 'npm', ['install', '--no-audit', '--no-fund', '-D', '@sveltejs/adapter-node@5']);

  // Every liverpc package in the app came from a tarball, none from the registry.
  const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8'));
  const ours = Object.entries(lock.packages).filter(([path]) => /node_modules\/(liverpc|@liverpc\/)/.test(path));
  assert.ok(ours.length >= 2, 'liverpc and its engine are installed');
  for (const [path, entry] of ours)
    assert.match(entry.resolved ?? '', /^file:\.\.\/packs\//, `${path} from the tarballs`);

  for (const [path, content] of files) {
    mkdirSync(dirname(join(app, path)), { recursive: true });
    writeFileSync(join(app, path), content);
  }
  assert.deepEqual([...files.keys()].sort(), [
    'server.js',
    'src/app.d.ts',
    'src/hooks.socket.ts',
    'src/lib/server/users.ts',
    'src/routes/rooms/[roomId]/+page.svelte',
    'src/routes/rooms/[roomId]/chat.socket.ts',
    'vite.config.ts',
  ]);
  // The page's types check with the app's own TypeScript (moduleResolution bundler).
  assert.match(sh(app, 'npm', ['run', 'check']), /found 0 errors and 0 warnings/);
});

test('the three checkpoints in vite dev', async () => {
  const dev = await start(['npm', 'run', 'dev', '--', '--host', '127.0.0.1', '--port', '0'], /Local:\s+(http:\/\/\S+)/);
  try {
    // The first page load lets Vite find and optimize the app's dependencies (it may reload
    // that page once); every tab of the checkpoints opens after it.
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(`${dev.url}/rooms/general`);
      await page.getByTestId('status').filter({ hasText: 'connected' }).waitFor();
    } finally {
      await browser.close();
    }
    await checkpoints(dev.url);
  } finally {
    await dev.stop();
  }
});

test('the three checkpoints on the built app (vite build, node server.js)', async () => {
  sh(app, 'npm', ['run', 'build']);
  const server = await start(['node', 'server.js'], /listening on (http:\/\/\S+)/, { HOST: '127.0.0.1', PORT: '0' });
  try {
    await checkpoints(server.url);
  } finally {
    await server.stop();
  }
});

/** What the installed liverpc's engine loader says with `preload` run first (or "loaded"). */
function loaderSays(preload) {
  // createEngine loads the engine first (an app with no contracts is enough to get there).
  const script =
    "import { createEngine } from 'liverpc/server'; try { createEngine({ contracts: [] }); console.log('loaded'); process.exit(0); } catch (e) { console.log(e.message); }";
  const args = preload === undefined ? [] : ['--import', `data:text/javascript,${encodeURIComponent(preload)}`];
  return sh(app, process.execPath, [...args, '--input-type=module', '--eval', script]);
}

test('the loader names the platform and what to do when it has no engine', () => {
  assert.equal(loaderSays(undefined), 'loaded\n');
  const unsupported = loaderSays("Object.defineProperty(process, 'platform', { value: 'freebsd' });");
  assert.match(
    unsupported,
    /^liverpc: no prebuilt engine for freebsd-x64 \(.*linux-x64-gnu.*\); .*LIVERPC_NATIVE.*\n$/,
  );
  const arm = loaderSays("Object.defineProperty(process, 'arch', { value: 'arm64' });");
  assert.match(
    arm,
    /^liverpc: the engine for linux-arm64-gnu \(@liverpc\/engine-linux-arm64-gnu\) is not installed; .*npm install.*\n$/,
  );
  // Alpine: Node linked against musl (its report has no glibc version).
  const musl = loaderSays(
    "process.report.getReport = () => ({ header: {}, sharedObjects: ['/lib/ld-musl-x86_64.so.1'] });",
  );
  assert.match(
    musl,
    /^liverpc: the engine for linux-x64-musl \(@liverpc\/engine-linux-x64-musl\) is not installed; .*\n$/,
  );
});
