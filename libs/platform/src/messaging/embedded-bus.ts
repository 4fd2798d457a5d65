import type { Logger } from 'pino';
import { Database } from '../persistence/database';
import { col, unnestRows } from '../persistence/sql';
import type { DeadLetter } from './consumer-runner';
import { GroupMember, type MemberOptions } from './embedded-group-member';
import { partitionFor } from './partitioner';
import { ConsumerHandle, MessageBus, Outbox, OutgoingMessage, Subscription } from './message-bus';

const OUTBOX = Symbol('outbox');

interface Pending {
  topic: string;
  partition: number;
  message: OutgoingMessage;
}

export interface EmbeddedBusOptions extends MemberOptions {
  partitions: number;
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
        // the flush carries every publisher's messages: it is alarm-path work whoever happened to schedule it
        setImmediate(() => this.db.outside(() => this.db.foreground(() => void this.flush())));
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
    const v = unnestRows(items, [
      col<Pending>('topic', 'text', (it) => it.topic), col<Pending>('partition', 'int', (it) => it.partition),
      col<Pending>('key', 'text', (it) => it.message.key), col<Pending>('value', 'text', (it) => it.message.value),
      col<Pending>('headers', 'jsonb', (it) => JSON.stringify(it.message.headers ?? {})),
    ]);
    await this.db.query(`INSERT INTO bus_log (topic, partition, key, value, headers) SELECT * FROM ${v.from}`, v.params);
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
   * events, dead letters) keep theirs for the retention period. The delete is maintenance
   * (`Database.whenQuiet`): it holds the one connection for as long as it takes.
   */
  async prune(now: number, retentionMs: number): Promise<number> {
    const rows = await this.db.whenQuiet(() => this.db.query<{ n: number | string }>(
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
