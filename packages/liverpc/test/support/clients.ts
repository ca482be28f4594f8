// Opens fixture clients as a given user, and closes every one of them at the end of a test.

import { after, afterEach, before } from 'node:test';

import { type Fixture, type FixtureLimits, startFixture } from './fixture.js';
import { until } from './wait.js';
import { chat } from '../fixture/core/rooms/[roomId]/chat.socket.js';

export type Room = ReturnType<typeof chat>;

export class Clients {
  readonly #open: Room[] = [];
  constructor(readonly url: string) {}

  /** A client of the chat contract as `user` (undefined: no session cookie) on `path`. */
  open(user: string | undefined, path = '/rooms/general'): Room {
    const headers = user === undefined ? {} : { extraHeaders: { cookie: `session=${user}` } };
    const room = chat({ url: this.url, path, ...headers });
    this.#open.push(room);
    return room;
  }

  /** Same, and waits until connected with its auto-joined room joined. */
  async connected(user: string | undefined, path = '/rooms/general'): Promise<Room> {
    const room = this.open(user, path);
    await until(room.state, (s) => s.status === 'connected' && s.rooms.chat?.status === 'joined');
    return room;
  }

  closeAll(): void {
    for (const room of this.#open.splice(0)) room.close();
  }
}

/**
 * Starts the fixture server for the enclosing `describe`, stops it after, and closes every
 * client after each test. Read `fixture` and `clients` inside tests (they exist once started).
 */
export function useFixture(limits: FixtureLimits = {}): { readonly fixture: Fixture; readonly clients: Clients } {
  let started: { fixture: Fixture; clients: Clients } | undefined;
  before(async () => {
    const fixture = await startFixture(limits);
    started = { fixture, clients: new Clients(fixture.url) };
  });
  afterEach(() => started?.clients.closeAll());
  after(() => started?.fixture.stop());
  const get = () => {
    if (!started) throw new Error('the fixture server is not started yet');
    return started;
  };
  return {
    get fixture() {
      return get().fixture;
    },
    get clients() {
      return get().clients;
    },
  };
}
