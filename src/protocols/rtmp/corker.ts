import type { Socket } from 'node:net';

/**
 * Batches a player's writes of one event-loop turn into one send without Nagle's delay: the
 * first frame written to a socket in a turn corks it, and every corked socket is uncorked once
 * the turn's synchronous work is done. When a publisher's read carries one frame (the usual
 * case) nothing changes; when the server is behind and a read carries many, each player gets
 * them in one writev instead of one TCP segment per frame (the cost the fan-out benchmark saw).
 */
const corked: Socket[] = [];
let scheduled = false;

const uncorkAll = (): void => {
  scheduled = false;
  for (let i = 0; i < corked.length; i++) {
    corked[i].uncork();
  }
  corked.length = 0;
};

export const corkForThisTurn = (socket: Socket): void => {
  if (socket.writableCorked > 0) {
    return;
  }
  socket.cork();
  corked.push(socket);
  if (!scheduled) {
    scheduled = true;
    process.nextTick(uncorkAll);
  }
};
