// src/hooks.socket.ts: the socket's locals, from the session cookie of the handshake.
import { hook } from 'liverpc/server';
import { lookup } from '$lib/server/accounts';

export const handle = hook(async ({ cookies }) => {
  const user = await lookup(cookies.get('session'));
  // No session: no user, and the rooms that read locals.user refuse the join.
  return user ? { user } : {};
});
