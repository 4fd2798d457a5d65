import { Test } from '@nestjs/testing';
import { describeWithRedisServer, startRedisServer, type RedisServer } from '../../testing/src/services/redis';
import { silentLogger, testConfig } from '../../testing/src/test-platform';
import { Cache } from './cache/cache';
import { RedisCache } from './cache/redis.cache';
import type { AppConfig } from './config/config';
import { HealthRegistry } from './health/health-registry';
import { LiveFanout } from './live/live-fanout';
import { RedisLiveFanout } from './live/redis.live-fanout';
import type { RootLogger } from './logging/root-logger';
import { PlatformModule } from './platform.module';

async function probe(registry: HealthRegistry, name: string): Promise<'up' | 'down'> {
  const p = registry.entries().find(([n]) => n === name)?.[1];
  if (!p) throw new Error(`no ${name} probe`);
  try {
    return (await p()).up ? 'up' : 'down';
  } catch {
    return 'down';
  }
}

describeWithRedisServer('PlatformModule with REDIS_URL', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('binds Cache and LiveFanout to Redis, and /health follows Redis down and back up', async () => {
    // only the Redis part of the distributed configuration: the bus and the database stay embedded here
    const base = testConfig();
    const config = { ...base, redis: { url: server.url, keyPrefix: 'wiring:' } } as AppConfig;
    const moduleRef = await Test.createTestingModule({
      imports: [PlatformModule.forRoot({ config, logger: silentLogger as RootLogger, entities: [] })],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    try {
      expect(app.get(Cache)).toBeInstanceOf(RedisCache);
      expect(app.get(LiveFanout)).toBeInstanceOf(RedisLiveFanout);
      const health = app.get(HealthRegistry);
      expect([await probe(health, 'redis'), await probe(health, 'live-channel')]).toEqual(['up', 'up']);

      await server.stop();
      expect([await probe(health, 'redis'), await probe(health, 'live-channel')]).toEqual(['down', 'down']);
      expect(await probe(health, 'database')).toBe('up');

      await server.restart();
      const deadline = Date.now() + 5_000;
      while ((await probe(health, 'redis')) === 'down' || (await probe(health, 'live-channel')) === 'down') {
        if (Date.now() > deadline) throw new Error('readiness did not come back');
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await app.close();
    }
  });
});
