// One "tab" of the official socket.io-client against the fixture's chat namespace.
import { after, afterEach, before } from 'node:test';
import { Manager } from 'socket.io-client';

import { startFixture } from './fixture.mjs';

export const NAMESPACE = '/rooms/[roomId]/chat';
export const TIMEOUT = 3_000;

/**
 * Opens a new connection (own Manager, like a separate tab) and records every server event,
 * so a test can later prove an event was or was not received before a given point.
 */
export function openTab(url, { path = '/rooms/general', user, transports = ['websocket'], headers = {}, auth } = {}) {
  const extraHeaders = user ? { ...headers, cookie: `session=${user}` } : headers;
  // Not `io(url + NAMESPACE)`: engine.io-client's URL parser takes any `[...]` in the string
  // for an IPv6 host and mangles the host. A Manager per tab is also what `forceNew` gives.
  const manager = new Manager(url, { reconnection: false, transports, extraHeaders });
  const socket = manager.socket(NAMESPACE, { auth: auth === undefined ? { path } : auth });
  const queues = new Map();
  const waiters = new Map();
  socket.onAny((name, payload) => {
    const waiting = waiters.get(name);
    if (waiting?.length) waiting.shift()(payload);
    else queues.set(name, (queues.get(name) ?? []).concat([payload]));
  });

  /** The next `name` event not yet taken, recorded earlier or still to come. */
  function next(name, timeoutMs = TIMEOUT) {
    const queued = queues.get(name);
    if (queued?.length) return Promise.resolve(queued.shift());
    return new Promise((resolve, reject) => {
      const list = waiters.get(name) ?? [];
      waiters.set(name, list);
      const timer = setTimeout(() => {
        list.splice(list.indexOf(deliver), 1);
        reject(new Error(`no '${name}' event within ${timeoutMs} ms`));
      }, timeoutMs);
      const deliver = (payload) => {
        clearTimeout(timer);
        resolve(payload);
      };
      list.push(deliver);
    });
  }

  /** The next occurrence of a reserved event (`disconnect`, ...), which `onAny` does not see. */
  const once = (name, timeoutMs = TIMEOUT) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no '${name}' within ${timeoutMs} ms`)), timeoutMs);
      socket.once(name, (value) => (clearTimeout(timer), resolve(value)));
    });

  /** Calls a handler (or `liverpc:*`) and resolves to the ack envelope. */
  const call = (name, payload = null, timeoutMs = TIMEOUT) => socket.timeout(timeoutMs).emitWithAck(name, payload);

  /** Resolves when connected, rejects with the `connect_error`. */
  const connected = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not connected within ${TIMEOUT} ms`)), TIMEOUT);
    socket.once('connect', () => (clearTimeout(timer), resolve(tab)));
    socket.once('connect_error', (err) => (clearTimeout(timer), reject(err)));
  });
  connected.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection

  const tab = { socket, next, once, call, connected, close: () => socket.disconnect() };
  return tab;
}

/** A connected tab whose auto-join of the chat room was confirmed. */
export async function connectTab(url, options) {
  const tab = openTab(url, options);
  try {
    await tab.connected;
    const status = await tab.next('liverpc:room');
    if (status?.status !== 'joined') throw new Error(`chat auto-join: ${JSON.stringify(status)}`);
  } catch (err) {
    tab.close();
    throw err;
  }
  return tab;
}

/** The `connect_error` message of a refused handshake. */
export async function refusal(url, options) {
  const tab = openTab(url, options);
  try {
    await tab.connected;
  } catch (err) {
    return err.message;
  } finally {
    tab.close();
  }
  throw new Error('the handshake was accepted');
}

/**
 * One fixture server per test file (files run in parallel and some tests change server state)
 * and the tabs opened by each test, closed after it.
 */
export function useFixture() {
  let server;
  const open = new Set();
  before(async () => {
    server = await startFixture();
  });
  afterEach(() => {
    for (const tab of open) tab.close();
    open.clear();
  });
  after(() => server?.stop());
  const track = (tab) => (open.add(tab), tab);
  return {
    get url() {
      return server.url;
    },
    connect: async (options) => track(await connectTab(server.url, options)),
    open: (options) => track(openTab(server.url, options)),
    refusal: (options) => refusal(server.url, options),
  };
}
