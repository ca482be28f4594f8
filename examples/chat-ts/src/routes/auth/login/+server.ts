// Signs in with a demo account (no password): a session cookie, then back to the page.
import { error, redirect } from '@sveltejs/kit';
import { local, signIn } from '$lib/server/accounts';
import type { RequestHandler } from './$types';

export const POST: RequestHandler = async ({ request, cookies, url }) => {
  const name = (await request.formData()).get('user');
  const id = typeof name === 'string' ? signIn(name) : undefined;
  if (id === undefined) error(401, 'unknown demo account');
  cookies.set('session', id, { path: '/', httpOnly: true, sameSite: 'lax', secure: false });
  redirect(303, local(url.searchParams.get('next')));
};
