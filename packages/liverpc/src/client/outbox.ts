/**
 * The outbox of one Socket.IO socket: each call is an `emit` with an ack, answered with liverpc's
 * envelope `{ ok: true, data }` or `{ ok: false, error }`. A call made while the socket is not
 * connected waits in a queue until the next handshake; every call is bounded by its timeout.
 */

import type { Socket as IoSocket } from 'socket.io-client';

import { LiverpcError, fromWire } from '../error.js';

/** The server's answer to a call: the ack envelope, decoded. */
export type Answer = { ok: true; data: unknown } | { ok: false; error: LiverpcError };

/** A call not answered yet. */
interface Pending {
  event: string;
  payload: unknown;
  deadline: number;
  resolve(answer: Answer): void;
  reject(error: LiverpcError): void;
  timer?: ReturnType<typeof setTimeout>;
}

/** See the module documentation. */
export class Outbox {
  readonly #socket: IoSocket;
  readonly #queue = new Set<Pending>();

  /**
   * @example
   * const outbox = new Outbox(manager.socket('/rooms/[roomId]/chat'));
   */
  constructor(socket: IoSocket) {
    this.#socket = socket;
  }

  /**
   * Sends a call (or queues it until `flush`); resolves with the server's answer, rejects with
   * `timeout` or `disconnected` when none came.
   *
   * @example
   * const answer = await outbox.request('send', { text: 'hi' }, 10_000);
   * if (answer.ok) console.log(answer.data);
   */
  request(event: string, payload: unknown, timeout: number): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const pending: Pending = { event, payload, deadline: Date.now() + timeout, resolve, reject };
      if (this.#socket.connected) {
        this.#send(pending);
        return;
      }
      pending.timer = setTimeout(() => {
        this.#queue.delete(pending);
        reject(timedOut(event));
      }, timeout);
      this.#queue.add(pending);
    });
  }

  /**
   * Sends every queued call: the socket has just connected.
   *
   * @example
   * socket.on('connect', () => outbox.flush());
   */
  flush(): void {
    for (const pending of this.#queue) {
      clearTimeout(pending.timer);
      this.#send(pending);
    }
    this.#queue.clear();
  }

  /**
   * Rejects every queued call (a refusal, a navigation, a close).
   *
   * @example
   * outbox.rejectQueued(new LiverpcError('closed', 'the client was closed'));
   */
  rejectQueued(error: LiverpcError): void {
    for (const pending of this.#queue) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.#queue.clear();
  }

  #send(pending: Pending): void {
    const left = pending.deadline - Date.now();
    if (left <= 0) {
      pending.reject(timedOut(pending.event));
      return;
    }
    // An ack with an error first: socket.io-client calls it with an error on timeout, and when
    // the connection drops before the answer.
    this.#socket.timeout(left).emit(pending.event, pending.payload, (error: Error | null, answer: unknown) => {
      if (error === null) {
        pending.resolve(decode(answer));
      } else if (error.message === 'socket has been disconnected') {
        const message = `liverpc: the connection dropped before \`${pending.event}\` was answered`;
        pending.reject(new LiverpcError('disconnected', message));
      } else {
        pending.reject(timedOut(pending.event));
      }
    });
  }
}

function timedOut(event: string): LiverpcError {
  return new LiverpcError('timeout', `liverpc: no answer to \`${event}\` in time`);
}

/**
 * The ack envelope, decoded; anything else is an `internal` error.
 *
 * @example
 * decode({ ok: false, error: { code: 'forbidden', message: 'forbidden' } }); // { ok: false, error }
 */
export function decode(answer: unknown): Answer {
  if (typeof answer === 'object' && answer !== null) {
    const envelope = answer as { ok?: unknown; data?: unknown; error?: unknown };
    if (envelope.ok === true) return { ok: true, data: envelope.data ?? null };
    if (envelope.ok === false) return { ok: false, error: fromWire(envelope.error) };
  }
  return { ok: false, error: new LiverpcError('internal', 'liverpc: malformed answer from the server') };
}
