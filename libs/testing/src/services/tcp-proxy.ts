import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of one service, for outage tests: clients are given the proxy's port, and the
 * test can make the service look down (`cut`: the connections in use are closed and new ones refused, as when its
 * host goes away) and come back (`restore`, on the same port), while the service itself keeps running.
 */
export interface TcpProxy {
  port: number;
  /** Whether the service looks down right now. */
  isCut(): boolean;
  cut(): Promise<void>;
  restore(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    open.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    for (const s of [client, upstream]) s.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const listen = (port: number) => new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const close = () => new Promise<void>((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    open.forEach((s) => s.destroy());
  });
  await listen(0);
  const { port } = server.address() as AddressInfo;
  return {
    port,
    isCut: () => !server.listening,
    cut: close,
    restore: async () => {
      if (!server.listening) await listen(port);
    },
    stop: close,
  };
}
