// The route's realtime contract, as the tutorial writes it: the rooms block is the tutorial's,
// with who is here (presence) added to the chat room as the Rust example has it; the team feed
// and the project posts are what today's page also shows.
import * as v from 'valibot';
import { room, socket } from 'liverpc/server';
import { keepMessage } from '$lib/server/db';

const Message = v.object({ room: v.string(), from: v.string(), text: v.string() });
const TenantNotice = v.object({ tenant: v.string(), text: v.string() });
const ProjectMessage = v.object({ projectId: v.string(), from: v.string(), text: v.string() });
const Text = v.pipe(v.string(), v.trim(), v.minLength(1, 'say something'), v.maxLength(500, 'at most 500 characters'));

export type Message = v.InferOutput<typeof Message>;
export type TenantNotice = v.InferOutput<typeof TenantNotice>;
export type ProjectMessage = v.InferOutput<typeof ProjectMessage>;

export const chat = socket({
  toClient: {
    message: Message,
    tenant: TenantNotice,
    project: ProjectMessage,
  },
  // A function of `handler`: its handlers' emits are typed by toClient and rooms.
  fromClient: (handler) => ({
    send: handler(v.object({ text: Text }), ({ data, locals, params, within }) => {
      const from = locals.user?.name ?? 'guest';
      // Kept in the room's history (the app's database), then delivered.
      keepMessage(params.roomId, from, data.text);
      within('chat').emit('message', { room: params.roomId, from, text: data.text });
      return null;
    }),
    // Posts to a project room this socket has joined (the engine refuses any other target).
    postProject: handler(v.object({ projectId: v.string(), text: Text }), ({ data, locals, within }) => {
      within(['project', data.projectId]).emit('project', { projectId: data.projectId, from: locals.user.name, text: data.text });
      return null;
    }),
  }),
  rooms: {
    chat: room.private(({ params }) =>
      // params.roomId is the [roomId] part of the current URL.
      ['chat', params.roomId],
      {
        // Every connected page instance joins this route room immediately.
        autoJoin: true,
        // Who is here: signed-in members show their name; a guest (no locals.user) is not listed.
        presence: ({ locals }) => (locals.user ? { name: locals.user.name } : null),
        // The room keeps its last 200 messages: the page renders them on the server, and a
        // page that reconnects gets what it missed.
        history: { size: 200 }
      }
    ),
    tenant: room.private(({ locals }) =>
      // src/hooks.socket.ts returned locals.user for this connection.
      ['tenant', locals.user.tenantId]
    ),
    project: room.expose(
      v.object({ projectId: v.string() }),
      ({ data, locals }) => {
        // Treat the browser payload as a request, not proof of access.
        if (!locals.user.projectIds.includes(data.projectId)) {
          return false;
        }
        return ['project', data.projectId];
      }
    )
  }
});
