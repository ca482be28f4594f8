// The tutorial's contract, as the tutorial writes it (rooms verbatim), with its
// toClient.message and fromClient.send.
import * as v from 'valibot';
import { room, socket } from 'liverpc/server';

export const chat = socket({
  toClient: {
    message: v.object({ room: v.string(), from: v.string(), text: v.string() }),
  },
  // A function of `handler`, so that the handlers' emits are typed by toClient and rooms.
  fromClient: (handler) => ({
    send: handler(v.object({ text: v.pipe(v.string(), v.minLength(1), v.maxLength(500)) }), ({ data, locals, params, within }) => {
      within('chat').emit('message', { room: params.roomId, from: locals.user?.name ?? 'guest', text: data.text });
      return { delivered: true };
    }),
  }),
  rooms: {
    chat: room.private(({ params }) =>
      // params.roomId is the [roomId] part of the current URL.
      ['chat', params.roomId],
      {
        // Every connected page instance joins this route room immediately.
        autoJoin: true
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
