import type Redis from 'ioredis';
import type { Logger } from 'pino';
import { closeConnection, connectOrFail, openCommandConnection, openSubscriberConnection } from '../redis/redis-connection';
import { LiveFanout, decodeLiveMessages, encodeLiveMessages, type LiveHandler, type LiveMessage } from './live-fanout';
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
 *
 * Only a process that shows something live (a console) subscribes, when its first handler is added: Redis sends
 * every message on the channel to every subscriber, and gateway, triage and dispatch would each be woken for every
 * alert change only to drop it.
 */
export class RedisLiveFanout extends LiveFanout {
  readonly channel: string;
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly handlers: LiveHandlers;
  /** Set by the first handler: the SUBSCRIBE, and whether it has been answered. */
  private listening: Promise<void> | null = null;
  private subscribed = false;

  constructor(private readonly options: RedisLiveFanoutOptions, private readonly log: Logger) {
    super();
    this.channel = `${options.keyPrefix}live`;
    this.handlers = new LiveHandlers(log);
    this.publisher = openCommandConnection({ url: options.url, name: 'linan-live-pub', commandTimeoutMs: options.commandTimeoutMs }, log);
    this.subscriber = openSubscriberConnection({ url: options.url, name: 'linan-live-sub' }, log);
    this.subscriber.on('message', (channel: string, text: string) => this.receive(channel, text));
  }

  /** The publishing connection up before the app serves anything (the subscriber follows the first handler). */
  async connect(): Promise<void> {
    await connectOrFail(this.publisher, this.options.url);
  }

  async publishAll(messages: readonly LiveMessage[]): Promise<void> {
    if (messages.length) await this.publisher.publish(this.channel, encodeLiveMessages(messages));
  }

  subscribe(handler: LiveHandler): () => void {
    const off = this.handlers.add(handler);
    this.listening ??= this.listen();
    return off;
  }

  /** Resolves once the channel is subscribed (at once in a process without handlers, which never subscribes). */
  override whenListening(): Promise<void> {
    return this.listening ?? Promise.resolve();
  }

  /**
   * Readiness: Redis answers and, in a process with handlers, this process is listening (subscribed, and not between
   * a reconnect and its resubscription).
   */
  async ping(): Promise<void> {
    await this.publisher.ping();
    if (!this.listening) return;
    if (!this.subscribed) throw new Error('live channel not subscribed yet');
    if (this.subscriber.status !== 'ready') throw new Error(`live channel subscriber is ${this.subscriber.status}`);
  }

  /** SUBSCRIBE connects the subscriber (lazily) and waits until Redis is there, retrying on its own. */
  private async listen(): Promise<void> {
    try {
      await this.subscriber.subscribe(this.channel);
      this.subscribed = true;
    } catch (err) {
      // only when the connection is closed for good (close()): readiness has said "not subscribed" all along
      this.log.warn({ err, channel: this.channel }, 'live channel not subscribed');
    }
  }

  async close(): Promise<void> {
    this.handlers.clear();
    await Promise.all([closeConnection(this.subscriber), closeConnection(this.publisher)]);
  }

  private receive(channel: string, text: string): void {
    if (channel !== this.channel || this.handlers.empty) return;
    const read = decodeLiveMessages(text);
    if (!read || read.unreadable) this.log.warn({ channel, bytes: text.length, unreadable: read?.unreadable }, 'unreadable live message ignored');
    read?.messages.forEach((m) => this.handlers.deliver(m));
  }
}
