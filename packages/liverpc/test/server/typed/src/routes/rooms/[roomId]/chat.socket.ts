// The tutorial's rooms block, verbatim, in an app where other routes have contracts too.
import * as v from 'valibot';
import { room, socket } from 'liverpc/server';

export const chat = socket({
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
