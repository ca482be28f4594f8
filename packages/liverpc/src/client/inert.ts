/**
 * The channel of server-side rendering: opens nothing, throws nothing. Its state stays
 * `connecting` (what the browser's first render shows, so hydration matches); every call,
 * join, leave and navigate rejects with `closed`.
 */

import type { Channel } from './channel.js';
import { LiverpcError } from '../error.js';
import { Store } from './store.js';

/**
 * A channel that never connects.
 *
 * @example
 * const client = createClient(descriptor, inert(), 10_000); // during SSR
 */
export function inert(): Channel {
  const refuse = (): Promise<never> =>
    Promise.reject(new LiverpcError('closed', 'liverpc: no connection during server-side rendering'));
  const channel: Channel = {
    state: new Store({ status: 'connecting', rooms: {} }),
    call: refuse,
    join: refuse,
    leave: refuse,
    navigate: () => ({ channel, done: refuse() }),
    listen: () => () => {},
    missed: () => () => {},
    since: () => {},
    release: () => {},
  };
  return channel;
}
