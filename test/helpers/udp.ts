import { createSocket } from 'node:dgram';

/** A free UDP port on loopback (bound then released). */
export const freeUdpPort = async (): Promise<number> =>
  new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
