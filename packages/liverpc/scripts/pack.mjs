// Packs the npm side of a release into --out: the `liverpc` tarball, and the engine package of
// one platform (this machine's, or --target's) with the addon built in release by @napi-rs/cli.
// `cargo xtask pack` runs it with the workspace's version (the one source) and then packages
// the crate. What is staged: the files `npm pack` itself lists for this folder, the root
// LICENSE, and the manifest with the release's version and the engine packages as
// optionalDependencies (not in the committed manifest: `npm ci` here would look for them).
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseTriple } from '@napi-rs/cli';

const pkgDir = dirname(dirname(fileURLToPath(import.meta.url)));
const root = resolve(pkgDir, '..', '..');
const USAGE = 'usage: node scripts/pack.mjs --out DIR --version X.Y.Z [--target TRIPLE]';
const values = (() => {
  try {
    return parseArgs({ options: { out: { type: 'string' }, version: { type: 'string' }, target: { type: 'string' } } })
      .values;
  } catch {
    return fail(USAGE);
  }
})();
if (values.out === undefined || values.version === undefined) fail(USAGE);
const out = resolve(values.out);
const version = values.version;
const stage = `${out}-stage`;

function fail(message) {
  console.error(`pack: ${message}`);
  process.exit(1);
}

function run(program, args, cwd = pkgDir) {
  console.log(`pack: ${program} ${args.join(' ')}`);
  const done = spawnSync(program, args, {
    cwd,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    shell: process.platform === 'win32',
  });
  if (done.status !== 0) fail(`\`${program} ${args.join(' ')}\` failed:\n${done.stdout}`);
  return done.stdout;
}

const json = (file) => JSON.parse(readFileSync(file, 'utf8'));
const write = (file, value) => writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
const manifest = json(join(pkgDir, 'package.json'));
if (manifest.version !== version) {
  fail(
    `packages/liverpc/package.json says ${manifest.version}, the workspace ${version} (Cargo.toml [workspace.package]): run \`npm version ${version} --no-git-tag-version\` in packages/liverpc`,
  );
}
const { binaryName, packageName, targets } = manifest.napi;

rmSync(out, { recursive: true, force: true });
rmSync(stage, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

run('npm', ['run', 'build']);

// The engine, in release, named for its platform (liverpc.linux-x64-gnu.node).
const napi = join(pkgDir, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js');
const artifacts = join(stage, 'artifacts');
const build = [
  'build',
  '--platform',
  '--release',
  '--no-js',
  '--manifest-path',
  join(root, 'crates', 'liverpc-node', 'Cargo.toml'),
];
build.push('--package-json-path', join(pkgDir, 'package.json'), '--output-dir', artifacts);
if (values.target !== undefined) build.push('--target', values.target);
run(process.execPath, [napi, ...build]);
const built = readdirSync(artifacts).filter((f) => f.startsWith(`${binaryName}.`) && f.endsWith('.node'));
if (built.length !== 1)
  fail(`expected one ${binaryName}.<platform>.node in ${artifacts}, found ${built.join(', ') || 'none'}`);
const platform = built[0].slice(binaryName.length + 1, -'.node'.length);

// liverpc: exactly what `npm pack` would ship from here, with the release's manifest.
const liverpc = join(stage, 'liverpc');
const [listing] = JSON.parse(run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts']));
for (const { path } of listing.files) {
  mkdirSync(dirname(join(liverpc, path)), { recursive: true });
  copyFileSync(join(pkgDir, path), join(liverpc, path));
}
copyFileSync(join(root, 'LICENSE'), join(liverpc, 'LICENSE'));
const engines = Object.fromEntries(targets.map((t) => [`${packageName}-${parseTriple(t).platformArchABI}`, version]));
const { scripts: _scripts, ...published } = manifest;
write(join(liverpc, 'package.json'), { ...published, version, optionalDependencies: engines });

// The engine packages' manifests, as @napi-rs/cli generates them (os, cpu, libc, main, files),
// then said in liverpc's words.
// (napi keeps them inside the package it reads: npm/ is not in liverpc's `files`.)
const npmDir = join(liverpc, 'npm');
run(
  process.execPath,
  [napi, 'create-npm-dirs', '--cwd', liverpc, '--package-json-path', 'package.json', '--npm-dir', 'npm'],
  liverpc,
);
const engine = join(npmDir, platform);
const engineManifest = json(join(engine, 'package.json'));
write(join(engine, 'package.json'), {
  ...engineManifest,
  // A .node file has no module type; saying so spares Node's detection (publint suggests it).
  type: 'commonjs',
  description: `The engine of liverpc (the Rust core behind liverpc/server) prebuilt for ${platform}. Install liverpc: it depends on this package where it runs.`,
  keywords: ['liverpc', 'napi-rs', platform],
  homepage: manifest.homepage,
  publishConfig: { access: 'public' },
});
writeFileSync(
  join(engine, 'README.md'),
  `# \`${engineManifest.name}\`\n\nThe engine of [liverpc](https://www.npmjs.com/package/liverpc), a Node-API addon built from the\n\`liverpc-node\` crate for \`${platform}\`. Do not install it yourself: \`npm install liverpc\`\nbrings the one your platform needs.\n`,
);
copyFileSync(join(artifacts, built[0]), join(engine, built[0]));
copyFileSync(join(root, 'LICENSE'), join(engine, 'LICENSE'));

for (const dir of [liverpc, engine]) run('npm', ['pack', '--ignore-scripts', '--pack-destination', out], dir);
console.log(`pack: ${readdirSync(out).join(', ')} in ${out}`);
