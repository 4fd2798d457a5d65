import { DynamicModule, Global, Inject, Injectable, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthRegistry } from './health/health-registry';
import { Endpoints } from './health/endpoints';
import { ObservabilityController } from './health/observability.controller';
import { AppConfig } from './config/config';
import { Cache } from './cache/cache';
import { MemoryCache } from './cache/memory.cache';
import { RootLogger } from './logging/root-logger';
import { Database } from './persistence/database';
import { openDatabase, type Entities, type OpenedDatabase } from './persistence/open-database';
import { UnitOfWork } from './persistence/unit-of-work';
import { EmbeddedBus } from './messaging/embedded-bus';
import { MessageBus, Outbox } from './messaging/message-bus';
import { Metrics } from './metrics/metrics';
import { Clock, SystemClock } from './time/clock';

export interface PlatformOptions {
  config: AppConfig;
  logger: RootLogger;
  entities: Entities;
  clock?: Clock;
  metrics?: Metrics;
}

const OPENED = Symbol('opened-database');

const PRUNE_EVERY_MS = 10 * 60_000;

@Injectable()
class PlatformLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private pruner: NodeJS.Timeout | null = null;

  constructor(
    @Inject(OPENED) private readonly opened: OpenedDatabase,
    private readonly bus: MessageBus,
    private readonly cache: Cache,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly log: RootLogger,
  ) {}

  onApplicationBootstrap(): void {
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
    await this.bus.close();
    if (this.cache instanceof MemoryCache) this.cache.close();
    await this.opened.close();
  }
}

/**
 * Binds the platform ports to adapters: the embedded ones unless the configuration names real services.
 * Everything here is global, so contexts inject `Database`, `MessageBus`, `Outbox`, `Cache`, `Clock`, `Metrics`.
 */
@Global()
@Module({})
export class PlatformModule {
  static forRoot(options: PlatformOptions): DynamicModule {
    const { config } = options;
    const unsupported = [
      config.kafka.brokers && 'KAFKA_BROKERS',
      config.redis.url && 'REDIS_URL',
      config.mqtt.url && 'MQTT_URL',
    ].filter(Boolean);
    if (unsupported.length) {
      throw new Error(
        `${unsupported.join(', ')} set, but this build has only the embedded bus, cache and broker ` +
          '(DATABASE_URL is supported); unset them to run embedded.',
      );
    }
    return {
      module: PlatformModule,
      imports: [TerminusModule.forRoot({ logger: false })],
      controllers: [ObservabilityController],
      providers: [
        {
          provide: HealthRegistry,
          useFactory: (db: Database) => {
            const r = new HealthRegistry();
            r.register('database', async () => {
              await db.query('SELECT 1');
              return { up: true };
            });
            return r;
          },
          inject: [Database],
        },
        { provide: AppConfig, useValue: config },
        { provide: RootLogger, useValue: options.logger },
        { provide: Clock, useValue: options.clock ?? new SystemClock() },
        { provide: Metrics, useValue: options.metrics ?? new Metrics() },
        { provide: OPENED, useFactory: () => openDatabase(config, options.entities) },
        { provide: Database, useFactory: (o: OpenedDatabase) => o.database, inject: [OPENED] },
        { provide: UnitOfWork, useExisting: Database },
        {
          provide: MessageBus,
          useFactory: (db: Database, log: RootLogger) =>
            new EmbeddedBus(db, {
              partitions: config.bus.partitions,
              pollMs: config.bus.pollMs,
              retry: { maxAttempts: config.bus.maxAttempts, baseDelayMs: config.bus.retryBaseMs },
            }, log.child({ component: 'bus' })),
          inject: [Database, RootLogger],
        },
        { provide: Outbox, useExisting: MessageBus },
        { provide: Cache, useFactory: (clock: Clock) => new MemoryCache(clock), inject: [Clock] },
        PlatformLifecycle,
        Endpoints,
      ],
      exports: [HealthRegistry, Endpoints, AppConfig, RootLogger, Clock, Metrics, Database, UnitOfWork, MessageBus, Outbox, Cache, OPENED],
    };
  }
}

export { OPENED as OPENED_DATABASE };
