import { hostname } from 'node:os';
import { Kafka, Partitioners, logLevel, type Admin, type LogEntry, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { StartupError } from '../config/config';
import { Database } from '../persistence/database';
import { withTimeout } from '../time/with-timeout';
import { KafkaConsumer, type ConsumerPart, type KafkaConsumerOptions } from './kafka-consumer';
import { FIXED_KAFKAJS_VERSION } from './kafkajs-internals';
import { fixKafkaProduceEncoder } from './kafkajs-produce-encoder';
import { fixKafkaRequestQueue } from './kafkajs-request-queue';
import { ConsumerHandle, ConsumerLag, MessageBus, Outbox, OutgoingMessage, Subscription } from './message-bus';
import { rememberingPartitioner } from './partitioner';

export interface KafkaBusOptions extends KafkaConsumerOptions {
  brokers: readonly string[];
  /** Names this process to the brokers (shown in their logs and in consumer group listings). */
  clientId: string;
  /** How often the outbox sweeper looks for messages that were committed but not yet handed to Kafka. */
  outboxSweepMs: number;
  /** How long the first message of a produce request waits for others to join it (librdkafka's linger.ms); 0: none. */
  lingerMs: number;
  /** Told how many messages each sweep of the outbox resent (for /metrics). */
  countResent?: (messages: number) => void;
}

export interface Pending {
  topic: string;
  message: OutgoingMessage;
}

const OUTBOX = Symbol('kafka-outbox');
/** Outbox rows older than this were not handed over by the process that wrote them (it died, or Kafka was down). */
const OUTBOX_STALE_MS = 5_000;
/** Names "the outbox sweeper" among PostgreSQL advisory locks: one sweeper at a time across all processes. */
const OUTBOX_SWEEP_LOCK = 7_146_350_002;
/**
 * Produce requests on their way at once; what queues meanwhile goes out together in the next one. One, so a request
 * that kafkajs retries (a leader moving, a topic being created) cannot be overtaken by a later one: a household's
 * events stay in order (Kafka's max.in.flight.requests.per.connection = 1 without the idempotent producer).
 */
const MAX_IN_FLIGHT = 1;
/** Outbox rows (one per transaction, up to a few hundred messages each) the sweeper resends at a time. */
const OUTBOX_SWEEP_BATCHES = 20;
/** How long handed-over outbox rows wait to be deleted together (well under OUTBOX_STALE_MS). */
const OUTBOX_FORGET_MS = 100;

/**
 * The event bus of distributed mode, on Kafka (kafkajs).
 *
 * - publish: every publish of one tick goes out as one produce request with acks=all; it resolves when the
 *   in-sync replicas have it, which is what the gateway waits for before it acknowledges a device.
 * - Outbox: messages added inside a unit of work are written to the `outbox_batches` table in that transaction
 *   (one row holding all of them) and handed to Kafka right after it commits; a sweeper (one at a time across
 *   processes) re-sends rows that a crashed or disconnected process left behind. Consumers are idempotent by event
 *   id, so the rare resend is harmless.
 * - Consumers: two kafkajs consumers per subscription, one for its topics and one for their retry topics (a
 *   retried message waiting out its delay must not hold up new ones; see ConsumerPart). A batch's effects and its
 *   offset are stored in one PostgreSQL transaction (the offset row is locked first, so two members that briefly own
 *   a partition during a rebalance cannot both apply it); Kafka's committed offset follows after the commit, at most
 *   once a second (KAFKA_COMMIT_INTERVAL_MS), as it only saves re-reading.
 * - Failures: a message that can never succeed goes to the group's dead-letter topic at once with the reason and
 *   its original headers; any other failure goes to the group's retry topic, which the subscription's retry
 *   consumer reads after a growing delay, until CONSUMER_MAX_ATTEMPTS, then to the dead-letter topic. The partition
 *   keeps flowing.
 */
export class KafkaBus extends MessageBus implements Outbox {
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private queue: { items: Pending[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private flushScheduled = false;
  private inFlight = 0;
  private readonly consumers = new Set<KafkaConsumer>();
  private sweeper: NodeJS.Timeout | null = null;
  private sweeping: Promise<void> | null = null;
  private handovers = new Set<Promise<void>>();
  private forgettable: string[] = [];
  private forgetTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly db: Database,
    private readonly options: KafkaBusOptions,
    private readonly log: Logger,
  ) {
    super();
    // two fixes to kafkajs 2.2.4 (decisions.md, "The Kafka bus"): its request queue's endless timer, its produce encoding
    const fixes = { 'request queue': fixKafkaRequestQueue(), 'produce encoder': fixKafkaProduceEncoder() };
    for (const [fix, { outcome, version }] of Object.entries(fixes)) {
      if (outcome === 'skipped') log.warn({ kafkajs: version, expected: FIXED_KAFKAJS_VERSION, fix }, 'kafkajs fix not applied (another release of kafkajs): check its CPU use');
    }
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: [...options.brokers],
      connectionTimeout: 3_000,
      retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 5_000 },
      logLevel: logLevel.WARN,
      logCreator: () => (entry: LogEntry) => this.kafkaLog(entry),
    });
    // the idempotent producer needs a transaction coordinator; acks=all plus idempotent consumers is the contract here
    this.producer = this.kafka.producer({ allowAutoTopicCreation: true, createPartitioner: rememberingPartitioner(Partitioners.DefaultPartitioner) });
    this.admin = this.kafka.admin();
    const count = options.countRequest;
    if (count) {
      this.producer.on(this.producer.events.REQUEST, ({ payload }) => count('producer', payload.apiName));
      this.admin.on(this.admin.events.REQUEST, ({ payload }) => count('admin', payload.apiName));
    }
  }

  /** Connects before the app serves anything: an unreachable Kafka stops the boot with the address it tried. */
  async connect(): Promise<void> {
    try {
      await this.producer.connect();
      await this.admin.connect();
    } catch (e) {
      await this.producer.disconnect().catch(() => undefined);
      throw new StartupError(`cannot reach Kafka at ${this.options.brokers.join(',')} (KAFKA_BROKERS): ${(e as Error).message}`, { cause: e });
    }
    this.sweeper = setInterval(() => void this.sweepOutbox(), this.options.outboxSweepMs);
    this.sweeper.unref();
  }

  /**
   * Readiness: the cluster answers a metadata request. With its id, which the consumers store with their offsets:
   * /health shows which cluster an app is on.
   */
  async ping(timeoutMs = 2_000): Promise<{ brokers: number; clusterId: string | null }> {
    const r = await this.describeCluster(timeoutMs);
    return { brokers: r.brokers.length, clusterId: r.clusterId || null };
  }

  /** Kafka's answer to a metadata request (its brokers and the cluster's id) within `timeoutMs`. */
  private describeCluster(timeoutMs: number) {
    return withTimeout(this.admin.describeCluster(), timeoutMs, 'Kafka did not answer');
  }

  publish(topic: string, messages: OutgoingMessage[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('bus is closed'));
    if (messages.length === 0) return Promise.resolve();
    return this.enqueue(messages.map((message) => ({ topic, message })));
  }

  /**
   * Group commit: what is queued goes out in one produce request, in the order it was queued, with at most
   * MAX_IN_FLIGHT request on its way at a time; whatever queues meanwhile waits for the next one. A gateway's
   * sessions publish one message each per tick, so without the bound every message was a request of its own and
   * they queued at the broker; with it, requests carry many messages per partition under load, and a lone message
   * still goes out at once. With `lingerMs` (librdkafka's linger.ms) a request's first message waits that long for
   * company.
   */
  private enqueue(items: Pending[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.flushScheduled || this.inFlight >= MAX_IN_FLIGHT || !this.queue.length) return;
    this.flushScheduled = true;
    if (this.options.lingerMs > 0) setTimeout(() => void this.flush(), this.options.lingerMs);
    else setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    this.inFlight++;
    try {
      await this.send(batch.flatMap((b) => b.items));
      batch.forEach((b) => b.resolve());
    } catch (e) {
      batch.forEach((b) => b.reject(e));
    } finally {
      this.inFlight--;
      this.schedule();
    }
  }

  private async send(items: Pending[]): Promise<void> {
    const byTopic = new Map<string, Pending['message'][]>();
    for (const it of items) {
      const list = byTopic.get(it.topic) ?? [];
      list.push(it.message);
      byTopic.set(it.topic, list);
    }
    await this.producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, messages]) => ({
        topic, messages: messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers ?? {} })),
      })),
    });
  }

  async add(topic: string, messages: OutgoingMessage[]): Promise<void> {
    if (!this.db.inTransaction()) throw new Error('Outbox.add must run inside a unit of work');
    if (!messages.length) return; // nothing to store: no row, no statement
    const pending = this.db.transactionLocal(OUTBOX, () => [] as Pending[], async (items) => {
      const ids = await this.store(items);
      this.db.afterCommit(() => this.handOver(ids, items));
    });
    for (const message of messages) pending.push({ topic, message });
  }

  /**
   * The transaction's messages as one row (see the OutboxBatches migration): one insert and one delete per commit.
   * The insert is held (Database.write), so it goes with the transaction's other trailing writes; the row's id is
   * in the returned list once it has run, before the commit.
   */
  private async store(items: Pending[]): Promise<string[]> {
    const ids: string[] = [];
    await this.db.write<{ id: string | number }>('INSERT INTO outbox_batches (messages) VALUES ($1) RETURNING id', [encodeOutboxBatch(items)],
      (rows) => ids.push(...rows.map((r) => String(r.id))));
    return ids;
  }

  /** Right after the commit: publish, then forget the rows. A failure leaves them for the sweeper. */
  private handOver(ids: string[], items: Pending[]): void {
    const p = this.db.outside(async () => {
      try {
        await this.enqueue(items);
        this.forget(ids);
      } catch (err) {
        this.log.warn({ err, count: ids.length }, 'outbox messages not handed to Kafka yet; the sweeper will resend them');
      }
    });
    this.handovers.add(p);
    void p.finally(() => this.handovers.delete(p));
  }

  /**
   * Rows Kafka has are deleted together every OUTBOX_FORGET_MS: one statement (and one commit) for everything handed
   * over meanwhile instead of one per transaction. A crash before the delete only means the sweeper resends them.
   */
  private forget(ids: string[]): void {
    this.forgettable.push(...ids);
    if (this.forgetTimer) return;
    this.forgetTimer = setTimeout(() => void this.flushForgotten(), OUTBOX_FORGET_MS);
    this.forgetTimer.unref();
  }

  private async flushForgotten(): Promise<void> {
    this.forgetTimer = null;
    const ids = this.forgettable;
    this.forgettable = [];
    if (!ids.length) return;
    await this.db.outside(() => this.db.query('DELETE FROM outbox_batches WHERE id = ANY($1::bigint[])', [ids])).catch((err) =>
      this.log.warn({ err, count: ids.length }, 'handed-over outbox rows not deleted; the sweeper will resend them (consumers drop the copies)'));
  }

  /** Resends rows left behind, oldest first, under an advisory lock so only one process sweeps at a time. */
  sweepOutbox(): Promise<void> {
    if (this.sweeping || this.closed) return this.sweeping ?? Promise.resolve();
    this.sweeping = this.db.outside(() => this.db.run(async () => {
      const [{ locked }] = await this.db.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS locked', [OUTBOX_SWEEP_LOCK]);
      if (!locked) return;
      const rows = await this.db.query<{ id: string; messages: string }>(
        `SELECT id, messages FROM outbox_batches WHERE created_at < now() - make_interval(secs => $1) ORDER BY id LIMIT ${OUTBOX_SWEEP_BATCHES}`,
        [OUTBOX_STALE_MS / 1000],
      );
      const readable = rows.flatMap((r) => {
        try {
          return [{ id: r.id, items: decodeOutboxBatch(r.messages) }];
        } catch (err) {
          // written by this code only, so never expected; kept (never dropped) and reported on every sweep
          this.log.error({ err, id: r.id }, 'unreadable outbox row left in place');
          return [];
        }
      });
      if (!readable.length) return;
      const items = readable.flatMap((r) => r.items);
      await this.send(items);
      await this.db.query('DELETE FROM outbox_batches WHERE id = ANY($1::bigint[])', [readable.map((r) => r.id)]);
      this.options.countResent?.(items.length);
      this.log.warn({ count: items.length, transactions: readable.length }, 'outbox sweeper resent messages left behind');
    })).catch((err) => this.log.warn({ err }, 'outbox sweep failed; will try again')).finally(() => {
      this.sweeping = null;
    });
    return this.sweeping;
  }

  async subscribe(sub: Subscription): Promise<ConsumerHandle> {
    if (this.closed) throw new Error('bus is closed');
    const parts: ConsumerPart[] = sub.ephemeral ? ['main'] : ['main', 'retries'];
    const options = {
      ...this.options,
      partitionEnd: async (topic: string, partition: number) => (await this.partitionOffsets(topic, partition)).end,
      partitionStart: async (topic: string, partition: number) => (await this.partitionOffsets(topic, partition)).start,
      logIdentity: () => this.clusterId(),
    };
    const consumers = parts.map((part) => new KafkaConsumer(
      this.kafka, sub, this.db, options, this.log.child({ group: sub.groupId, part }), (topic, messages) => this.publish(topic, messages), part,
    ));
    consumers.forEach((c) => this.consumers.add(c));
    await Promise.all(consumers.map((c) => c.start()));
    return {
      stop: async () => {
        consumers.forEach((c) => this.consumers.delete(c));
        await Promise.all(consumers.map((c) => c.stop()));
      },
    };
  }

  /** The cluster's id, from Kafka within 3 s (brokers before Kafka 0.10.1 have none). */
  private async clusterId(): Promise<string | undefined> {
    return (await this.describeCluster(3_000)).clusterId || undefined;
  }

  /** Where a partition's log starts (the oldest offset Kafka holds) and ends now (its high watermark), from Kafka within 3 s. */
  private async partitionOffsets(topic: string, partition: number): Promise<{ start: bigint; end: bigint }> {
    const ends = await withTimeout(this.admin.fetchTopicOffsets(topic), 3_000, 'Kafka did not say where the partition starts and ends');
    const found = ends.find((e) => e.partition === partition);
    if (!found) throw new Error(`Kafka does not know partition ${partition} of ${topic}`);
    return { start: BigInt(found.low), end: BigInt(found.high) };
  }

  /**
   * Per partition: the partition's end (its high watermark, from Kafka) less the next offset the group has to apply
   * (from the offsets stored with the effects in PostgreSQL). A topic Kafka cannot tell about right now is left out.
   */
  async lag(): Promise<ConsumerLag[]> {
    const wanted = new Map<string, Set<string>>();
    for (const c of this.consumers) {
      const p = c.storedPosition;
      if (p) wanted.set(p.group, new Set([...(wanted.get(p.group) ?? []), ...p.topics]));
    }
    if (!wanted.size) return [];
    const topics = [...new Set([...wanted.values()].flatMap((t) => [...t]))];
    const ends = new Map<string, { partition: number; high: string; low: string }[]>();
    await Promise.all(topics.map(async (topic) => {
      try {
        ends.set(topic, await this.admin.fetchTopicOffsets(topic));
      } catch (err) {
        this.log.debug({ err, topic }, 'partition ends not known; lag left out');
      }
    }));
    const rows = await this.db.query<{ group_id: string; topic: string; partition: number; seq: string }>(
      'SELECT group_id, topic, partition, seq FROM bus_offsets WHERE group_id = ANY($1::text[]) AND topic = ANY($2::text[])', [[...wanted.keys()], topics]);
    const applied = new Map(rows.map((r) => [`${r.group_id}/${r.topic}/${Number(r.partition)}`, BigInt(r.seq)]));
    return [...wanted].flatMap(([group, groupTopics]) => [...groupTopics].flatMap((topic) => (ends.get(topic) ?? []).map((e) => {
      const low = BigInt(e.low);
      const next = (applied.get(`${group}/${topic}/${e.partition}`) ?? -1n) + 1n;
      const behind = BigInt(e.high) - (next > low ? next : low);
      return { group, topic, partition: e.partition, messages: behind > 0n ? Number(behind) : 0 };
    })));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.sweeper) clearInterval(this.sweeper);
    await Promise.all([...this.consumers].map((c) => c.stop()));
    this.consumers.clear();
    await Promise.allSettled([...this.handovers]);
    if (this.forgetTimer) clearTimeout(this.forgetTimer);
    await this.flushForgotten();
    await this.sweeping;
    this.closed = true;
    if (this.queue.length) await this.flush();
    await this.producer.disconnect().catch(() => undefined);
    await this.admin.disconnect().catch(() => undefined);
  }

  private kafkaLog(entry: LogEntry): void {
    const { message, ...extra } = entry.log;
    // kafkajs logs each error response of a connection (a rebalance in progress, a broker restarting) before its
    // retry logic deals with it; what is not dealt with surfaces again from the producer, consumer or admin
    const level = entry.namespace === 'Connection' ? 'debug' : entry.level <= logLevel.ERROR ? 'error' : entry.level === logLevel.WARN ? 'warn' : 'debug';
    this.log[level]({ kafka: entry.namespace, ...extra }, message);
  }
}

/** A client id that tells replicas apart in the brokers' view: the app and the host (a pod name in Kubernetes). */
export function kafkaClientId(app: string): string {
  return `linan-${app}-${hostname()}`.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 100);
}

/** An outbox row's `messages`: the transaction's messages, in order, as JSON. */
export function encodeOutboxBatch(items: readonly Pending[]): string {
  return JSON.stringify(items.map(({ topic, message }) => ({ topic, key: message.key, value: message.value, headers: message.headers ?? {} })));
}

export function decodeOutboxBatch(text: string): Pending[] {
  return (JSON.parse(text) as { topic: string; key: string; value: string; headers?: Record<string, string> }[])
    .map((m) => ({ topic: m.topic, message: { key: m.key, value: m.value, headers: m.headers ?? {} } }));
}
