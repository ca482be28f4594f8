// The room's last 50 messages, read from the Rust server (`GET /api/rooms/{roomId}/history`)
// before the page shows: the page's client continues exactly after them
// (`chat({ since: data.history.position })`), with no gap and no duplicate.
import { error } from '@sveltejs/kit';
import type { Position } from 'liverpc';
import type { Message, ProjectMessage, TenantNotice } from './chat.socket';
import type { PageLoad } from './$types';

/** The contract's events by name: what a room's stream can hold. */
type Events = { message: Message; project: ProjectMessage; tenant: TenantNotice };

/** A room's recent messages, oldest first, and its stream's position after them (`liverpc::Recent`). */
type RoomHistory = {
  messages: { [E in keyof Events]: { event: E; payload: Events[E]; position: Position } }[keyof Events][];
  position: Position;
};

export const load: PageLoad = async ({ params, fetch }) => {
  const response = await fetch(`/api/rooms/${encodeURIComponent(params.roomId)}/history?limit=50`);
  if (!response.ok) error(response.status, (await response.text()) || `the room's history answered ${response.status}`);
  return { history: (await response.json()) as RoomHistory };
};
