/**
 * The typed client a page holds: plain objects built from the descriptor's name lists, each
 * member forwarding to the untyped channel underneath. Types cost nothing at run time.
 */

import type { Channel } from './channel.js';
import type { Client, Contract, Descriptor } from './contract.js';
import { LiverpcError } from './error.js';
import type { AnyState } from './state.js';
import { Store, type Unsubscribe } from './store.js';

/** Client members; a handler may not have one of these names. */
export const MEMBERS: readonly string[] = ['on', 'join', 'leave', 'state', 'navigate', 'close', 'then'];

/**
 * A client of one contract over a channel.
 *
 * @example
 * const room = createClient(descriptor, connectionFor(manager, descriptor, '/rooms/general'), 10_000);
 */
export function createClient<C extends Contract>(descriptor: Descriptor<C>, channel: Channel, timeout: number): Client<C> {
  let closed = false;
  const state = new Store<AnyState>({ status: 'connecting', rooms: {} });
  const follow = channel.state.subscribe((s) => state.set(s));
  const listeners = new Set<Unsubscribe>();
  const open = <T>(run: () => Promise<T>): Promise<T> =>
    closed ? Promise.reject(new LiverpcError('closed', 'liverpc: the client was closed')) : run();

  const on: Record<string, (listener: (payload: unknown) => void) => Unsubscribe> = {};
  for (const event of descriptor.toClient) {
    on[event] = (listener) => {
      if (closed) return () => {};
      const off = channel.listen(event, listener);
      listeners.add(off);
      return () => {
        listeners.delete(off);
        off();
      };
    };
  }
  const join: Record<string, (data?: unknown) => Promise<void>> = {};
  const leave: Record<string, (data?: unknown) => Promise<void>> = {};
  for (const room of descriptor.rooms) {
    join[room] = (data) => open(() => channel.join(room, data, timeout));
    leave[room] = (data) => open(() => channel.leave(room, data, timeout));
  }
  const client: Record<string, unknown> = {};
  for (const handler of descriptor.fromClient) {
    client[handler] = (payload?: unknown) => open(() => channel.call(handler, payload ?? null, timeout));
  }
  Object.assign(client, {
    on: Object.freeze(on),
    join: Object.freeze(join),
    leave: Object.freeze(leave),
    state: { subscribe: (run: (value: AnyState) => void) => state.subscribe(run) },
    navigate: (path: string) => open(() => channel.navigate(path)),
    close: () => {
      if (closed) return;
      closed = true;
      for (const off of listeners) off();
      listeners.clear();
      follow();
      channel.release();
      state.set({ status: 'closed', rooms: {} });
    },
  });
  return Object.freeze(client) as unknown as Client<C>;
}
