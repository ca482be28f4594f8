// An optional param ([[lang]]) and a rest param ([...path]).
import { room, socket } from 'liverpc/server';

export const page = socket({
  rooms: {
    page: room.private(({ params }) => ['page', params.lang ?? 'en', params.path], { autoJoin: true }),
  },
});
