import { type Consumer, type EachBatchPayload, type Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { retryTopic } from '@linan/contracts';
import { Database } from '../persistence/database';
import { withTimeout } from '../time/with-timeout';
import { showLive, sleep, type RetryPolicy } from './consumer-runner';
import { KafkaBatchApplier, SeekBack, type LostMessages, type LogRestart, type PartitionBatch, type ReplayedMessages } from './kafka-batch-applier';
import { RETRY_HEADERS, inbound } from './kafka-records';
import { LIVE_VIEW_GATHER_MS, type FailureReport, OutgoingMessage, Subscription } from './message-bus';
import { slot } from './stored-offsets';

export interface KafkaConsumerOptions {
  /** How long a fetch waits for data; short means low latency, long means fewer requests. */
  maxWaitMs: number;
  retry: RetryPolicy;
  /** How long a consumer waits to join its group before subscribe() resolves anyway. */
  joinTimeoutMs?: number;
  /**
   * The least time from one fetch's data to the next fetch (0: none). A consumer that keeps up otherwise fetches
   * again the moment its buffer has taken a fetch, a few messages each time under a steady load; each fetch costs
   * the same whatever it carries. What Kafka's fetch.min.bytes does on the broker, without its wait when idle.
   */
  fetchGatherMs?: number;
  /** Called once per request answered by Kafka, with the client kind and kafkajs's API name (for /metrics). */
  countRequest?: (client: KafkaClientKind, api: string) => void;
  /** Told of every message that failed (sent to the retry or dead-letter topic), for /metrics. */
  onMessageFailed?: FailureReport;
  /** Told of every partition whose log started over (see StoredOffsetChecks), for /metrics. */
  onLogRestart?: (r: LogRestart) => void;
  /** Told of messages the group never applied and will not be given (see StoredOffsetChecks), for /metrics. */
  onLost?: (e: LostMessages) => void;
  /** Where a partition's log ends now (the bus asks Kafka); without it the end seen at the fetch is believed. */
  partitionEnd?: (topic: string, partition: number) => Promise<bigint>;
  /**
   * The id of the Kafka cluster the consumer reads (the bus asks Kafka when the consumer joins its group), stored with
   * each offset: an offset stored on another cluster is not taken for one of this cluster's log.
   */
  logIdentity?: () => Promise<string | undefined>;
  /** Where a partition's log starts now (the bus asks Kafka); without it skipped messages are never applied again. */
  partitionStart?: (topic: string, partition: number) => Promise<bigint>;
  /**
   * How old a message the group skipped over (its stored offset behind its position in Kafka: a database restored or
   * failed over) may be and still be applied again, from Kafka's timestamp; 0: never, they are only reported.
   */
  replayMaxAgeMs?: number;
  /** Told of messages applied again (see StoredOffsetChecks), for /metrics. */
  onReplayed?: (e: ReplayedMessages) => void;
  /**
   * How often each partition's log is checked at its stored offset while the consumer runs, besides after every join
   * (see StoredOffsetChecks.sendBackToCheck); LOG_CHECK_EVERY_MS unless set.
   */
  logCheckEveryMs?: number;
}

export type KafkaClientKind = 'producer' | 'consumer' | 'admin';

/** Fetched messages a consumer holds at most before kafkajs stops fetching for it (backpressure). */
const MAX_BUFFERED = 2_000;
/** Messages handled in one transaction at most. */
const MAX_PER_TRANSACTION = 500;

/**
 * How long a retry consumer's fetch waits: retries are due no sooner than CONSUMER_RETRY_BASE_MS after a failure, so
 * they need no quick polling.
 */
export const RETRY_FETCH_WAIT_MS = 250;

/**
 * How often a consumer tells Kafka how far it got, at most. That commit only saves re-reading after a restart or a
 * rebalance (the offsets that count are stored with the effects, and what was applied already is skipped), so one
 * request a second does instead of one per transaction, each of which cost as much as a fetch.
 */
export const KAFKA_COMMIT_INTERVAL_MS = 1_000;

/**
 * How often a running consumer reads the message at each partition's stored offset again, to see that its log is still
 * the one applied (StoredOffsetChecks.sendBackToCheck). One message fetched again per partition: the time bounds how
 * long a log rewritten under a running consumer goes unnoticed.
 */
export const LOG_CHECK_EVERY_MS = 60_000;

/**
 * Which of a subscription's topics a consumer reads: its own (`main`), or their retry topics (`retries`). The two are
 * separate kafkajs consumers (the retry one in the Kafka group `<groupId>.retries`), because kafkajs fetches again
 * only once every batch of the last fetch is handled: a retried message waiting out its delay would otherwise hold up
 * every new message of the subscription for that long. Either way the offsets that count are stored under the
 * subscription's group in PostgreSQL, with the effects.
 */
export type ConsumerPart = 'main' | 'retries';

/**
 * One kafkajs consumer of a subscription, its topics or their retry topics: joins the group (and starts again after
 * a crash kafkajs gives up on), fetches ahead into a buffer, hands what gathered to its KafkaBatchApplier, which
 * stores the effects with the offsets, and tells Kafka how far it got.
 */
export class KafkaConsumer {
  private consumer: Consumer;
  private readonly applier: KafkaBatchApplier;
  /** Retry topic → the topic whose messages it holds (only for the `retries` part). */
  private readonly retryTopics: Map<string, string>;
  private stopping = false;
  private joined: Promise<void> = Promise.resolve();
  /** The cluster read since the consumer last joined its group (see KafkaConsumerOptions.logIdentity). */
  private logId: Promise<string | undefined> = Promise.resolve(undefined);
  /** Restarts in a row after crashes kafkajs gives up on; reset when the consumer has its partitions again. */
  private restarts = 0;
  /** Fetched, not yet handled: the partitions' batches in arrival order, and how many messages they hold. */
  private buffer: PartitionBatch[] = [];
  private buffered = 0;
  private processing: Promise<void> | null = null;
  private roomWaiters: (() => void)[] = [];
  /** The running consumer's heartbeat, for long waits of the processing loop. */
  private heartbeat: () => Promise<void> = async () => undefined;
  /** The wait shared by the batches of one fetch (fetchGatherMs), before kafkajs fetches again; `end` cuts it short. */
  private gathering: { done: Promise<void>; end: () => void } | null = null;
  /** Per partition, the next offset to tell Kafka (the last done + 1), waiting for the next commit. */
  private uncommitted = new Map<string, { topic: string; partition: number; offset: string }>();
  private commitTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly kafka: Kafka,
    private readonly sub: Subscription,
    db: Database,
    private readonly options: KafkaConsumerOptions,
    private readonly log: Logger,
    publish: (topic: string, messages: OutgoingMessage[]) => Promise<void>,
    private readonly part: ConsumerPart = 'main',
  ) {
    if (part === 'retries' && sub.ephemeral) throw new Error('a live view has no retry topics');
    this.applier = new KafkaBatchApplier(db, sub, options.retry, log, publish, () => this.stopping, {
      report: options.onMessageFailed, partitionEnd: options.partitionEnd, onLogRestart: options.onLogRestart, onLost: options.onLost,
      logId: () => this.logId,
      logCheckEveryMs: options.logCheckEveryMs ?? LOG_CHECK_EVERY_MS,
      ...(sub.ephemeral ? {} : { partitionStart: options.partitionStart }),
      // the retry topics' consumer handles each message as it comes, after its delay: its gaps are only reported
      ...(part === 'main' && !sub.ephemeral ? { replayMaxAgeMs: options.replayMaxAgeMs, onReplayed: options.onReplayed } : {}),
    });
    this.retryTopics = new Map(part === 'retries' ? sub.topics.map((t) => [retryTopic(t, sub.groupId), t]) : []);
    this.consumer = this.createConsumer();
  }

  /** The topics this consumer reads. */
  get topics(): string[] {
    return this.part === 'retries' ? [...this.retryTopics.keys()] : this.sub.topics;
  }

  /** Where its progress counts (the subscription's group, in PostgreSQL) and on which topics; null for a live view. */
  get storedPosition(): { group: string; topics: string[] } | null {
    return this.sub.ephemeral ? null : { group: this.sub.groupId, topics: this.topics };
  }

  private fetchWaitMs(): number {
    // a live view's fetch may wait longer (LIVE_VIEW_GATHER_MS): the mock broker holds every fetch for the whole
    // wait, so a short one means a fetch every few milliseconds even when nothing happens
    if (this.sub.ephemeral) return Math.max(this.options.maxWaitMs, LIVE_VIEW_GATHER_MS);
    return this.part === 'retries' ? Math.max(this.options.maxWaitMs, RETRY_FETCH_WAIT_MS) : this.options.maxWaitMs;
  }

  private createConsumer(): Consumer {
    // a live view shares its group across console replicas (one of them relays each change) and keeps no history
    const consumer = this.kafka.consumer({
      groupId: this.part === 'retries' ? `${this.sub.groupId}.retries` : this.sub.groupId,
      maxWaitTimeInMs: this.fetchWaitMs(),
      sessionTimeout: 10_000,
      rebalanceTimeout: 15_000,
      heartbeatInterval: 1_000,
      allowAutoTopicCreation: true,
    });
    const count = this.options.countRequest;
    if (count) consumer.on(consumer.events.REQUEST, ({ payload }) => count('consumer', payload.apiName));
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.restarts = 0;
      // asked at every join: after Kafka was replaced under a running consumer, it joins the new cluster's group
      this.logId = this.askLogId();
      // kafkajs resumes each partition after the message at its stored offset: read it again to check the log
      this.applier.recheckLogs();
      this.log.info({ topics: this.topics, memberId: payload.memberId, assignment: payload.memberAssignment }, 'consumer joined its group');
    });
    // kafkajs restarts a consumer by itself only after a retriable error; after any other (an unexpected protocol
    // error answer, for one) it disconnects and stays stopped, while this process still looks healthy and its
    // partitions wait for another member. A consumer must never stop for good while the process runs: start anew.
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart || this.stopping || consumer !== this.consumer) return;
      this.restartLater(consumer, payload.error, 'consumer stopped on an error kafkajs does not retry; starting it again');
    });
    return consumer;
  }

  private askLogId(): Promise<string | undefined> {
    if (!this.options.logIdentity) return Promise.resolve(undefined);
    return this.options.logIdentity().catch((err: unknown) => {
      this.log.warn({ err, topics: this.topics }, 'Kafka did not say which cluster it is: offsets are stored without it until the next join');
      return undefined;
    });
  }

  /** Starts a consumer anew after a growing delay: 0.5 s, doubling up to 30 s while it keeps failing. */
  private restartLater(failed: Consumer, err: unknown, message: string): void {
    const delayMs = Math.min(30_000, 500 * 2 ** Math.min(this.restarts++, 6));
    this.log.error({ err, topics: this.topics, delayMs }, message);
    setTimeout(() => void this.restart(failed), delayMs);
  }

  private async restart(crashed: Consumer): Promise<void> {
    if (this.stopping || crashed !== this.consumer) return;
    await crashed.disconnect().catch(() => undefined);
    this.consumer = this.createConsumer();
    try {
      await this.start();
      // stopped while it was starting: stop() disconnected a consumer that had not connected yet
      if (this.stopping) await this.consumer.disconnect().catch(() => undefined);
    } catch (err) {
      // as after a crash: the CRASH handler of the new consumer is not reached when connect or subscribe fails
      this.restartLater(this.consumer, err, 'consumer could not be started again; will retry');
    }
  }

  async start(): Promise<void> {
    const joined = new Promise<void>((resolve) => {
      const off = this.consumer.on(this.consumer.events.GROUP_JOIN, () => {
        off();
        resolve();
      });
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: this.topics, fromBeginning: !this.sub.ephemeral });
    await this.consumer.run({
      // Kafka's committed offset only saves re-reading: the offsets that count are stored with the effects. It is
      // committed by hand, after those effects (a fetched message is marked consumed in kafkajs at once, so the
      // next fetch need not wait for it to be handled: see eachBatch)
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 8,
      eachBatch: (payload) => this.eachBatch(payload),
    });
    this.joined = joined;
    // A group that keeps offsets loses nothing by joining later (it starts where it left off, or at the beginning);
    // a live view starts at the end of the log, so it waits until it has its partitions before it counts as started.
    if (this.sub.ephemeral) await this.waitForJoin();
  }

  /** Resolves when the consumer has its partitions (or after joinTimeoutMs, with a warning). */
  async waitForJoin(): Promise<void> {
    const timeout = this.options.joinTimeoutMs ?? 30_000;
    // the timer is cleared once joined: a pending 30 s timer kept a stopped process alive that long
    const ok = await withTimeout(this.joined.then(() => true), timeout, 'join timed out').catch(() => false);
    if (!ok) this.log.warn({ topics: this.topics, timeoutMs: timeout }, 'consumer has not joined its group yet; continuing');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.roomWaiters.splice(0).forEach((r) => r());
    // the transaction in progress finishes; what is still buffered is fetched again by whoever gets the partitions
    await this.processing;
    await this.flushCommits();
    await this.consumer.disconnect().catch((err) => this.log.warn({ err }, 'consumer did not disconnect cleanly'));
  }

  private async eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (batch.messages.length === 0) return;
    const originalTopic = this.retryTopics.get(batch.topic);
    const messages = batch.messages.map((m) => inbound(batch.topic, batch.partition, m, originalTopic));
    if (this.sub.ephemeral) {
      await showLive(this.sub, messages, this.log);
      resolveOffset(messages[messages.length - 1].offset);
      // under load a fetch would return at once with the few changes since the last one: let them gather
      if (!this.stopping) await this.gatherUnlessBehind(batch, LIVE_VIEW_GATHER_MS);
      return;
    }
    if (originalTopic) {
      for (const m of messages) {
        if (!isRunning() || isStale()) return;
        await this.waitUntil(Number(m.headers[RETRY_HEADERS.notBefore] ?? 0), heartbeat);
        if (!isRunning() || isStale()) return;
        try {
          if (!(await this.applier.applyOne(batch, m, heartbeat))) return;
        } catch (err) {
          // a retry topic created again: sent back to its log's start (see StoredOffsetChecks)
          if (!(err instanceof SeekBack)) throw err;
          this.seekTo(err.to, err);
          return;
        }
        resolveOffset(m.offset);
        this.commit([{ topic: batch.topic, partition: batch.partition, messages: [m] }]);
      }
      return;
    }
    // Prefetch: the batch goes to the buffer and kafkajs fetches on at once, while the processing loop handles what
    // has gathered, several partitions and fetches in one transaction. A broker that returns little per fetch (the
    // Kafka mock: one produce request per partition) no longer sets the pace of a transaction per fetch. If this
    // process dies, what was fetched but not handled is fetched again from Kafka's committed offset, which only
    // follows the offsets stored with the effects.
    // A batch fetched before a seek (see processBuffer) is not what the partition continues with: fetched again.
    if (isStale()) return;
    this.heartbeat = heartbeat;
    this.buffer.push({ topic: batch.topic, partition: batch.partition, highWatermark: batch.highWatermark, messages });
    this.buffered += messages.length;
    resolveOffset(messages[messages.length - 1].offset);
    // started after this tick, so the other partitions of the same fetch join the first transaction
    this.processing ??= new Promise((r) => setImmediate(r)).then(() => this.processBuffer()).finally(() => (this.processing = null));
    while (this.buffered >= MAX_BUFFERED && !this.stopping && isRunning()) {
      await Promise.race([new Promise<void>((r) => this.roomWaiters.push(r)), sleep(1_000)]);
      await heartbeat().catch(() => undefined);
    }
    if (this.options.fetchGatherMs && !this.stopping) await this.gatherUnlessBehind(batch, this.options.fetchGatherMs);
  }

  /**
   * Lets kafkajs fetch again once this fetch's messages have had `ms` to gather, one wait shared by the fetch's
   * batches; but at once when a batch left messages behind in its partition (the consumer is behind: waiting would
   * only add to the lag). A broker whose fetch returns part of what a partition holds (a real one past its byte
   * limit; the Kafka mock returns one produce request per partition per fetch) would otherwise cap the consumer at a
   * fetch's worth per wait.
   */
  private gatherUnlessBehind(batch: EachBatchPayload['batch'], ms: number): Promise<void> {
    const last = batch.messages[batch.messages.length - 1].offset;
    const behind = BigInt(batch.highWatermark) - 1n > BigInt(last);
    const g = this.gathering ?? this.startGathering(ms);
    if (behind) g.end();
    return g.done;
  }

  private startGathering(ms: number): { done: Promise<void>; end: () => void } {
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    const timer = setTimeout(resolve, ms);
    const g = { done, end: () => (clearTimeout(timer), resolve()) };
    // the wait ends for the whole fetch: batches of the same fetch that come after a cut do not start another
    void done.then(() => setImmediate(() => this.gathering === g && (this.gathering = null)));
    return (this.gathering = g);
  }

  /** The processing loop: takes what the buffer holds (up to MAX_PER_TRANSACTION) and handles it in one go. */
  private async processBuffer(): Promise<void> {
    let taken: PartitionBatch[] = [];
    try {
      while (this.buffer.length && !this.stopping) {
        taken = [];
        let n = 0;
        while (this.buffer.length && (n === 0 || n + this.buffer[0].messages.length <= MAX_PER_TRANSACTION)) {
          const b = this.buffer.shift()!;
          n += b.messages.length;
          const same = taken.find((t) => slot(t) === slot(b));
          if (same) {
            same.messages.push(...b.messages);
            same.highWatermark = b.highWatermark; // the later fetch's
          } else {
            taken.push({ ...b, messages: [...b.messages] });
          }
        }
        const done = await this.applier.apply(taken, () => this.heartbeat());
        taken = [];
        this.commit(done);
        this.buffered -= n;
        this.roomWaiters.splice(0).forEach((r) => r());
      }
    } catch (err) {
      // Failures are handled message by message, so this is either a SeekBack (messages the database lost, to apply
      // again) or not expected. kafkajs has moved past these messages: send it back to the first one of each
      // partition that is not done, or to where the SeekBack says.
      const first = new Map<string, { topic: string; partition: number; offset: string }>();
      if (err instanceof SeekBack) err.to.forEach((t) => first.set(slot(t), t));
      for (const b of [...taken, ...this.buffer]) {
        const k = slot(b);
        if (!first.has(k) && b.messages.length) first.set(k, { topic: b.topic, partition: b.partition, offset: b.messages[0].offset });
      }
      if (!(err instanceof SeekBack)) this.log.error({ err, topics: this.topics }, 'consumer processing loop failed; fetching its buffered messages again');
      this.buffer = [];
      this.buffered = 0;
      this.roomWaiters.splice(0).forEach((r) => r());
      this.seekTo([...first.values()], err instanceof SeekBack ? err : undefined);
    }
  }

  /** Sends partitions back to fetch again from an earlier offset; told when StoredOffsetChecks asked for it. */
  private seekTo(to: SeekBack['to'], asked?: SeekBack): void {
    if (asked?.toCheck) this.log.debug({ seeks: asked.to }, 'fetching the message at the stored offset again to check the log');
    else if (asked) this.log.warn({ seeks: asked.to }, 'fetching partitions again from before what was fetched');
    for (const at of to) {
      try {
        this.consumer.seek(at);
      } catch (e) {
        this.log.error({ err: e, ...at }, 'cannot seek back; the partition resumes from Kafka\'s committed offset after the next rebalance');
      }
    }
  }

  /**
   * Tells Kafka how far each partition is done with, at most every KAFKA_COMMIT_INTERVAL_MS (it only saves re-reading;
   * failures are harmless).
   */
  private commit(done: PartitionBatch[]): void {
    for (const b of done) {
      if (!b.messages.length) continue;
      this.uncommitted.set(slot(b), { topic: b.topic, partition: b.partition, offset: (BigInt(b.messages[b.messages.length - 1].offset) + 1n).toString() });
    }
    if (!this.uncommitted.size || this.stopping || this.commitTimer) return;
    this.commitTimer = setTimeout(() => void this.flushCommits(), KAFKA_COMMIT_INTERVAL_MS);
    this.commitTimer.unref();
  }

  /** Commits what is waiting now (on the timer, and when the consumer stops). */
  private async flushCommits(): Promise<void> {
    if (this.commitTimer) clearTimeout(this.commitTimer);
    this.commitTimer = null;
    const offsets = [...this.uncommitted.values()];
    this.uncommitted.clear();
    if (!offsets.length) return;
    await this.consumer.commitOffsets(offsets)
      .catch((err) => this.log.debug({ err: (err as Error).message }, 'offset commit to Kafka failed (a rebalance); the stored offsets still hold'));
  }

  private async waitUntil(at: number, heartbeat: () => Promise<void>): Promise<void> {
    while (!this.stopping && Date.now() < at) {
      await sleep(Math.min(1_000, at - Date.now()));
      await heartbeat();
    }
  }
}
