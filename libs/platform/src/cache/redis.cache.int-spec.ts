import Redis from 'ioredis';
import { describeWithRedis, redisNamespace, type RedisNamespace } from '../../../testing/src/services/redis';
import { silentLogger } from '../../../testing/src/test-platform';
import { StartupError } from '../config/config';
import { SystemClock } from '../time/clock';
import type { Cache } from './cache';
import { MemoryCache } from './memory.cache';
import { RedisCache } from './redis.cache';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What every Cache adapter must do; run against the embedded one and against Redis. */
function cacheBehaviour(make: () => Promise<Cache>) {
  let cache: Cache;
  beforeEach(async () => {
    cache = await make();
  });

  it('setIfAbsent sets a key once and keeps the first value', async () => {
    expect(await cache.setIfAbsent('dedup:a', 'first', 60_000)).toBe(true);
    expect(await cache.setIfAbsent('dedup:a', 'second', 60_000)).toBe(false);
    expect(await cache.get('dedup:a')).toBe('first');
  });

  it('set overwrites, get reads, delete removes', async () => {
    await cache.set('presence:d1', 'x', 60_000);
    await cache.set('presence:d1', 'y', 60_000);
    expect(await cache.get('presence:d1')).toBe('y');
    await cache.delete('presence:d1');
    expect(await cache.get('presence:d1')).toBeNull();
    expect(await cache.setIfAbsent('presence:d1', 'z', 60_000)).toBe(true);
  });

  it('forgets a key after its time to live', async () => {
    await cache.set('short', 'v', 80);
    expect(await cache.setIfAbsent('short-nx', 'v', 80)).toBe(true);
    await sleep(200);
    expect(await cache.get('short')).toBeNull();
    expect(await cache.setIfAbsent('short-nx', 'again', 80)).toBe(true);
  });

  it('lets exactly one of many concurrent setIfAbsent calls win', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => cache.setIfAbsent('race', String(i), 60_000)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('keeps a capped list of recent values, newest first, whoever pushes', async () => {
    expect(await cache.recent('sent', 10)).toEqual([]);
    await cache.pushRecent('sent', ['a', 'b'], 4);
    await cache.pushRecent('sent', [], 4);
    await Promise.all([cache.pushRecent('sent', ['c', 'd'], 4), cache.pushRecent('sent', ['e'], 4)]);
    const all = await cache.recent('sent', 10);
    // the two pushes at once land whole, one after the other, and the list keeps its 4 newest
    expect([['e', 'd', 'c', 'b'], ['d', 'c', 'e', 'b']]).toContainEqual(all);
    expect(await cache.recent('sent', 2)).toEqual(all.slice(0, 2));
    await cache.delete('sent');
    expect(await cache.recent('sent', 10)).toEqual([]);
  });
}

describe(MemoryCache.name, () => {
  const caches: MemoryCache[] = [];
  afterAll(() => caches.forEach((c) => c.close()));
  cacheBehaviour(async () => {
    const c = new MemoryCache(new SystemClock());
    caches.push(c);
    return c;
  });
});

describeWithRedis(`${RedisCache.name} (Redis)`, () => {
  let ns: RedisNamespace;
  const opened: RedisCache[] = [];
  const open = async (keyPrefix = ns.keyPrefix) => {
    const c = new RedisCache({ url: ns.url, keyPrefix }, silentLogger);
    opened.push(c);
    await c.connect();
    return c;
  };

  beforeAll(() => {
    ns = redisNamespace();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((c) => c.close()));
    await ns.cleanup();
  });

  describe('behaves as a Cache', () => cacheBehaviour(() => open()));

  it('keeps every key under its prefix with its TTL, and answers PING', async () => {
    const cache = await open();
    await cache.set('presence:d1', 'v', 60_000);
    const raw = new Redis(ns.url);
    try {
      expect(await raw.get(`${ns.keyPrefix}presence:d1`)).toBe('v');
      expect(await raw.pttl(`${ns.keyPrefix}presence:d1`)).toBeGreaterThan(59_000);
      expect(await raw.exists('presence:d1')).toBe(0);
    } finally {
      raw.disconnect();
    }
    await expect(cache.ping()).resolves.toBeUndefined();
  });

  it('two deployments on one Redis do not see each other\'s keys', async () => {
    const a = await open();
    const b = await open(`${ns.keyPrefix}other:`);
    expect(await a.setIfAbsent('dedup:e1', '1', 60_000)).toBe(true);
    expect(await b.setIfAbsent('dedup:e1', '1', 60_000)).toBe(true);
  });

  it('two replicas racing for one event id: exactly one wins (SET NX is atomic)', async () => {
    const [a, b] = await Promise.all([open(), open()]);
    const wins = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).setIfAbsent('dedup:same', String(i), 60_000)));
    expect(wins.filter(Boolean)).toHaveLength(1);
  });

  it('stops the boot with the address when Redis cannot be reached, without the password', async () => {
    const c = new RedisCache({ url: 'redis://:s3cret@127.0.0.1:1', keyPrefix: 'x:' }, silentLogger);
    const t0 = Date.now();
    const err = await c.connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect((err as Error).message).toMatch(/cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1 \(REDIS_URL\): .*ECONNREFUSED/);
    expect((err as Error).message).not.toContain('s3cret');
    expect(Date.now() - t0).toBeLessThan(3_000);
    await c.close();
  });
});
