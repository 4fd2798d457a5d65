import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { describeUnlessMissing } from '../describe-when';
import { freePort } from './free-port';
import { readEnvironment } from '@linan/platform';

/** The Redis tests may use: TEST_REDIS_URL, or the machine's own on 127.0.0.1:6379. */
export function testRedisServer(): string {
  return readEnvironment().TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
}

/**
 * Whether the test Redis answers PING, decided synchronously so a spec can pick `describe` or `describe.skip` when
 * it loads (jest cannot wait for a promise there). A child process does the network round trip.
 */
export function redisAvailableSync(url = testRedisServer(), timeoutMs = 2_000): boolean {
  const u = new URL(url);
  const probe = `
    const s = require('node:net').connect(${Number(u.port || 6379)}, ${JSON.stringify(u.hostname)});
    s.setTimeout(${timeoutMs}, () => process.exit(1));
    s.on('error', () => process.exit(1));
    s.on('connect', () => s.write('PING\\r\\n'));
    s.on('data', (d) => process.exit(String(d).startsWith('+PONG') || String(d).startsWith('-NOAUTH') ? 0 : 1));`;
  return spawnSync(process.execPath, ['-e', probe], { timeout: timeoutMs + 1_000, stdio: 'ignore' }).status === 0;
}

/** Whether `redis-server` can be run here (the fault tests start their own). */
export function redisServerInstalled(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export interface RedisNamespace {
  url: string;
  /** Unique to this run: what the adapters take as their key prefix. */
  keyPrefix: string;
  /** Deletes every key under the prefix. */
  cleanup(): Promise<void>;
}

/** A key prefix of its own on the shared test Redis, so parallel spec files and earlier runs never collide. */
export function redisNamespace(url = testRedisServer()): RedisNamespace {
  const keyPrefix = `linan-test:${Date.now().toString(36)}-${randomBytes(3).toString('hex')}:`;
  return {
    url,
    keyPrefix,
    cleanup: async () => {
      const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await r.connect();
        let cursor = '0';
        do {
          const [next, keys] = await r.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 500);
          if (keys.length) await r.del(...keys);
          cursor = next;
        } while (cursor !== '0');
      } finally {
        r.disconnect();
      }
    },
  };
}

export interface RedisServer {
  url: string;
  port: number;
  /** Kills the server, like a crash (no goodbye to its clients), and removes its folder. */
  stop(): Promise<void>;
  /** Kills it if running and starts it again, empty, on the same port (free unless something took it meanwhile). */
  restart(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open and nothing answers, like a hung server or a dead link. */
  pause(): void;
  resume(): void;
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once('error', () => done(false));
    s.once('data', (d) => done(String(d).startsWith('+PONG')));
    s.connect(port, '127.0.0.1', () => s.write('PING\r\n'));
  });
}

/**
 * A private `redis-server` for fault tests (stop and restart it while adapters are connected): a free port on
 * 127.0.0.1, no persistence, its files in a temporary folder that stop() removes.
 */
export async function startRedisServer(timeoutMs = 10_000): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'linan-redis-'));
  let child: ChildProcess | null = null;
  let output = '';

  const launch = async () => {
    mkdirSync(dir, { recursive: true });
    const c = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = c;
    output = '';
    const keep = (d: Buffer) => (output = (output + d.toString()).slice(-4_000));
    c.stdout!.on('data', keep);
    c.stderr!.on('data', keep);
    const failed = new Promise<never>((_, reject) => {
      c.once('error', (e) => reject(new Error(`cannot run redis-server (apt-get install -y redis-server): ${e.message}`)));
      c.once('exit', (code) => reject(new Error(`redis-server exited with ${code}:\n${output}`)));
    });
    failed.catch(() => undefined);
    const deadline = Date.now() + timeoutMs;
    while (!(await Promise.race([answers(port), failed]))) {
      if (Date.now() > deadline) {
        c.kill('SIGKILL');
        throw new Error(`redis-server on port ${port} did not answer in ${timeoutMs} ms:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const kill = () => new Promise<void>((resolve) => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return resolve();
    c.once('exit', () => resolve());
    c.kill('SIGKILL');
  });

  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
    restart: async () => {
      await kill();
      await launch();
    },
    pause: () => void (child as ChildProcess | null)?.kill('SIGSTOP'),
    resume: () => void (child as ChildProcess | null)?.kill('SIGCONT'),
  };
}

/**
 * `describe` when the test Redis answers, otherwise `describe.skip` with the reason in the suite's name (and one
 * warning on the console), so a run without Redis says what it did not test instead of passing quietly.
 */
export function describeWithRedis(name: string, fn: () => void): void {
  describeUnlessMissing(name, redisAvailableSync() ? null : `no Redis answers at ${testRedisServer()} (start redis-server, or set TEST_REDIS_URL)`, fn);
}

/** The same for the fault tests, which also need the redis-server program to start their own server. */
export function describeWithRedisServer(name: string, fn: () => void): void {
  describeUnlessMissing(name, redisServerInstalled() ? null : 'redis-server is not installed (apt-get install -y redis-server)', fn);
}
