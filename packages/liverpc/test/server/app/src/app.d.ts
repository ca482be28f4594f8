// The locals src/hooks.socket.ts returns, as room functions and handlers read them.
import type { User } from './lib/users.js';

declare global {
  namespace Liverpc {
    interface Locals {
      user: User;
    }
  }
}

export {};
