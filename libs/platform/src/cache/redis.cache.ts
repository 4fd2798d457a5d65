import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { closeConnection, connectOrFail, openCommandConnection } from '../redis/redis-connection';
import { Cache } from './cache';

export interface RedisCacheOptions {
  url: string;
  /** Prepended to every key, so several deployments (or test runs) can share one Redis. */
  keyPrefix: string;
  commandTimeoutMs?: number;
}

/**
 * The cache shared by every replica in distributed mode. While Redis is down every call fails within the command
 * timeout (see openCommandConnection); callers decide what a failure means, the adapter never guesses.
 */
export class RedisCache extends Cache {
  private readonly client: Redis;

  constructor(private readonly options: RedisCacheOptions, log: Logger) {
    super();
    this.client = openCommandConnection({ url: options.url, name: 'linan-cache', commandTimeoutMs: options.commandTimeoutMs }, log);
  }

  connect(): Promise<void> {
    return connectOrFail(this.client, this.options.url);
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    // one atomic command: two replicas racing for the same event id cannot both win
    return (await this.client.set(this.key(key), value, 'PX', ms(ttlMs), 'NX')) === 'OK';
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.client.set(this.key(key), value, 'PX', ms(ttlMs));
  }

  get(key: string): Promise<string | null> {
    return this.client.get(this.key(key));
  }

  async delete(key: string): Promise<void> {
    await this.client.del(this.key(key));
  }

  async pushRecent(key: string, values: readonly string[], keep: number): Promise<void> {
    if (!values.length) return;
    // LPUSH puts each value in turn at the head, so the last given is the newest; MULTI trims in the same step
    const answers = await this.client.multi().lpush(this.key(key), ...values).ltrim(this.key(key), 0, keep - 1).exec();
    const failed = answers?.find(([err]) => err)?.[0];
    if (!answers || failed) throw failed ?? new Error('Redis discarded the transaction');
  }

  recent(key: string, count: number): Promise<string[]> {
    return this.client.lrange(this.key(key), 0, count - 1);
  }

  /** Readiness: Redis answers PING within the command timeout. */
  async ping(): Promise<void> {
    const answer = await this.client.ping();
    if (answer !== 'PONG') throw new Error(`Redis answered PING with ${answer}`);
  }

  close(): Promise<void> {
    return closeConnection(this.client);
  }

  private key(key: string): string {
    return this.options.keyPrefix + key;
  }
}

/** PX takes a positive whole number of milliseconds. */
const ms = (ttlMs: number) => Math.max(1, Math.ceil(ttlMs));
