import { DynamicModule, Global, Inject, Injectable, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { ThrottlerStorageService, type ThrottlerStorage } from '@nestjs/throttler';
import { HealthRegistry } from './health/health-registry';
import { Endpoints } from './health/endpoints';
import { ObservabilityController } from './health/observability.controller';
import { AppConfig } from './config/config';
import { Cache } from './cache/cache';
import { MemoryCache } from './cache/memory.cache';
import { RedisCache } from './cache/redis.cache';
import { RedisThrottlerStorage } from './cache/redis.throttler-storage';
import { LiveFanout } from './live/live-fanout';
import { MemoryLiveFanout } from './live/memory.live-fanout';
import { RedisLiveFanout } from './live/redis.live-fanout';
import { RootLogger } from './logging/root-logger';
import { Database } from './persistence/database';
import { openDatabase, type Entities, type OpenedDatabase } from './persistence/open-database';
import { VACUUM_CHECK_EVERY_MS, maintainEmbedded } from './persistence/embedded-vacuum';
import { checkServerSettings } from './persistence/server-settings';
import { UnitOfWork } from './persistence/unit-of-work';
import { EmbeddedBus } from './messaging/embedded-bus';
import { KafkaBus, kafkaClientId } from './messaging/kafka-bus';
import { MessageBus, Outbox, type MessageFailure } from './messaging/message-bus';
import { Metrics } from './metrics/metrics';
import { Clock, SystemClock } from './time/clock';

export interface PlatformOptions {
  config: AppConfig;
  logger: RootLogger;
  entities: Entities;
  clock?: Clock;
  metrics?: Metrics;
  /** Names this process to the services (Kafka client id, PostgreSQL application_name). */
  appName?: string;
}

const OPENED = Symbol('opened-database');

/**
 * The counts behind @nestjs/throttler's limits (pass it as the throttler's `storage`): in Redis in distributed mode,
 * so every replica counts the same requests; in memory in embedded mode.
 */
export const RATE_LIMIT_STORAGE = Symbol('rate-limit-storage');

const PRUNE_EVERY_MS = 10 * 60_000;

@Injectable()
class PlatformLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private pruner: NodeJS.Timeout | null = null;
  private vacuum: NodeJS.Timeout | null = null;

  constructor(
    @Inject(OPENED) private readonly opened: OpenedDatabase,
    private readonly bus: MessageBus,
    private readonly cache: Cache,
    private readonly live: LiveFanout,
    @Inject(RATE_LIMIT_STORAGE) private readonly rateLimits: ThrottlerStorage,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly log: RootLogger,
  ) {}

  onApplicationBootstrap(): void {
    if (this.opened.kind === 'postgres') {
      void checkServerSettings(this.opened.database, this.log).catch((err) => this.log.warn({ err }, 'could not read PostgreSQL\'s settings'));
    }
    if (this.opened.kind === 'pglite') {
      let running = false;
      this.vacuum = setInterval(() => {
        if (running) return;
        running = true;
        maintainEmbedded(this.opened.database, this.log)
          .catch((err) => this.log.warn({ err }, 'embedded database: vacuum or checkpoint failed; will try again'))
          .finally(() => (running = false));
      }, VACUUM_CHECK_EVERY_MS);
      this.vacuum.unref();
    }
    const bus = this.bus;
    if (!(bus instanceof EmbeddedBus)) return;
    this.pruner = setInterval(() => {
      bus.prune(this.clock.now(), this.config.bus.retentionMs).then(
        (n) => n && this.log.info({ deleted: n }, 'bus log pruned'),
        (err) => this.log.error({ err }, 'bus log pruning failed'),
      );
    }, PRUNE_EVERY_MS);
    this.pruner.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.pruner) clearInterval(this.pruner);
    if (this.vacuum) clearInterval(this.vacuum);
    await this.bus.close();
    await this.live.close();
    if (this.cache instanceof MemoryCache) this.cache.close();
    if (this.cache instanceof RedisCache) await this.cache.close();
    if (this.rateLimits instanceof RedisThrottlerStorage) await this.rateLimits.close();
    await this.opened.close();
  }
}

/** Connects an adapter to its service before the app starts, and makes /health ask the service while it runs. */
async function connectedAndProbed<T extends { connect(): Promise<void>; ping(): Promise<unknown> }>(
  adapter: T, health: HealthRegistry, name: string,
): Promise<T> {
  await adapter.connect();
  health.register(name, async () => {
    await adapter.ping();
    return { up: true };
  });
  return adapter;
}

/**
 * Binds the platform ports to adapters: the embedded ones unless the configuration names real services.
 * Everything here is global, so contexts inject `Database`, `MessageBus`, `Outbox`, `Cache`, `LiveFanout`, `Clock`, `Metrics`.
 */
@Global()
@Module({})
export class PlatformModule {
  static forRoot(options: PlatformOptions): DynamicModule {
    const { config } = options;
    const appName = options.appName ?? 'app';
    return {
      module: PlatformModule,
      imports: [TerminusModule.forRoot({ logger: false })],
      controllers: [ObservabilityController],
      providers: [
        {
          provide: HealthRegistry,
          useFactory: (db: Database, bus: MessageBus, metrics: Metrics) => {
            const r = new HealthRegistry();
            // /metrics carries the same checks as /health (linan_health_up), so an alert rule sees an app that is up but cannot reach a service
            metrics.watchHealth(() => r.check());
            r.register('database', async () => {
              await db.query('SELECT 1');
              return { up: true };
            });
            if (bus instanceof KafkaBus) r.register('kafka', async () => ({ up: true, detail: await bus.ping() }));
            return r;
          },
          inject: [Database, MessageBus, Metrics],
        },
        { provide: AppConfig, useValue: config },
        { provide: RootLogger, useValue: options.logger },
        { provide: Clock, useValue: options.clock ?? new SystemClock() },
        { provide: Metrics, useValue: options.metrics ?? new Metrics() },
        { provide: OPENED, useFactory: () => openDatabase(config, options.entities, `linan-${appName}`) },
        { provide: Database, useFactory: (o: OpenedDatabase) => o.database, inject: [OPENED] },
        { provide: UnitOfWork, useExisting: Database },
        {
          provide: MessageBus,
          useFactory: async (db: Database, log: RootLogger, metrics: Metrics) => {
            const retry = { maxAttempts: config.bus.maxAttempts, baseDelayMs: config.bus.retryBaseMs };
            const busLog = log.child({ component: 'bus' });
            const onMessageFailed = (f: MessageFailure) => metrics.messageFailed(f);
            if (!config.kafka.brokers) {
              const embedded = new EmbeddedBus(db, { partitions: config.bus.partitions, pollMs: config.bus.pollMs, retry, onMessageFailed }, busLog);
              metrics.watchConsumerLag(() => embedded.lag(), busLog);
              return embedded;
            }
            const bus = new KafkaBus(db, {
              brokers: config.kafka.brokers, clientId: kafkaClientId(appName), maxWaitMs: config.kafka.maxWaitMs, lingerMs: config.kafka.lingerMs, fetchGatherMs: config.kafka.fetchGatherMs,
              outboxSweepMs: config.outbox.sweepMs, retry, onMessageFailed,
              countRequest: (client, api) => metrics.kafkaRequests.inc({ client, api }),
              onLogRestart: (r) => metrics.logRestarts.inc({ group: r.group, topic: r.topic }),
              onLost: (e) => metrics.lostMessages.inc({ group: e.group, topic: e.topic }, e.count),
              replayMaxAgeMs: config.kafka.replayMaxAgeMs,
              onReplayed: (e) => metrics.replayedMessages.inc({ group: e.group, topic: e.topic }, e.count),
              countResent: (n) => metrics.outboxResent.inc(n),
            }, busLog);
            await bus.connect();
            metrics.watchConsumerLag(() => bus.lag(), busLog);
            return bus;
          },
          inject: [Database, RootLogger, Metrics],
        },
        { provide: Outbox, useExisting: MessageBus },
        {
          provide: Cache,
          useFactory: async (clock: Clock, log: RootLogger, health: HealthRegistry) => {
            if (!config.redis.url) return new MemoryCache(clock);
            return connectedAndProbed(
              new RedisCache({ url: config.redis.url, keyPrefix: config.redis.keyPrefix }, log.child({ component: 'cache' })), health, 'redis');
          },
          inject: [Clock, RootLogger, HealthRegistry],
        },
        {
          provide: LiveFanout,
          useFactory: async (log: RootLogger, health: HealthRegistry) => {
            if (!config.redis.url) return new MemoryLiveFanout(log.child({ component: 'live' }));
            return connectedAndProbed(
              new RedisLiveFanout({ url: config.redis.url, keyPrefix: config.redis.keyPrefix }, log.child({ component: 'live' })), health, 'live-channel');
          },
          inject: [RootLogger, HealthRegistry],
        },
        {
          provide: RATE_LIMIT_STORAGE,
          useFactory: async (log: RootLogger, metrics: Metrics): Promise<ThrottlerStorage> => {
            if (!config.redis.url) return new ThrottlerStorageService();
            const storage = new RedisThrottlerStorage({
              url: config.redis.url, keyPrefix: `${config.redis.keyPrefix}rate-limit:`, onError: () => metrics.cacheErrors.inc({ op: 'rate_limit' }),
            }, log.child({ component: 'rate-limit' }));
            await storage.connect();
            return storage;
          },
          inject: [RootLogger, Metrics],
        },
        PlatformLifecycle,
        Endpoints,
      ],
      exports: [
        HealthRegistry, Endpoints, AppConfig, RootLogger, Clock, Metrics, Database, UnitOfWork, MessageBus, Outbox, Cache, LiveFanout, RATE_LIMIT_STORAGE, OPENED,
      ],
    };
  }
}

export { OPENED as OPENED_DATABASE };
