/** A message to publish: the key chooses the partition, so one key's messages stay in order. */
export interface OutgoingMessage {
  key: string;
  value: string;
  headers?: Record<string, string>;
}

export interface InboundMessage {
  topic: string;
  partition: number;
  /** Position in the partition, as a decimal string (Kafka offsets are 64-bit). */
  offset: string;
  key: string;
  value: string;
  headers: Record<string, string>;
  /** When the bus stored it, epoch ms. */
  timestamp: number;
  /** 1 for the first delivery, more for redeliveries after a failure. */
  attempt: number;
}

export interface Subscription {
  /** Members of one group share the partitions; each group sees every message. */
  groupId: string;
  topics: string[];
  /** Resolves when the effect is stored; throws PermanentMessageError for a message that can never succeed. */
  handle(message: InboundMessage): Promise<void>;
  /**
   * Optional: the same effect for several messages at once (set-based, fewer statements).
   * If it throws, the messages are run again one by one through `handle`, each with its own retries (a live view's
   * batch is not: its failure is logged, as any live view failure).
   */
  handleBatch?(messages: InboundMessage[]): Promise<void>;
  /**
   * A live view (pushing changes to open consoles): starts at the end of the log, keeps no committed offsets and
   * runs outside any transaction. What it misses while stopped, its clients re-read over the API.
   */
  ephemeral?: boolean;
}

/**
 * How long a live view lets changes gather before it reads them: one read per burst instead of one per change, and
 * on Kafka a fetch that may wait this long (an idle fetch every 5 ms costs CPU the alarms need). Screens people look
 * at do not show the difference.
 */
export const LIVE_VIEW_GATHER_MS = 50;

export interface ConsumerHandle {
  stop(): Promise<void>;
}

/**
 * The event bus port, shaped after Kafka: named topics, keyed messages with per-key order, consumer groups,
 * at-least-once delivery, redelivery after a failure and a dead-letter topic per group.
 */
export abstract class MessageBus {
  /** Resolves once every message is durable (stored, or acknowledged by all in-sync replicas). */
  abstract publish(topic: string, messages: OutgoingMessage[]): Promise<void>;
  abstract subscribe(subscription: Subscription): Promise<ConsumerHandle>;
  abstract close(): Promise<void>;
}

/**
 * Transactional publishing: messages added inside a unit of work are published if and only if it commits.
 */
export abstract class Outbox {
  abstract add(topic: string, messages: OutgoingMessage[]): Promise<void>;
}
