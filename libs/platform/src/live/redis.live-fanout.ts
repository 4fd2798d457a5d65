import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { closeConnection, connectOrFail, openCommandConnection, openSubscriberConnection } from '../redis/redis-connection';
import { LiveFanout, decodeLiveMessage, encodeLiveMessage, type LiveHandler, type LiveMessage } from './live-fanout';
import { LiveHandlers } from './live-handlers';

export interface RedisLiveFanoutOptions {
  url: string;
  /** The channel is `<keyPrefix>live`, so deployments sharing a Redis do not see each other's consoles. */
  keyPrefix: string;
  commandTimeoutMs?: number;
}

/**
 * Distributed mode: Redis PUBLISH / SUBSCRIBE on one channel. Subscriber mode takes a connection of its own, so
 * publishing uses a second one (failing fast, like the cache); the subscriber is re-subscribed by ioredis after
 * every reconnect. Pub/sub keeps nothing: what is published while a console process is disconnected is not seen by
 * it, which is the contract of a live view.
 */
export class RedisLiveFanout extends LiveFanout {
  readonly channel: string;
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly handlers: LiveHandlers;

  constructor(private readonly options: RedisLiveFanoutOptions, private readonly log: Logger) {
    super();
    this.channel = `${options.keyPrefix}live`;
    this.handlers = new LiveHandlers(log);
    this.publisher = openCommandConnection({ url: options.url, name: 'linan-live-pub', commandTimeoutMs: options.commandTimeoutMs }, log);
    this.subscriber = openSubscriberConnection({ url: options.url, name: 'linan-live-sub' }, log);
    this.subscriber.on('message', (channel: string, text: string) => this.receive(channel, text));
  }

  /** Both connections up and the channel subscribed, before the app serves anything. */
  async connect(): Promise<void> {
    await connectOrFail(this.publisher, this.options.url);
    try {
      await connectOrFail(this.subscriber, this.options.url);
      await this.subscriber.subscribe(this.channel);
    } catch (e) {
      await closeConnection(this.publisher);
      throw e;
    }
  }

  async publish(message: LiveMessage): Promise<void> {
    await this.publisher.publish(this.channel, encodeLiveMessage(message));
  }

  subscribe(handler: LiveHandler): () => void {
    return this.handlers.add(handler);
  }

  /** Readiness: Redis answers, and this process is listening (not between a reconnect and its resubscription). */
  async ping(): Promise<void> {
    await this.publisher.ping();
    if (this.subscriber.status !== 'ready') throw new Error(`live channel subscriber is ${this.subscriber.status}`);
  }

  async close(): Promise<void> {
    this.handlers.clear();
    await Promise.all([closeConnection(this.subscriber), closeConnection(this.publisher)]);
  }

  private receive(channel: string, text: string): void {
    // every app holds the channel (readiness says so), but only consoles listen: the others skip the parse
    if (channel !== this.channel || this.handlers.empty) return;
    const message = decodeLiveMessage(text);
    if (!message) {
      this.log.warn({ channel, bytes: text.length }, 'unreadable live message ignored');
      return;
    }
    this.handlers.deliver(message);
  }
}
