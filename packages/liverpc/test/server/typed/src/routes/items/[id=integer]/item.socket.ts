// A matched param: typed by what src/params/integer.ts's `match` guards.
import { room, socket } from 'liverpc/server';

export const item = socket({
  rooms: {
    item: room.private(({ params }) => ['item', params.id], { autoJoin: true }),
  },
});
