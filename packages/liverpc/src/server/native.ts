/**
 * The engine: the `liverpc-node` addon (crates/liverpc-node). Installed prebuilt as
 * `@liverpc/engine-<platform>`, the optional dependency npm picks for the machine (`os`, `cpu`,
 * `libc`); in the liverpc repository, built from source with cargo into `native/liverpc.node`
 * on first use.
 */

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The addon's app, as its TypeScript side uses it. */
export interface NativeApp {
  /** The answers to `dispatch`'s requests, `[[id, answer], ...]` (JSON text). */
  answer(answers: string): void;
  emit(namespace: string, key: string[], event: string, payload: string): number;
  /** JSON `{ messages, position }`; throws for a key without a stream. */
  history(namespace: string, key: string[], limit: number): Promise<string>;
  adopt(fd: number, head: Buffer, remote: string | null): void;
  proxyPort(): number;
  /** Graceful shutdown, then the dispatch function is released (see `Engine.close`). */
  close(timeoutMs: number): Promise<void>;
}

/** The addon's exports. */
export interface NativeModule {
  /** `dispatch` is given every request queued since its last call, as a JSON array. */
  NativeApp: new (dispatch: (requests: string) => void, description: string) => NativeApp;
  /** Engines of this process not yet freed on the Rust side (for tests of `close`). */
  liveEngines(): number;
}

/** The engine could not be loaded or built: the message says what to install or run. */
export class LiverpcNativeError extends Error {
  /**
   * @example
   * throw new LiverpcNativeError('cargo not found');
   */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LiverpcNativeError';
  }
}

const ADDON = fileURLToPath(new URL('../../native/liverpc.node', import.meta.url));
const BUILD = fileURLToPath(new URL('../../scripts/build-native.mjs', import.meta.url));
/** There only in the repository, where the engine is built from its sources. */
const SOURCES = fileURLToPath(new URL('../../../../crates/liverpc-node/Cargo.toml', import.meta.url));
/** The engine packages are `@liverpc/engine-<platform>` (package.json's `napi.packageName`). */
const ENGINE_PACKAGE = '@liverpc/engine';
const require = createRequire(import.meta.url);
let loaded: NativeModule | undefined;

/**
 * This machine's platform as the engine packages name it (napi-rs's names): `linux-x64-gnu`,
 * `linux-arm64-musl`, `darwin-arm64`, `win32-x64-msvc`, ...
 *
 * @example
 * enginePlatform(); // 'linux-x64-gnu' on a glibc Linux x64
 */
export function enginePlatform(): string {
  const platform = `${process.platform}-${process.arch}`;
  if (process.platform === 'linux') return `${platform}-${isMusl() ? 'musl' : 'gnu'}`;
  if (process.platform === 'win32') return `${platform}-msvc`;
  return platform;
}

/** Whether Node runs on musl (Alpine) rather than glibc: an engine is linked against one. */
function isMusl(): boolean {
  const report = process.report as { excludeNetwork?: boolean | undefined; getReport(): object } | undefined;
  if (report !== undefined) {
    // The report's network section resolves host names; only the C library is read here.
    const excludeNetwork = report.excludeNetwork;
    report.excludeNetwork = true;
    try {
      const { header, sharedObjects } = report.getReport() as {
        header?: { glibcVersionRuntime?: string };
        sharedObjects?: string[];
      };
      if (header?.glibcVersionRuntime !== undefined) return false;
      if (sharedObjects !== undefined) return sharedObjects.some((file) => file.includes('musl'));
    } finally {
      report.excludeNetwork = excludeNetwork;
    }
  }
  try {
    return readFileSync('/usr/bin/ldd', 'utf8').includes('musl');
  } catch {
    return false;
  }
}

/**
 * Loads the addon: `LIVERPC_NATIVE` (a `.node` file) when set; else this platform's engine
 * package; else, in the liverpc repository, the engine built from source (built first when
 * missing). Anywhere else it throws a {@link LiverpcNativeError} whose one line names the
 * platform and what to do.
 *
 * @example
 * const { NativeApp } = loadNative();
 */
export function loadNative(): NativeModule {
  if (loaded !== undefined) return loaded;
  const explicit = process.env.LIVERPC_NATIVE;
  if (explicit !== undefined) {
    if (!existsSync(explicit))
      throw new LiverpcNativeError(`liverpc: LIVERPC_NATIVE names ${explicit}, which does not exist`);
    return (loaded = open(explicit));
  }
  const own = require('../../package.json') as { version: string; optionalDependencies?: Record<string, string> };
  const platform = enginePlatform();
  const name = `${ENGINE_PACKAGE}-${platform}`;
  const installed = resolvePackage(name);
  if (installed !== undefined) {
    const { version } = require(`${name}/package.json`) as { version: string };
    if (version !== own.version) {
      throw new LiverpcNativeError(
        `liverpc: ${name} is ${version} but liverpc is ${own.version}; install the same version of both (npm install liverpc@${own.version})`,
      );
    }
    return (loaded = open(installed));
  }
  if (existsSync(SOURCES)) return (loaded = open(buildFromSources()));
  const shipped = Object.keys(own.optionalDependencies ?? {})
    .filter((dependency) => dependency.startsWith(`${ENGINE_PACKAGE}-`))
    .map((dependency) => dependency.slice(ENGINE_PACKAGE.length + 1));
  if (shipped.includes(platform)) {
    throw new LiverpcNativeError(
      `liverpc: the engine for ${platform} (${name}) is not installed; run npm install on this machine, without --omit=optional or --no-optional (a lock file or node_modules made on another platform lacks it)`,
    );
  }
  throw new LiverpcNativeError(
    `liverpc: no prebuilt engine for ${platform} (there are for ${shipped.join(', ') || 'none'}); build one from source in the liverpc repository (cargo build --release -p liverpc-node) and set LIVERPC_NATIVE to the built library`,
  );
}

/** Where `name` resolves from here, or `undefined` when it is not installed. */
function resolvePackage(name: string): string | undefined {
  try {
    return require.resolve(name);
  } catch {
    return undefined;
  }
}

/** In the repository: `native/liverpc.node`, built with cargo first when missing. */
function buildFromSources(): string {
  if (!existsSync(ADDON)) {
    console.warn('liverpc: building the engine (cargo build -p liverpc-node --release); this happens once');
    const built = spawnSync(process.execPath, [BUILD], { stdio: 'inherit' });
    if (built.status !== 0 || !existsSync(ADDON)) {
      throw new LiverpcNativeError(
        `liverpc: the engine (${ADDON}) is missing and could not be built. It is built from source with cargo: ` +
          'install Rust (https://rustup.rs), then run `node scripts/build-native.mjs` in the liverpc package.',
      );
    }
  }
  return ADDON;
}

function open(path: string): NativeModule {
  try {
    return require(path) as NativeModule;
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    throw new LiverpcNativeError(`liverpc: could not load the engine ${path}: ${reason}`, { cause });
  }
}
