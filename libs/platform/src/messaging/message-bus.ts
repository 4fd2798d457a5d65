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
  /**
   * Applied once before, and again now because the database lost its effects (restored, or failed over to a replica
   * that was behind): see ReplayedMessages in stored-offset-checks.ts.
   */
  replayed?: true;
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

/** A message that failed in a consumer group: to be tried again, or moved to the group's dead-letter topic. */
export interface MessageFailure {
  group: string;
  /** The topic the message was published to (not its retry topic). */
  topic: string;
  outcome: 'retry' | 'dead_letter';
  /** Why it was dead-lettered (the `dlq-reason` header); `transient` for a retry. */
  reason: string;
}

/** Told of every failed message, for /metrics (a consumer must never fail quietly). */
export type FailureReport = (failure: MessageFailure) => void;

/** How far a consumer group is behind on one partition: messages published and not yet applied. */
export interface ConsumerLag {
  group: string;
  topic: string;
  partition: number;
  messages: number;
}

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
  /**
   * The lag of every consumer group subscribed in this process (live views excluded: they keep no position), per
   * partition of each topic they read, retry topics included. Read from the stored offsets, so a consumer that is
   * stuck (its partition held while the database is down) shows its lag growing.
   */
  abstract lag(): Promise<ConsumerLag[]>;
  abstract close(): Promise<void>;
}

/**
 * Transactional publishing: messages added inside a unit of work are published if and only if it commits.
 */
export abstract class Outbox {
  abstract add(topic: string, messages: OutgoingMessage[]): Promise<void>;
}
