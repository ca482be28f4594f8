/**
 * The typed client a page holds: plain objects built from the descriptor's name lists, each
 * member forwarding to the untyped channel underneath. Types cost nothing at run time. The
 * channel may change under the client (a navigation away from a shared connection); its
 * listeners and its state follow.
 */

import type { AnyMissed, Channel } from './channel.js';
import type { Client, Contract, Descriptor, Position } from './types.js';
import { LiverpcError } from '../error.js';
import { Presence } from './presence.js';
import type { AnyState } from './state.js';
import { type Readable, Store, type Unsubscribe } from './store.js';

/**
 * Makes reading `state.current` reactive: called once with the client's store, returns what
 * `current` calls before reading (Svelte's `createSubscriber`). The core has none.
 */
export type Track = (store: Readable<unknown>) => () => void;

/**
 * A client of one contract over a channel.
 *
 * @example
 * const room = createClient(descriptor, connectionFor({ url }, descriptor, '/rooms/general', 10_000), 10_000);
 */
export function createClient<C extends Contract>(
  descriptor: Descriptor<C>,
  initial: Channel,
  timeout: number,
  track?: Track,
): Client<C> {
  let channel = initial;
  let closed = false;
  const state = new Store<AnyState>({ status: 'connecting', rooms: {} });
  const rooms = (descriptor.presence ?? []).map((room) => [room, new Presence<unknown>(room)] as const);
  for (const [, presence] of rooms) presence.attach(channel);
  const followed = (s: AnyState): void => {
    state.set(s);
    for (const [, presence] of rooms) presence.follow(s);
  };
  let follow = channel.state.subscribe(followed);
  /** Every listener of the page, and its registration on the current channel. */
  const listeners = new Map<(payload: unknown) => void, { event: string; off: Unsubscribe }>();
  /** The page's `missed` listeners, and their registration on the current channel. */
  const gaps = new Map<(gap: AnyMissed) => void, Unsubscribe>();
  const open = <T>(run: () => Promise<T>): Promise<T> =>
    closed ? Promise.reject(new LiverpcError('closed', 'liverpc: the client was closed')) : run();

  const on: Record<string, (listener: (payload: unknown) => void) => Unsubscribe> = {};
  for (const event of descriptor.toClient) {
    on[event] = (listener) => {
      if (closed) return () => {};
      // One registration per call, even for the same function twice.
      const own = (payload: unknown): void => listener(payload);
      listeners.set(own, { event, off: channel.listen(event, own) });
      return () => {
        listeners.get(own)?.off();
        listeners.delete(own);
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
  const seen = track?.(state);
  Object.assign(client, {
    on: Object.freeze(on),
    join: Object.freeze(join),
    leave: Object.freeze(leave),
    state: Object.freeze({
      subscribe: (run: (value: AnyState) => void) => state.subscribe(run),
      get current() {
        seen?.();
        return state.get();
      },
    }),
    missed: (listener: (gap: AnyMissed) => void) => {
      if (closed) return () => {};
      const own = (gap: AnyMissed): void => listener(gap);
      gaps.set(own, channel.missed(own));
      return () => {
        gaps.get(own)?.();
        gaps.delete(own);
      };
    },
    since: (position: Position | readonly Position[]) => {
      if (!closed) channel.since(positionsOf(position));
    },
    presence: Object.freeze(
      Object.fromEntries(rooms.map(([room, presence]) => [room, presence.readable(track?.(presence.store))])),
    ),
    navigate: (path: string) =>
      open(() => {
        const { channel: next, done } = channel.navigate(path);
        if (next !== channel) {
          // Moved off a shared connection: take the listeners and the state along.
          channel = next;
          follow();
          for (const [, presence] of rooms) presence.attach(channel);
          follow = channel.state.subscribe(followed);
          for (const [own, entry] of listeners) {
            entry.off();
            listeners.set(own, { event: entry.event, off: channel.listen(entry.event, own) });
          }
          for (const [own, off] of gaps) {
            off();
            gaps.set(own, channel.missed(own));
          }
        }
        return done;
      }),
    close: () => {
      if (closed) return;
      closed = true;
      for (const { off } of listeners.values()) off();
      listeners.clear();
      for (const off of gaps.values()) off();
      gaps.clear();
      for (const [, presence] of rooms) presence.detach();
      follow();
      channel.release();
      state.set({ status: 'closed', rooms: {} });
    },
  });
  return Object.freeze(client) as unknown as Client<C>;
}

/**
 * One position or several, as a list.
 *
 * @example
 * positionsOf(data.history.position); // [position]
 */
export function positionsOf(since: Position | readonly Position[] | undefined): readonly Position[] {
  if (since === undefined) return [];
  return isPositionList(since) ? since : [since];
}

function isPositionList(since: Position | readonly Position[]): since is readonly Position[] {
  return Array.isArray(since);
}
