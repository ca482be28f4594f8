// Who is signed in, the demo accounts and the projects, for every page.
import { PROJECTS, USERS } from '$lib/server/accounts';
import type { LayoutServerLoad } from './$types';

export const load: LayoutServerLoad = ({ locals }) => ({
  user: locals.user ?? null,
  accounts: USERS.map((u) => ({ ...u })),
  projects: [...PROJECTS],
});
