import { Module, type INestApplication, type Type } from '@nestjs/common';
import Redis from 'ioredis';
import { LoggerModule } from 'nestjs-pino';
import { createHttpApp, Metrics, PlatformModule, type AppConfig, type RootLogger } from '@linan/platform';
import { describeWithRedisServer, startRedisServer, type RedisServer } from '../../../testing/src/services/redis';
import { eventually, silentLogger, testConfig } from '../../../testing/src/test-platform';
import { AuthModule } from '../auth.module';
import { AUTH_ENTITIES } from '../index';

const LIMIT = 3;

/** One replica of an app serving the login route: its own embedded database, the shared Redis when `redisUrl` is set. */
async function replica(redisUrl: string | undefined, keyPrefix: string): Promise<{ app: INestApplication; url: string; metrics: Metrics }> {
  const base = testConfig({ LOGIN_ATTEMPTS_PER_MINUTE: String(LIMIT) });
  const config = { ...base, redis: { url: redisUrl, keyPrefix } } as AppConfig;
  const metrics = new Metrics();
  @Module({
    imports: [
      PlatformModule.forRoot({ config, logger: silentLogger as RootLogger, entities: AUTH_ENTITIES, metrics }),
      LoggerModule.forRoot({ pinoHttp: { logger: silentLogger, autoLogging: false } }),
      AuthModule,
    ],
  })
  class Root {}
  const app = await createHttpApp(Root as Type<unknown>, { title: 'login-throttle test' });
  await app.listen(0, '127.0.0.1');
  return { app, url: await app.getUrl(), metrics };
}

const attempt = async (baseUrl: string): Promise<number> => (await fetch(`${baseUrl}/api/v1/auth/login`, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: 'a wrong guess' }),
})).status;

async function rateLimitErrors(metrics: Metrics): Promise<number> {
  const m = (await metrics.cacheErrors.get()).values.find((v) => v.labels.op === 'rate_limit');
  return m?.value ?? 0;
}

describeWithRedisServer('login attempts counted across replicas (rate-limit storage in Redis)', () => {
  let server: RedisServer;
  const apps: INestApplication[] = [];
  let n = 0;
  const prefix = () => `throttle-test-${++n}:`;

  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });
  afterAll(async () => {
    await server?.stop();
  });

  const start = async (redisUrl: string | undefined, keyPrefix: string) => {
    const r = await replica(redisUrl, keyPrefix);
    apps.push(r.app);
    return r;
  };

  it('stops a guesser who spreads attempts over two replicas once the limit is reached on both together', async () => {
    const keyPrefix = prefix();
    const [a, b] = [await start(server.url, keyPrefix), await start(server.url, keyPrefix)];
    const statuses = [];
    for (const r of [a, b, a, b, a]) statuses.push(await attempt(r.url));
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    // the counts live under the deployment's prefix, beside nobody else's keys
    const redis = new Redis(server.url);
    try {
      const keys = await redis.keys('*');
      expect(keys.length).toBeGreaterThan(0);
      expect(keys.every((k) => k.startsWith(`${keyPrefix}rate-limit:`))).toBe(true);
    } finally {
      redis.disconnect();
    }
  });

  it('without Redis (embedded mode) each process counts its own attempts', async () => {
    const [a, b] = [await start(undefined, prefix()), await start(undefined, prefix())];
    const statuses = [];
    for (const r of [a, b, a, b, a, b, a]) statuses.push(await attempt(r.url));
    expect(statuses).toEqual([401, 401, 401, 401, 401, 401, 429]);
  });

  it('while Redis is down, still answers logins and counts them in each process; shares the count again once Redis is back', async () => {
    const keyPrefix = prefix();
    const [a, b] = [await start(server.url, keyPrefix), await start(server.url, keyPrefix)];
    await server.stop();
    try {
      const statuses = [];
      for (const r of [a, a, a, a, b]) statuses.push(await attempt(r.url));
      // a's fourth attempt is over the limit in a's own count; b's count is its own
      expect(statuses).toEqual([401, 401, 401, 429, 401]);
      expect(await rateLimitErrors(a.metrics)).toBe(4);
      expect(await rateLimitErrors(b.metrics)).toBe(1);
    } finally {
      await server.restart();
    }
    // back on the restarted (empty) Redis once both replicas have reconnected: they count together again, from zero
    const redis = new Redis(server.url);
    try {
      await eventually(async () => ((await redis.client('LIST')) as string).split('\n').filter((l) => l.includes('name=linan-rate-limit')).length === 2,
        10_000, 'both replicas reconnected to Redis');
    } finally {
      redis.disconnect();
    }
    const errors = [await rateLimitErrors(a.metrics), await rateLimitErrors(b.metrics)];
    const after = [];
    for (const r of [a, b, a, b]) after.push(await attempt(r.url));
    expect(after).toEqual([401, 401, 401, 429]);
    expect([await rateLimitErrors(a.metrics), await rateLimitErrors(b.metrics)]).toEqual(errors);
  });
});
