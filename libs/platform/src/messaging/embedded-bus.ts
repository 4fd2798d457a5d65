import type { Logger } from 'pino';
import { Database } from '../persistence/database';
import { atExecution } from '../persistence/pglite-driver';
import { col, unnestRows } from '../persistence/sql';
import type { DeadLetter } from './consumer-runner';
import { GroupMember, type MemberOptions } from './embedded-group-member';
import { partitionFor } from './partitioner';
import { ConsumerHandle, ConsumerLag, InboundMessage, MessageBus, Outbox, OutgoingMessage, Subscription } from './message-bus';

const OUTBOX = Symbol('outbox');

interface Pending {
  topic: string;
  partition: number;
  message: OutgoingMessage;
}

export interface EmbeddedBusOptions extends MemberOptions {
  partitions: number;
}

/** One append to the log, on its way to the consumers. */
interface Delivery {
  /** The stored messages; null when unknown (no order from the driver, or no commit): consumers then read the log. */
  stored: InboundMessage[] | null;
  items: Pending[];
  state: 'pending' | 'committed' | 'aborted';
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
  /** Appends in the order they ran, each handed to the consumers once it and every one before it has settled. */
  private readonly deliveries: Delivery[] = [];
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
    if (!messages.length) return; // nothing to store: no row, no statement
    const pending = this.db.transactionLocal(OUTBOX, () => [] as Pending[], (items) => this.store(items));
    for (const message of messages) pending.push({ topic, partition: partitionFor(message.key, this.options.partitions), message });
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    const items = batch.flatMap((b) => b.items);
    try {
      await this.store(items);
      batch.forEach((b) => b.resolve());
    } catch (e) {
      batch.forEach((b) => b.reject(e));
    }
  }

  /**
   * Appends to the log and, once that has committed (at once outside a transaction, else when the transaction
   * does), hands the stored messages to the consumers of their partitions: a consumer that has caught up takes them
   * from memory instead of reading them back (MemberWorker's inbox).
   *
   * Consumers must get each partition's messages in log order with none missing, so appends are delivered in the
   * order they ran on the connection (the driver calls back as the insert starts executing; the log's sequence
   * numbers are taken in that same order), each waiting for the ones before it to commit or roll back.
   */
  private async store(items: Pending[]): Promise<void> {
    const d: Delivery = { stored: null, items, state: 'pending' };
    let ran = false;
    const registerAtExecution = () => {
      if (ran) return;
      ran = true;
      this.deliveries.push(d);
    };
    try {
      d.stored = await atExecution.run(registerAtExecution, () => this.insert(items));
    } catch (err) {
      if (ran) this.settle(d, false);
      throw err;
    }
    if (!ran) {
      // not the embedded driver: no order to go by, so consumers are told to read the log instead
      d.stored = null;
      this.deliveries.push(d);
    }
    this.db.afterTransaction((committed) => this.settle(d, committed));
  }

  /**
   * An append that did not commit (or whose insert failed) is not handed over, but its consumers are told to read
   * their partitions from the log: on the rare failure, what the log holds decides, not what this process believes.
   */
  private settle(d: Delivery, committed: boolean): void {
    d.state = committed ? 'committed' : 'aborted';
    if (!committed) d.stored = null;
    while (this.deliveries.length && this.deliveries[0].state !== 'pending') this.wake(this.deliveries.shift()!);
  }

  /** The stored messages in the order given, with their sequence numbers and times. */
  private async insert(items: Pending[]): Promise<InboundMessage[]> {
    const v = unnestRows(items, [
      col<Pending>('topic', 'text', (it) => it.topic), col<Pending>('partition', 'int', (it) => it.partition),
      col<Pending>('key', 'text', (it) => it.message.key), col<Pending>('value', 'text', (it) => it.message.value),
      col<Pending>('headers', 'jsonb', (it) => JSON.stringify(it.message.headers ?? {})),
    ], 1, 'ord');
    // one connection: the rows take their sequence numbers in this order, so the returned numbers sorted match them
    const rows = await this.db.query<{ seq: string | number; created_at: Date | string }>(
      `INSERT INTO bus_log (topic, partition, key, value, headers)
       SELECT topic, partition, key, value, headers FROM ${v.from} ORDER BY ord
       RETURNING seq, created_at`,
      v.params,
    );
    const seqs = rows.map((r) => ({ seq: BigInt(r.seq), at: new Date(r.created_at).getTime() })).sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
    return items.map((it, i) => ({
      topic: it.topic, partition: it.partition, offset: String(seqs[i].seq), key: it.message.key, value: it.message.value,
      headers: { ...(it.message.headers ?? {}) }, timestamp: seqs[i].at, attempt: 1,
    }));
  }

  private wake(d: Delivery): void {
    for (const members of this.groups.values()) for (const m of members) m.wake(d.stored ?? d.items, d.stored !== null);
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

  /**
   * Per partition of every group subscribed here, the messages in the log after the group's stored offset. Background
   * work on the embedded database: a scrape of /metrics never holds up an alarm.
   */
  async lag(): Promise<ConsumerLag[]> {
    const slots = [...this.groups].flatMap(([group, members]) => [...new Set(members.filter((m) => !m.ephemeral).flatMap((m) => m.topics))]
      .flatMap((topic) => Array.from({ length: this.options.partitions }, (_, partition) => ({ group, topic, partition }))));
    if (!slots.length) return [];
    const rows = await this.db.background(() => this.db.query<{ g: string; t: string; p: number; n: string | number }>(
      `SELECT s.g, s.t, s.p, (SELECT count(*) FROM bus_log b WHERE b.topic = s.t AND b.partition = s.p AND b.seq > coalesce(o.seq, 0)) AS n
       FROM unnest($1::text[], $2::text[], $3::int[]) AS s (g, t, p)
       LEFT JOIN bus_offsets o ON o.group_id = s.g AND o.topic = s.t AND o.partition = s.p`,
      [slots.map((s) => s.group), slots.map((s) => s.topic), slots.map((s) => s.partition)],
    ));
    return rows.map((r) => ({ group: r.g, topic: r.t, partition: Number(r.p), messages: Number(r.n) }));
  }

  private async deadLetter(dl: DeadLetter): Promise<void> {
    await this.store([{ topic: dl.topic, partition: partitionFor(dl.message.key, this.options.partitions), message: dl.message }]);
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
