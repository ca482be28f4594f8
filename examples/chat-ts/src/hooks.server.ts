// The page requests' locals: the same session lookup as src/hooks.socket.ts.
import type { Handle } from '@sveltejs/kit';
import { lookup } from '$lib/server/accounts';

export const handle: Handle = async ({ event, resolve }) => {
  event.locals.user = await lookup(event.cookies.get('session'));
  return resolve(event);
};
