// Type tests of `params` (tsc --noEmit), in an app with several contract routes
// (typed/, its routes' types in typed/liverpc/routes.d.ts as liverpc writes them): params are
// typed from the route ids as SvelteKit types them; every @ts-expect-error line must be an error.

import { handler, room, socket } from 'liverpc/server';

import { chat } from './typed/src/routes/rooms/[roomId]/chat.socket.js';

void chat;

socket({
  rooms: {
    // A required param is a string.
    a: room.private(({ params }) => ['a', params.roomId]),
    // @ts-expect-error a misspelt param
    b: room.private(({ params }) => ['b', params.roomid]),
    // @ts-expect-error an optional param ([[lang]]) may be undefined
    c: room.private(({ params }) => ['c', params.lang]),
    d: room.private(({ params }) => ['d', params.lang ?? 'en']),
    // A rest param ([...path]) is a string (empty for no segment).
    e: room.private(({ params }) => ['e', params.path]),
  },
  fromClient: {
    // A matched param ([id=integer]) is what the matcher's guard says.
    id: handler(({ params }) => {
      const id: `${number}` = params.id;
      return id;
    }),
    // @ts-expect-error params are read-only
    set: handler(({ params }) => (params.roomId = 'x')),
  },
});
