// The browser side of the fixture: imports the contract module as a page does.
import { chat } from './routes/rooms/[roomId]/chat.socket.js';

export const room = chat({ path: '/rooms/general' });
