// src/hooks.socket.ts: the connection's locals, from the session cookie.
import { hook } from 'liverpc/server';

import { sessions } from './lib/users.js';

export const handle = hook(async ({ cookies }) => {
  const id = cookies.get('session');
  if (id === 'explode') throw new Error('the session store exploded');
  const user = id === undefined ? undefined : sessions.get(id);
  return user === undefined ? {} : { user };
});
