// Signs out: the session ends on the server and its cookie is cleared.
import { redirect } from '@sveltejs/kit';
import { local, signOut } from '$lib/server/accounts';
import type { RequestHandler } from './$types';

export const POST: RequestHandler = async ({ cookies, url }) => {
  signOut(cookies.get('session'));
  cookies.delete('session', { path: '/', secure: false });
  redirect(303, local(url.searchParams.get('next')));
};
