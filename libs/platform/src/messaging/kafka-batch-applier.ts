import type { Logger } from 'pino';
import { PermanentMessageError, retryTopic } from '@linan/contracts';
import { Database } from '../persistence/database';
import { deadLetterFor, sleep, type RetryPolicy } from './consumer-runner';
import { forRetry, withoutRetryHeaders } from './kafka-records';
import type { FailureReport, InboundMessage, OutgoingMessage, Subscription } from './message-bus';
import { SeekBack, StoredOffsetChecks, type PartitionBatch, type StoredOffsetHooks } from './stored-offset-checks';
import { slot, storeOffsets, type FetchedPartition } from './stored-offsets';

export { SeekBack, type LogRestart, type LostMessages, type PartitionBatch, type ReplayedMessages } from './stored-offset-checks';

export interface ApplierHooks extends StoredOffsetHooks {
  /** Told of every message that failed (sent to the retry or dead-letter topic). */
  report?: FailureReport;
}

/**
 * The effects of a subscription's messages, stored with the offsets they reach: what a KafkaConsumer hands over
 * once fetched. Batches go in one transaction; a failure is narrowed down to the message that fails, which goes to the
 * retry or dead-letter topic so its partition keeps flowing, except while the database itself is down.
 */
export class KafkaBatchApplier {
  private readonly checks: StoredOffsetChecks;

  constructor(
    private readonly db: Database,
    private readonly sub: Subscription,
    private readonly retry: RetryPolicy,
    private readonly log: Logger,
    private readonly publish: (topic: string, messages: OutgoingMessage[]) => Promise<void>,
    /** The consumer is stopping: give up waiting and leave what is not done for the partitions' next owner. */
    private readonly stopping: () => boolean,
    private readonly hooks: ApplierHooks = {},
  ) {
    this.checks = new StoredOffsetChecks(db, sub.groupId, log, hooks);
  }

  /** The consumer joined its group: each partition's log is checked at its stored offset again (see StoredOffsetChecks). */
  recheckLogs(): void {
    this.checks.recheckLogs();
  }

  /**
   * The batches (any partitions) in one transaction that also stores every partition's offset. Returns what is done
   * with per partition — applied, or sent to the retry or dead-letter topic — in order: all of it, or less when the
   * consumer is stopping; only that may be marked consumed in Kafka. If the transaction fails, several partitions are
   * run again each on its own, and one partition message by message, so one bad message cannot hold the rest; when
   * the failing message is known (no set-based handler), its failure counts as its first attempt.
   */
  async apply(batches: PartitionBatch[], heartbeat: () => Promise<void>): Promise<PartitionBatch[]> {
    // a fixed order of the offset rows, so two members briefly sharing partitions in a rebalance cannot deadlock
    batches.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    let failed: InboundMessage | undefined;
    let failure: unknown;
    try {
      await this.db.run(async () => {
        const done = await this.checks.storedOffsets(batches);
        const fresh = batches.flatMap((b) => this.checks.toApply(b, done.offsets.get(slot(b))!));
        if (fresh.length > 1 && this.sub.handleBatch) {
          await this.sub.handleBatch(fresh);
        } else {
          for (const m of fresh) {
            failed = m;
            await this.sub.handle(m);
          }
          failed = undefined;
        }
        await storeOffsets(this.db, this.sub.groupId, batches, done.logId);
      });
      return batches;
    } catch (err) {
      if (err instanceof SeekBack) throw err;
      failure = err;
    }
    if (batches.length > 1) {
      this.log.warn({ err: failure, partitions: batches.length }, 'combined batch failed; running each partition on its own');
      return (await Promise.all(batches.map((b) => this.apply([b], heartbeat)))).flat();
    }
    const [b] = batches;
    this.log.warn({ err: failure, topic: b.topic, partition: b.partition, count: b.messages.length }, 'batch failed; running its messages one by one');
    const done: InboundMessage[] = [];
    for (const m of b.messages) {
      if (this.stopping() || !(await this.applyOne(b, m, heartbeat, m === failed ? failure : undefined))) break;
      done.push(m);
    }
    return [{ ...b, messages: done }];
  }

  /**
   * One message in its own transaction; a failure sends it to the retry or dead-letter topic, then moves on.
   * False when the consumer stopped before the message was done with.
   */
  async applyOne(
    part: FetchedPartition, m: InboundMessage, heartbeat: () => Promise<void>, knownFailure?: unknown,
  ): Promise<boolean> {
    let failure: unknown = knownFailure;
    const one = [{ ...part, messages: [m] }];
    for (;;) {
      if (failure === undefined) {
        try {
          await this.db.run(async () => {
            const { offsets, logId } = await this.checks.storedOffsets(one);
            const stored = offsets.get(slot(part))!;
            const [now] = this.checks.toApply(one[0], stored);
            if (!now) {
              // already applied, or too old to apply again: only the offset moves on
              if (BigInt(m.offset) > stored) await storeOffsets(this.db, this.sub.groupId, one, logId);
              return;
            }
            await this.sub.handle(now);
            await storeOffsets(this.db, this.sub.groupId, one, logId);
          });
          return true;
        } catch (err) {
          if (err instanceof SeekBack) throw err;
          failure = err;
        }
      }
      // While the database itself is down every message fails, and through no fault of its own: hold the partition
      // (nothing can be stored anyway) rather than spend the message's attempts and dead-letter good alarms.
      if (failure instanceof PermanentMessageError || (await this.db.answers())) break;
      this.log.error({ err: failure, topic: m.topic, partition: m.partition }, 'the database does not answer; holding this partition until it does');
      await this.waitForDatabase(heartbeat);
      if (this.stopping()) return false; // not stored: the message comes again after the next assignment
      failure = undefined;
    }
    const ctx = { topic: m.topic, partition: m.partition, offset: m.offset, attempt: m.attempt, err: failure };
    if (failure instanceof PermanentMessageError || m.attempt >= this.retry.maxAttempts) {
      const reason = failure instanceof PermanentMessageError ? failure.reason : 'max_attempts';
      this.log.error(ctx, 'message dead-lettered');
      const dl = deadLetterFor(this.sub, m, reason, failure);
      await this.forward(dl.topic, { ...dl.message, headers: withoutRetryHeaders(dl.message.headers) });
      this.hooks.report?.({ group: this.sub.groupId, topic: m.topic, outcome: 'dead_letter', reason });
    } else {
      const delay = this.retry.baseDelayMs * 2 ** (m.attempt - 1);
      this.log.warn({ ...ctx, delayMs: delay }, 'message failed; sent to the retry topic');
      await this.forward(retryTopic(m.topic, this.sub.groupId), forRetry(m, Date.now() + delay));
      this.hooks.report?.({ group: this.sub.groupId, topic: m.topic, outcome: 'retry', reason: 'transient' });
    }
    // the message is safely elsewhere: move this partition past it (not sent back to check the log now: it would come,
    // and be forwarded, again)
    await this.db.run(async () => {
      const { logId } = await this.checks.storedOffsets(one, { sendBackToCheck: false });
      await storeOffsets(this.db, this.sub.groupId, one, logId);
    });
    return true;
  }

  private async waitForDatabase(heartbeat: () => Promise<void>): Promise<void> {
    for (let delay = 500; !this.stopping(); delay = Math.min(delay * 2, 5_000)) {
      await sleep(delay);
      await heartbeat().catch(() => undefined);
      if (await this.db.answers()) return;
    }
  }

  /** Publishing to a retry or dead-letter topic must not fail silently: it is retried until it succeeds or we stop. */
  private async forward(topic: string, message: OutgoingMessage): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.publish(topic, [message]);
        return;
      } catch (err) {
        if (this.stopping()) throw err;
        this.log.error({ err, topic, attempt }, 'cannot publish to the retry/dead-letter topic; retrying');
        await sleep(Math.min(5_000, 200 * 2 ** attempt));
      }
    }
  }
}
