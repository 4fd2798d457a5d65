import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { ThrottlerStorageService, type ThrottlerStorage } from '@nestjs/throttler';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { closeConnection, connectOrFail, openCommandConnection } from '../redis/redis-connection';

type ThrottlerRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

export interface RedisThrottlerStorageOptions {
  url: string;
  /** Prepended to the counters' keys (the deployment's REDIS_KEY_PREFIX and `rate-limit:`). */
  keyPrefix: string;
  commandTimeoutMs?: number;
  /** Told of every count Redis could not take (counted in memory instead). */
  onError?: () => void;
}

/**
 * The counts behind @nestjs/throttler's limits (the login attempts per client address), kept in Redis so that every
 * replica counts the same attempts: behind a load balancer a password guesser would otherwise get the limit once per
 * replica. The counting itself is @nest-lab/throttler-storage-redis's (one Lua script, atomic across replicas).
 *
 * While Redis does not answer, attempts are counted in this process's memory instead of failing the request: the limit
 * then holds per replica, as it would with one, and an operator can still sign in during a Redis outage. One warning
 * when that starts and one line when Redis counts again.
 */
export class RedisThrottlerStorage implements ThrottlerStorage {
  private readonly client: Redis;
  private readonly shared: ThrottlerStorageRedisService;
  private readonly local = new ThrottlerStorageService();
  private inMemory = false;

  constructor(private readonly options: RedisThrottlerStorageOptions, private readonly log: Logger) {
    // ioredis prefixes the script's keys (it knows EVAL's key arguments), so deployments sharing a Redis stay apart
    this.client = openCommandConnection({ url: options.url, name: 'linan-rate-limit', commandTimeoutMs: options.commandTimeoutMs, keyPrefix: options.keyPrefix }, log);
    this.shared = new ThrottlerStorageRedisService(this.client);
  }

  connect(): Promise<void> {
    return connectOrFail(this.client, this.options.url);
  }

  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottlerRecord> {
    try {
      const counted = await this.shared.increment(key, ttl, limit, blockDuration, throttlerName);
      if (this.inMemory) {
        this.inMemory = false;
        this.log.info('rate limits counted in Redis again, shared by every replica');
      }
      return counted;
    } catch (err) {
      this.options.onError?.();
      if (!this.inMemory) {
        this.inMemory = true;
        this.log.warn({ err }, 'Redis cannot count rate limits; counting in this process until it can (each replica then allows the limit)');
      }
      return this.local.increment(key, ttl, limit, blockDuration, throttlerName);
    }
  }

  async close(): Promise<void> {
    this.local.onApplicationShutdown();
    await closeConnection(this.client);
  }
}
