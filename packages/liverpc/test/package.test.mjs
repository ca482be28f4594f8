// The tarballs `cargo xtask pack` wrote (target/pack, or LIVERPC_PACK), checked as the ecosystem
// checks a package before it is published: publint, arethetypeswrong (types under
// moduleResolution node16 and bundler), and exactly which files each tarball ships.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const packs = process.env.LIVERPC_PACK ?? join(pkgDir, '..', '..', 'target', 'pack');
const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
const tarballs = readdirSync(packs).filter((f) => f.endsWith('.tgz'));
const main = tarballs.find((f) => f === `liverpc-${manifest.version}.tgz`);
const engines = tarballs.filter((f) => f.startsWith('liverpc-engine-'));

/** The files of a tarball, as `tar` lists them (without the `package/` prefix). */
function files(tarball) {
  const listed = spawnSync('tar', ['-tzf', join(packs, tarball)], { encoding: 'utf8' });
  assert.equal(listed.status, 0, listed.stderr);
  return listed.stdout
    .split('\n')
    .filter((line) => line !== '' && !line.endsWith('/'))
    .map((line) => line.replace(/^package\//, ''))
    .sort();
}

/** The manifest inside a tarball. */
function packed(tarball) {
  const shown = spawnSync('tar', ['-xzOf', join(packs, tarball), 'package/package.json'], { encoding: 'utf8' });
  assert.equal(shown.status, 0, shown.stderr);
  return JSON.parse(shown.stdout);
}

test('cargo xtask pack wrote liverpc and an engine package', () => {
  assert.ok(main, `liverpc-${manifest.version}.tgz in ${packs} (run cargo xtask pack)`);
  assert.ok(engines.length >= 1, `an engine tarball in ${packs}`);
});

test('publint finds nothing, not even a suggestion, in any tarball', async () => {
  for (const tarball of tarballs) {
    const bytes = readFileSync(join(packs, tarball));
    const tarballData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const { messages, pkg } = await publint({ pack: { tarball: tarballData }, level: 'suggestion', strict: true });
    assert.deepEqual(
      messages.map((m) => formatMessage(m, pkg)),
      [],
      `publint on ${tarball}`,
    );
  }
});

test('arethetypeswrong: every entry point typed under node16 (ESM) and bundler', () => {
  // esm-only: liverpc is ESM only (no CommonJS entry), so node10 and require() are not checked.
  const cli = join(
    dirname(createRequire(import.meta.url).resolve('@arethetypeswrong/cli/package.json')),
    'dist',
    'index.js',
  );
  const run = spawnSync(process.execPath, [cli, join(packs, main), '--profile', 'esm-only', '--format', 'json'], {
    encoding: 'utf8',
  });
  const { analysis } = JSON.parse(run.stdout);
  const problems = Object.values(analysis.problems ?? {})
    .flat()
    .filter((p) => !['node10', 'node16-cjs'].includes(p.resolutionKind));
  assert.deepEqual(problems, []);
  assert.equal(run.status, 0, run.stderr);
  const entries = Object.keys(analysis.entrypoints).sort();
  assert.deepEqual(entries, ['.', './node', './package.json', './server', './sveltekit', './vite']);
});

test('liverpc ships its build and nothing of the repository', () => {
  const list = files(main);
  const extra = list.filter(
    (f) => !['LICENSE', 'README.md', 'package.json'].includes(f) && !/^dist\/.+\.(js|d\.ts|js\.map)$/.test(f),
  );
  assert.deepEqual(extra, [], 'files besides dist/, README, LICENSE and the manifest');
  for (const entry of ['dist/client/index.js', 'dist/server/index.d.ts', 'dist/build/index.js', 'dist/node/index.js']) {
    assert.ok(list.includes(entry), entry);
  }
  const published = packed(main);
  assert.equal(published.version, manifest.version);
  assert.equal(published.scripts, undefined, 'no scripts: they name files the tarball does not have');
  const optional = Object.entries(published.optionalDependencies);
  assert.equal(optional.length, manifest.napi.targets.length, 'one engine package per target');
  for (const [name, version] of optional) {
    assert.match(name, /^@liverpc\/engine-[a-z0-9]+-[a-z0-9]+(-[a-z]+)?$/);
    assert.equal(version, manifest.version, `${name} at exactly liverpc's version`);
  }
});

test('each engine package holds its addon and says where it runs', () => {
  for (const tarball of engines) {
    const engine = packed(tarball);
    const platform = engine.name.replace('@liverpc/engine-', '');
    assert.deepEqual(files(tarball), ['LICENSE', 'README.md', `liverpc.${platform}.node`, 'package.json'].sort());
    assert.equal(engine.main, `liverpc.${platform}.node`);
    assert.equal(engine.version, manifest.version);
    assert.deepEqual(engine.os, [platform.split('-')[0]]);
    assert.ok(engine.cpu.length === 1 && platform.split('-')[1] === engine.cpu[0], `cpu ${engine.cpu}`);
    if (platform.endsWith('-gnu')) assert.deepEqual(engine.libc, ['glibc']);
    if (platform.endsWith('-musl')) assert.deepEqual(engine.libc, ['musl']);
    assert.equal(engine.publishConfig?.access, 'public');
  }
});
