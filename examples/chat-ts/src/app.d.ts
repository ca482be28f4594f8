// The locals of a page request (hooks.server.ts) and of a socket (hooks.socket.ts): the same
// session lookup fills both.
import type { User } from '$lib/server/accounts';

declare global {
  namespace App {
    interface Locals {
      user: User | undefined;
    }
  }
  namespace Liverpc {
    interface Locals {
      user: User;
    }
  }
}

export {};
