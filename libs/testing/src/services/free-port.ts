import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** The kernel's range for the local ports of outgoing connections (and of `listen(0)`). */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo > 0 && hi >= lo) return [lo, hi];
  } catch {
    // not Linux: the usual range
  }
  return [32768, 60999];
}

/** Whether something may listen on 127.0.0.1:port right now (0: any port); resolves with the port or null. */
function tryListen(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(null));
    s.listen(port, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => resolve(addr && typeof addr === 'object' ? addr.port : null));
    });
  });
}

/** Whether something may listen on 127.0.0.1:port right now. */
export async function portIsFree(port: number): Promise<boolean> {
  return (await tryListen(port)) !== null;
}

/**
 * A TCP port nobody listens on right now on 127.0.0.1 (it may be taken before the caller binds it: retry then).
 * Chosen below the kernel's ephemeral range, so that no outgoing connection of the many a test run opens takes it
 * as its local port: a process killed in a test and started again on the same port (crash-recovery) found it taken
 * that way.
 */
export async function freePort(): Promise<number> {
  const [min, max] = [10_000, ephemeralRange()[0] - 1];
  for (let i = 0; max > min && i < 50; i++) {
    const port = await tryListen(min + Math.floor(Math.random() * (max - min)));
    if (port) return port;
  }
  const any = await tryListen(0);
  if (!any) throw new Error('no port was assigned');
  return any;
}
