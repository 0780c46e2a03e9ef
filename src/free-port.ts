/**
 * A TCP port free on 127.0.0.1 right now (the OS picks it: listen on 0, read it, close), for
 * processes that must be told a port before they start (a child worker's metrics, a dev server).
 * Another process can take it before it is used; callers that can listen on 0 themselves should.
 */
import { createServer } from 'node:net';

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error(`no port from ${JSON.stringify(address)}`))));
    });
  });
}
