/**
 * The engine: the `liverpc-node` addon (crates/liverpc-node), built from source with cargo.
 * Loaded from `native/liverpc.node` in this package; built there on first use when missing.
 */

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The addon's app, as its TypeScript side uses it. */
export interface NativeApp {
  emit(namespace: string, key: string[], event: string, payload: string): number;
  adopt(fd: number, head: Buffer, remote: string | null): void;
  proxyPort(): number;
  /** Graceful shutdown, then the dispatch function is released (see `Engine.close`). */
  close(timeoutMs: number): Promise<void>;
}

/** The addon's exports. */
export interface NativeModule {
  NativeApp: new (dispatch: (request: string) => Promise<string>, description: string) => NativeApp;
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
let loaded: NativeModule | undefined;

/**
 * Loads the addon, building it first when it is missing (`LIVERPC_NATIVE` points at another
 * build).
 *
 * @example
 * const { NativeApp } = loadNative();
 */
export function loadNative(): NativeModule {
  if (loaded !== undefined) return loaded;
  const path = process.env.LIVERPC_NATIVE ?? ADDON;
  if (!existsSync(path)) {
    console.warn('liverpc: building the engine (cargo build -p liverpc-node --release); this happens once');
    const built = spawnSync(process.execPath, [BUILD], { stdio: 'inherit' });
    if (built.status !== 0 || !existsSync(path)) {
      throw new LiverpcNativeError(
        `liverpc: the engine (${path}) is missing and could not be built. It is built from source with cargo: ` +
          'install Rust (https://rustup.rs), then run `node scripts/build-native.mjs` in the liverpc package.',
      );
    }
  }
  try {
    loaded = createRequire(import.meta.url)(path) as NativeModule;
  } catch (cause) {
    throw new LiverpcNativeError(`liverpc: could not load the engine ${path}; rebuild it with scripts/build-native.mjs`, {
      cause,
    });
  }
  return loaded;
}
