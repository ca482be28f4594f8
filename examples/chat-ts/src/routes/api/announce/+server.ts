// Posts to the signed-in account's tenant feed: an emit from outside any socket, typed by the
// contract's toClient.
import { error, json } from '@sveltejs/kit';
import { chat } from '../../rooms/[roomId]/chat.socket';
import type { RequestHandler } from './$types';

export const POST: RequestHandler = async ({ request, locals }) => {
  const user = locals.user;
  if (!user) error(401, 'sign in first');
  const body = (await request.json()) as { text?: unknown };
  const text = typeof body.text === 'string' ? body.text.trim().slice(0, 500) : '';
  if (!text) error(400, 'empty announcement');
  const delivered = chat.to(['tenant', user.tenantId]).emit('tenant', { tenant: user.tenantId, text: `${user.name}: ${text}` });
  return json({ delivered });
};
