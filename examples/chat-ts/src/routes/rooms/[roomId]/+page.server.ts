// The room's last 50 messages, rendered on the server; the page's client continues exactly
// after them (`chat({ since: data.history.position })`): no gap, no duplicate.
import { chat } from './chat.socket';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async ({ params }) => ({
  history: await chat.history(['chat', params.roomId], { limit: 50 }),
});
