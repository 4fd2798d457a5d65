import { createServer } from 'node:net';

/** A TCP port nobody listens on right now on 127.0.0.1 (it may be taken before the caller binds it: retry then). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port was assigned'))));
    });
  });
}
