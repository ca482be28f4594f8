// Builds the engine addon (crates/liverpc-node) with cargo and copies it to native/liverpc.node.
// LIVERPC_NATIVE_PROFILE=debug builds the dev profile (what `cargo xtask test` shares with its
// other builds); the default is release. No prebuilt binary is ever downloaded.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = dirname(dirname(fileURLToPath(import.meta.url)));
const manifest = join(pkg, '..', '..', 'crates', 'liverpc-node', 'Cargo.toml');
// --if-missing: keep an addon already built (npm test after `cargo xtask` built it).
if (process.argv.includes('--if-missing') && existsSync(join(pkg, 'native', 'liverpc.node'))) process.exit(0);
const profile = process.env.LIVERPC_NATIVE_PROFILE === 'debug' ? 'debug' : 'release';

function fail(message) {
  console.error(`liverpc: ${message}`);
  process.exit(1);
}

if (!existsSync(manifest)) fail(`the engine's sources (${manifest}) are not beside this package; build it from the liverpc repository`);
if (spawnSync('cargo', ['--version'], { stdio: 'ignore' }).status !== 0) {
  fail('cargo not found: the engine is built from source with Rust; install it from https://rustup.rs and retry');
}
const args = ['build', '--manifest-path', manifest, '-p', 'liverpc-node', ...(profile === 'release' ? ['--release'] : [])];
if (spawnSync('cargo', args, { stdio: 'inherit' }).status !== 0) fail('`cargo ' + args.join(' ') + '` failed');
const meta = spawnSync('cargo', ['metadata', '--format-version', '1', '--no-deps', '--manifest-path', manifest], {
  encoding: 'utf8',
  maxBuffer: 64 * 1024 * 1024,
});
if (meta.status !== 0) fail('`cargo metadata` failed');
const target = JSON.parse(meta.stdout).target_directory;
const file = { darwin: 'libliverpc_node.dylib', win32: 'liverpc_node.dll' }[process.platform] ?? 'libliverpc_node.so';
mkdirSync(join(pkg, 'native'), { recursive: true });
// Copied then renamed: a process that has the old addon loaded keeps its file intact.
copyFileSync(join(target, profile, file), join(pkg, 'native', 'liverpc.node.tmp'));
renameSync(join(pkg, 'native', 'liverpc.node.tmp'), join(pkg, 'native', 'liverpc.node'));
console.log(`liverpc: engine built (${profile}) -> native/liverpc.node`);
