import type { Logger } from 'pino';
import { Database } from '../persistence/database';
import { valuesList } from '../persistence/sql';
import { runWithRetries, sleep, type DeadLetter, type RetryPolicy } from './consumer-runner';
import { partitionFor } from './partitioner';
import { ConsumerHandle, InboundMessage, MessageBus, Outbox, OutgoingMessage, Subscription } from './message-bus';

interface Row {
  seq: number | string;
  topic: string;
  partition: number;
  key: string;
  value: string;
  headers: Record<string, string>;
  created_at: Date;
}

const OUTBOX = Symbol('outbox');
/** How long a live view lets changes gather before it reads them: one read per burst instead of one per change. */
const LIVE_COALESCE_MS = 50;

interface Pending {
  topic: string;
  partition: number;
  message: OutgoingMessage;
}

export interface EmbeddedBusOptions {
  partitions: number;
  pollMs: number;
  batchSize?: number;
  retry: RetryPolicy;
}

/**
 * The in-process bus of embedded mode. Its log is a table in the embedded database, so a publish is durable when
 * its insert commits, a crash loses nothing, and a consumer's offset is stored in the same transaction as the
 * effects of the messages it consumed.
 */
export class EmbeddedBus extends MessageBus implements Outbox {
  private queue: { items: Pending[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  private flushScheduled = false;
  private readonly groups = new Map<string, GroupMember[]>();
  private closed = false;

  constructor(
    private readonly db: Database,
    private readonly options: EmbeddedBusOptions,
    private readonly log: Logger,
  ) {
    super();
  }

  /** Group commit: every publish issued in the same tick is stored by one INSERT. */
  publish(topic: string, messages: OutgoingMessage[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('bus is closed'));
    if (messages.length === 0) return Promise.resolve();
    const items = messages.map((message) => ({ topic, partition: partitionFor(message.key, this.options.partitions), message }));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ items, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.db.outside(() => void this.flush()));
      }
    });
  }

  /**
   * Inside a unit of work: stored in the same transaction (all of a transaction's messages in one INSERT, just
   * before it commits), delivered after it commits.
   */
  async add(topic: string, messages: OutgoingMessage[]): Promise<void> {
    if (!this.db.inTransaction()) throw new Error('Outbox.add must run inside a unit of work');
    const pending = this.db.transactionLocal(OUTBOX, () => [] as Pending[], async (items) => {
      await this.insert(items);
      this.db.afterCommit(() => this.wake(items));
    });
    for (const message of messages) pending.push({ topic, partition: partitionFor(message.key, this.options.partitions), message });
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    const items = batch.flatMap((b) => b.items);
    try {
      await this.insert(items);
      batch.forEach((b) => b.resolve());
      this.wake(items);
    } catch (e) {
      batch.forEach((b) => b.reject(e));
    }
  }

  private async insert(items: Pending[]): Promise<void> {
    for (let i = 0; i < items.length; i += 500) {
      const chunk = items.slice(i, i + 500);
      await this.db.query(
        `INSERT INTO bus_log (topic, partition, key, value, headers) VALUES ${valuesList(chunk.length, ['', '', '', '', '::jsonb'])}`,
        chunk.flatMap((it) => [it.topic, it.partition, it.message.key, it.message.value, JSON.stringify(it.message.headers ?? {})]),
      );
    }
  }

  private wake(items: Pending[]): void {
    for (const members of this.groups.values()) for (const m of members) m.wake(items);
  }

  async subscribe(sub: Subscription): Promise<ConsumerHandle> {
    if (this.closed) throw new Error('bus is closed');
    const members = this.groups.get(sub.groupId) ?? [];
    const member = new GroupMember(sub, this.db, this.options, this.log, (dl) => this.deadLetter(dl));
    members.push(member);
    this.groups.set(sub.groupId, members);
    await this.rebalance(sub.groupId);
    return {
      stop: async () => {
        const list = this.groups.get(sub.groupId) ?? [];
        const i = list.indexOf(member);
        if (i >= 0) list.splice(i, 1);
        await member.assign([]);
        await this.rebalance(sub.groupId);
      },
    };
  }

  /** Spreads each topic's partitions over the group's members that subscribe to it (Kafka's round-robin assignor). */
  private async rebalance(groupId: string): Promise<void> {
    const members = this.groups.get(groupId) ?? [];
    await Promise.all(members.map((m) => m.assign([])));
    const assignment = new Map<GroupMember, { topic: string; partition: number }[]>(members.map((m) => [m, []]));
    const topics = new Set(members.flatMap((m) => m.topics));
    for (const topic of topics) {
      const subscribed = members.filter((m) => m.topics.includes(topic));
      for (let p = 0; p < this.options.partitions; p++) assignment.get(subscribed[p % subscribed.length])!.push({ topic, partition: p });
    }
    await Promise.all(members.map((m) => m.assign(assignment.get(m)!)));
  }

  private async deadLetter(dl: DeadLetter): Promise<void> {
    await this.insert([{ topic: dl.topic, partition: partitionFor(dl.message.key, this.options.partitions), message: dl.message }]);
  }

  /**
   * Retention, as Kafka does it by time: deletes messages older than `retentionMs` that every consumer group of
   * their topic has committed past. A group that lags keeps its messages; topics nobody consumes (rejected
   * events, dead letters) keep theirs for the retention period.
   */
  async prune(now: number, retentionMs: number): Promise<number> {
    const rows = await this.db.outside(() => this.db.query<{ n: number | string }>(
      `WITH deleted AS (
         DELETE FROM bus_log l
         WHERE l.created_at < $1
           AND NOT EXISTS (SELECT 1 FROM bus_offsets o WHERE o.topic = l.topic AND o.partition = l.partition AND o.seq < l.seq)
         RETURNING 1)
       SELECT count(*) AS n FROM deleted`,
      [new Date(now - retentionMs)],
    ));
    return Number(rows[0]?.n ?? 0);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.queue.length) await this.flush();
    await Promise.all([...this.groups.values()].flat().map((m) => m.assign([])));
    this.groups.clear();
  }
}

class GroupMember {
  private workers = new Map<string, PartitionWorker>();

  constructor(
    private readonly sub: Subscription,
    private readonly db: Database,
    private readonly options: EmbeddedBusOptions,
    private readonly log: Logger,
    private readonly deadLetter: (dl: DeadLetter) => Promise<void>,
  ) {}

  get topics(): string[] {
    return this.sub.topics;
  }

  async assign(partitions: { topic: string; partition: number }[]): Promise<void> {
    await Promise.all([...this.workers.values()].map((w) => w.stop()));
    this.workers.clear();
    for (const { topic, partition } of partitions) {
      const w = new PartitionWorker(this.sub, topic, partition, this.db, this.options, this.log, this.deadLetter);
      this.workers.set(`${topic}/${partition}`, w);
      w.start();
    }
  }

  wake(items: { topic: string; partition: number }[]): void {
    for (const it of items) this.workers.get(`${it.topic}/${it.partition}`)?.wake();
  }
}

class PartitionWorker {
  private stopping = false;
  private loop: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private pendingWake = false;
  private liveTimer: NodeJS.Timeout | null = null;
  private position: string | null = null;

  constructor(
    private readonly sub: Subscription,
    private readonly topic: string,
    private readonly partition: number,
    private readonly db: Database,
    private readonly options: EmbeddedBusOptions,
    private readonly log: Logger,
    private readonly deadLetter: (dl: DeadLetter) => Promise<void>,
  ) {}

  start(): void {
    this.loop = this.run().catch((err) => this.log.fatal({ err, topic: this.topic, partition: this.partition }, 'consumer loop died'));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.liveTimer) clearTimeout(this.liveTimer);
    this.wake();
    await this.loop;
  }

  wake(): void {
    if (this.sub.ephemeral && !this.stopping) {
      // live views coalesce a burst of changes into one read, LIVE_COALESCE_MS later
      if (this.liveTimer) return;
      this.liveTimer = setTimeout(() => {
        this.liveTimer = null;
        this.pendingWake = true;
        this.wakeUp?.();
      }, LIVE_COALESCE_MS);
      this.liveTimer.unref();
      return;
    }
    this.pendingWake = true;
    this.wakeUp?.();
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      let batch: InboundMessage[];
      try {
        batch = await this.fetch();
      } catch (err) {
        this.log.error({ err, topic: this.topic, partition: this.partition }, 'cannot read the bus log; retrying');
        await sleep(this.options.pollMs);
        continue;
      }
      if (batch.length === 0) {
        await this.idle();
        continue;
      }
      await this.process(batch);
      // a short batch that was fully handled drained the partition: wait for a wake (or the poll) rather than
      // spend a read on an empty result
      if (batch.length < (this.options.batchSize ?? 100) && this.position === batch[batch.length - 1].offset) await this.idle();
    }
  }

  private idle(): Promise<void> {
    if (this.pendingWake || this.stopping) {
      this.pendingWake = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, this.options.pollMs);
      const self = this;
      function done() {
        clearTimeout(t);
        self.wakeUp = null;
        self.pendingWake = false;
        resolve();
      }
      this.wakeUp = done;
    });
  }

  private async fetch(): Promise<InboundMessage[]> {
    this.pendingWake = false;
    if (this.position === null) {
      const r = this.sub.ephemeral
        ? await this.db.query<{ seq: string | number }>('SELECT coalesce(max(seq), 0) AS seq FROM bus_log WHERE topic = $1 AND partition = $2', [this.topic, this.partition])
        : await this.db.query<{ seq: string | number }>(
          'SELECT seq FROM bus_offsets WHERE group_id = $1 AND topic = $2 AND partition = $3',
          [this.sub.groupId, this.topic, this.partition],
        );
      this.position = r.length ? String(r[0].seq) : '0';
    }
    const rows = await this.db.query<Row>(
      'SELECT seq, topic, partition, key, value, headers, created_at FROM bus_log WHERE topic = $1 AND partition = $2 AND seq > $3 ORDER BY seq LIMIT $4',
      [this.topic, this.partition, this.position, this.options.batchSize ?? 100],
    );
    return rows.map((r) => ({
      topic: r.topic, partition: r.partition, offset: String(r.seq), key: r.key, value: r.value,
      headers: r.headers ?? {}, timestamp: new Date(r.created_at).getTime(), attempt: 1,
    }));
  }

  /** Live views: each message once, in order, no transaction and no offset; a failure is logged and skipped. */
  private async processLive(batch: InboundMessage[]): Promise<void> {
    for (const m of batch) {
      try {
        await this.sub.handle(m);
      } catch (err) {
        this.log.warn({ err, group: this.sub.groupId, topic: m.topic, offset: m.offset }, 'live view could not show a message');
      }
      this.position = m.offset;
    }
  }

  private commitOffset(offset: string): Promise<unknown> {
    return this.db.query(
      `INSERT INTO bus_offsets (group_id, topic, partition, seq) VALUES ($1, $2, $3, $4)
       ON CONFLICT (group_id, topic, partition) DO UPDATE SET seq = EXCLUDED.seq`,
      [this.sub.groupId, this.topic, this.partition, offset],
    );
  }

  /**
   * The whole batch and its offset in one transaction. If a message fails, the transaction is rolled back, the
   * messages before it are run again one by one, and the failed one goes through the retry policy with this
   * failure counted as its first attempt; the rest come back with the next fetch.
   */
  private async process(batch: InboundMessage[]): Promise<void> {
    if (this.sub.ephemeral) return this.processLive(batch);
    let failedAt = -1;
    let failure: unknown;
    try {
      await this.db.run(async () => {
        if (this.sub.handleBatch && batch.length > 1) {
          await this.sub.handleBatch(batch);
        } else {
          for (let i = 0; i < batch.length; i++) {
            failedAt = i;
            await this.sub.handle(batch[i]);
          }
        }
        failedAt = -1;
        await this.commitOffset(batch[batch.length - 1].offset);
      });
      this.position = batch[batch.length - 1].offset;
      return;
    } catch (err) {
      failure = err;
    }
    const upTo = failedAt < 0 ? batch.length : failedAt + 1;
    for (let i = 0; i < upTo; i++) {
      const outcome = await runWithRetries(
        this.sub, batch[i], this.options.retry, this.log,
        (msg) => this.db.run(async () => {
          await this.sub.handle(msg);
          await this.commitOffset(msg.offset);
        }),
        (dl) => this.db.run(async () => {
          await this.deadLetter(dl);
          await this.commitOffset(batch[i].offset);
        }),
        () => this.stopping,
        i === failedAt ? failure : undefined,
      );
      if (outcome === 'stopped') return;
      this.position = batch[i].offset;
    }
  }
}
