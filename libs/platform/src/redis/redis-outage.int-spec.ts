import { describeWithRedisServer, startRedisServer, type RedisServer } from '../../../testing/src/services/redis';
import { eventually, silentLogger } from '../../../testing/src/test-platform';
import { RedisCache } from '../cache/redis.cache';
import type { LiveMessage } from '../live/live-fanout';
import { RedisLiveFanout } from '../live/redis.live-fanout';
import { REDIS_COMMAND_TIMEOUT_MS } from './redis-connection';

/** How long a call may take to fail while Redis is down: far below a device's QoS 1 retry, and no hang. */
const FAIL_FAST_MS = 300;

async function timed(call: () => Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const t0 = Date.now();
  try {
    await call();
    return { ms: Date.now() - t0, error: null };
  } catch (error) {
    return { ms: Date.now() - t0, error };
  }
}

describeWithRedisServer('Redis outage: the cache and the live fan-out fail fast and recover by themselves', () => {
  let server: RedisServer;
  let cache: RedisCache;
  let dispatch: RedisLiveFanout;
  let console1: RedisLiveFanout;
  const received: LiveMessage[] = [];
  const notice = (alertId: string): LiveMessage => ({ district: '思明区', body: { type: 'operator.notice', alertId } });

  beforeAll(async () => {
    server = await startRedisServer();
    const options = { url: server.url, keyPrefix: 'outage:' };
    cache = new RedisCache(options, silentLogger);
    dispatch = new RedisLiveFanout(options, silentLogger);
    console1 = new RedisLiveFanout(options, silentLogger);
    await Promise.all([cache.connect(), dispatch.connect(), console1.connect()]);
    console1.subscribe((m) => received.push(m));
    await console1.whenListening();
  });

  afterAll(async () => {
    await Promise.all([cache?.close(), dispatch?.close(), console1?.close()]);
    await server?.stop();
  });

  it('works before the outage', async () => {
    expect(await cache.setIfAbsent('dedup:before', '1', 60_000)).toBe(true);
    await dispatch.publish(notice('before'));
    await eventually(() => received.some((m) => m.body.alertId === 'before'), 3000, 'the notice before the outage');
  });

  it('while Redis is down every call fails within a few hundred ms, and readiness says down', async () => {
    await server.stop();
    const calls = {
      setIfAbsent: () => cache.setIfAbsent('dedup:during', '1', 60_000),
      set: () => cache.set('presence:d1', '1', 60_000),
      get: () => cache.get('dedup:before'),
      delete: () => cache.delete('dedup:before'),
      publish: () => dispatch.publish(notice('during')),
      cachePing: () => cache.ping(),
      livePing: () => dispatch.ping(),
    };
    for (let round = 0; round < 3; round++) {
      for (const [name, call] of Object.entries(calls)) {
        const r = await timed(call);
        expect({ name, failed: r.error !== null }).toEqual({ name, failed: true });
        expect({ name, fastEnough: r.ms < FAIL_FAST_MS }).toEqual({ name, fastEnough: true });
      }
      await new Promise((r) => setTimeout(r, 150)); // across several reconnect attempts
    }
  });

  it('after Redis comes back (empty) dedup, presence and the fan-out work again, without a restart of ours', async () => {
    await server.restart();
    await eventually(async () => cache.setIfAbsent('dedup:after', '1', 60_000), 5000, 'setIfAbsent after the restart');
    expect(await cache.setIfAbsent('dedup:after', '1', 60_000)).toBe(false);
    await cache.set('presence:d1', 'online', 60_000);
    expect(await cache.get('presence:d1')).toBe('online');
    await eventually(() => cache.ping().then(() => true), 5000, 'cache readiness');
    // the console's subscriber reconnects and subscribes again by itself; keep publishing until one arrives
    let n = 0;
    await eventually(async () => {
      await dispatch.publish(notice(`after-${++n}`)).catch(() => undefined);
      return received.some((m) => String(m.body.alertId).startsWith('after-'));
    }, 5000, 'a notice after the restart');
    await eventually(() => dispatch.ping().then(() => true), 5000, 'fan-out readiness');
    expect(received.some((m) => m.body.alertId === 'during')).toBe(false); // pub/sub keeps nothing: consoles re-read
  });

  it('a Redis that stops answering (hung, connection still open) fails calls after the command timeout', async () => {
    server.pause();
    try {
      for (const call of [() => cache.get('dedup:after'), () => dispatch.publish(notice('hung'))]) {
        const r = await timed(call);
        expect(r.error).toBeTruthy();
        expect((r.error as Error).message).toMatch(/timed out/i);
        expect(r.ms).toBeGreaterThanOrEqual(REDIS_COMMAND_TIMEOUT_MS - 50);
        expect(r.ms).toBeLessThan(REDIS_COMMAND_TIMEOUT_MS + 500);
      }
    } finally {
      server.resume();
    }
    await eventually(async () => (await cache.get('dedup:after')) === '1', 5000, 'answers again after the pause');
  });
});
