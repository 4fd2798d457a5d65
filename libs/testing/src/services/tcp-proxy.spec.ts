import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { startTcpProxy, type TcpProxy } from './tcp-proxy';

/** Sends one line through a new connection to the port and resolves with what comes back (or the error's code). */
function roundTrip(port: number, line: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    s.on('connect', () => s.write(`${line}\n`));
    s.on('data', (d) => {
      got += String(d);
      if (got.endsWith('\n')) s.end();
    });
    s.on('close', () => resolve(got.trim()));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}

describe('startTcpProxy', () => {
  let echo: Server;
  let proxy: TcpProxy;

  beforeAll(async () => {
    echo = createServer((s) => s.on('data', (d) => s.write(`echo ${String(d)}`)));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
    proxy = await startTcpProxy({ host: '127.0.0.1', port: (echo.address() as AddressInfo).port });
  });
  afterAll(async () => {
    await proxy.stop();
    await new Promise((r) => echo.close(r));
  });

  it('passes bytes both ways, refuses connections while cut, closes the ones open at the cut, and comes back on the same port', async () => {
    expect(await roundTrip(proxy.port, 'one')).toBe('echo one');

    const held = connect(proxy.port, '127.0.0.1');
    await new Promise((r) => held.once('connect', r));
    const closed = new Promise((r) => held.once('close', r));
    await proxy.cut();
    expect(proxy.isCut()).toBe(true);
    await closed;
    expect(await roundTrip(proxy.port, 'two')).toBe('ECONNREFUSED');

    await proxy.restore();
    expect(proxy.isCut()).toBe(false);
    expect(await roundTrip(proxy.port, 'three')).toBe('echo three');
  });
});
