import type { Logger } from 'pino';
import { Database } from '../persistence/database';
import { runWithRetries, showLive, sleep, type DeadLetter, type RetryPolicy } from './consumer-runner';
import { LIVE_VIEW_GATHER_MS, type FailureReport, type InboundMessage, type Subscription } from './message-bus';

interface Row {
  seq: number | string;
  topic: string;
  partition: number;
  key: string;
  value: string;
  headers: Record<string, string>;
  created_at: Date;
}

/** What a group member needs of the bus's options. */
export interface MemberOptions {
  pollMs: number;
  batchSize?: number;
  retry: RetryPolicy;
  /** Told of every message that failed (retried or dead-lettered), for /metrics. */
  onMessageFailed?: FailureReport;
}

/**
 * Messages a partition's inbox holds at most; beyond that (a consumer far behind) it is emptied and the consumer
 * reads the log until it has caught up again.
 */
export const INBOX_LIMIT = 1_000;

/**
 * The consuming side of the embedded bus: one member of a consumer group, running a MemberWorker over the partitions
 * the group assigned it (EmbeddedBus does the publishing, the assignment and retention).
 */
export class GroupMember {
  private worker: MemberWorker | null = null;

  constructor(
    private readonly sub: Subscription,
    private readonly db: Database,
    private readonly options: MemberOptions,
    private readonly log: Logger,
    private readonly deadLetter: (dl: DeadLetter) => Promise<void>,
  ) {}

  get topics(): string[] {
    return this.sub.topics;
  }

  /** A live view: no stored position, so no lag to speak of. */
  get ephemeral(): boolean {
    return this.sub.ephemeral === true;
  }

  async assign(partitions: { topic: string; partition: number }[]): Promise<void> {
    await this.worker?.stop();
    this.worker = null;
    if (!partitions.length) return;
    this.worker = new MemberWorker(this.sub, partitions, this.db, this.options, this.log, this.deadLetter);
    this.worker.start();
  }

  /**
   * Messages just committed to the log, in log order: the messages themselves when `stored` (the worker keeps them in
   * its inbox), else only where they went (the worker reads those partitions from the log).
   */
  wake(messages: { topic: string; partition: number }[], stored: boolean): void {
    if (this.worker?.accept(messages, stored)) this.worker.wake();
  }
}

const slot = (topic: string, partition: number) => `${topic}/${partition}`;
const bySeq = (a: InboundMessage, b: InboundMessage) => (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1);

/**
 * Consumes every partition a member is assigned, together: one read of the log for all of them, and their waiting
 * messages handled as one batch in one transaction with every partition's offset. A burst spread over many
 * partitions (keys) costs one transaction, not one per partition; each key's messages stay in order (the log's
 * sequence orders them, and a key always maps to the same partition).
 *
 * Once a read of the log has come back short for a partition (the worker has caught up), the messages committed
 * after it reach the worker's inbox straight from the bus, in log order (EmbeddedBus.store), and the worker takes
 * them from there instead of reading the log again. A partition is `complete` while its inbox is known to hold
 * every message after the worker's position; until every assigned partition is, and when the poll timer fires,
 * the worker reads the log as before.
 */
class MemberWorker {
  private stopping = false;
  private loop: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private pendingWake = false;
  /** The last wait ended by the poll timer, not by a publish: the next read is background work. */
  private polled = false;
  private liveTimer: NodeJS.Timeout | null = null;
  /** The last offset consumed per partition; empty until the first read. */
  private readonly positions = new Map<string, string>();
  private readonly owned: Set<string>;
  /** Messages committed to each partition since the worker started, in log order (see the class comment). */
  private readonly inbox = new Map<string, InboundMessage[]>();
  /** Partitions whose inbox holds every message after the position. */
  private readonly complete = new Set<string>();
  /** How many times each partition's inbox was given up (overflow, or messages that came without their content). */
  private readonly givenUp = new Map<string, number>();

  constructor(
    private readonly sub: Subscription,
    private readonly partitions: { topic: string; partition: number }[],
    private readonly db: Database,
    private readonly options: MemberOptions,
    private readonly log: Logger,
    private readonly deadLetter: (dl: DeadLetter) => Promise<void>,
  ) {
    this.owned = new Set(partitions.map((p) => slot(p.topic, p.partition)));
  }

  private get batchSize(): number {
    return this.options.batchSize ?? 100;
  }

  /** Takes committed messages into the inboxes of the partitions this worker owns; true if any were its own. */
  accept(messages: { topic: string; partition: number }[], stored: boolean): boolean {
    let mine = false;
    for (const m of messages) {
      const k = slot(m.topic, m.partition);
      if (!this.owned.has(k)) continue;
      mine = true;
      const box = this.inbox.get(k) ?? [];
      const last = box[box.length - 1];
      if (stored && box.length < INBOX_LIMIT && (!last || bySeq(last, m as InboundMessage) < 0)) {
        box.push(m as InboundMessage);
        this.inbox.set(k, box);
      } else {
        this.giveUp(k);
      }
    }
    return mine;
  }

  private giveUp(k: string): void {
    this.inbox.delete(k);
    this.complete.delete(k);
    this.givenUp.set(k, (this.givenUp.get(k) ?? 0) + 1);
  }

  start(): void {
    this.loop = this.run().catch((err) => this.log.fatal({ err, group: this.sub.groupId }, 'consumer loop died'));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.liveTimer) clearTimeout(this.liveTimer);
    this.wake();
    await this.loop;
  }

  wake(): void {
    if (this.sub.ephemeral && !this.stopping) {
      // live views coalesce a burst of changes into one read, LIVE_VIEW_GATHER_MS later
      if (this.liveTimer) return;
      this.liveTimer = setTimeout(() => {
        this.liveTimer = null;
        this.pendingWake = true;
        this.wakeUp?.();
      }, LIVE_VIEW_GATHER_MS);
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
        // a live view's reads are background work, and so is the poll that finds the log quiet (publishes wake
        // consumers directly): alarm-path work waiting for the database goes first, and an idle platform's polls
        // do not keep maintenance from finding a quiet moment (Database.quiet)
        batch = this.caughtUp() && !this.polled
          ? this.fromInbox()
          : this.sub.ephemeral || this.polled ? await this.db.background(() => this.fetch()) : await this.fetch();
      } catch (err) {
        this.log.error({ err, group: this.sub.groupId }, 'cannot read the bus log; retrying');
        await sleep(this.options.pollMs);
        continue;
      }
      if (batch.length === 0) {
        await this.idle();
        continue;
      }
      await this.process(batch);
      this.trim();
      // every partition's read came back short and was fully handled: the partitions are drained, so wait for a
      // wake (or the poll) rather than spend a read on an empty result
      if (this.drained(batch)) await this.idle();
    }
  }

  /** Every assigned partition's inbox holds everything after the position (so no need to read the log). */
  private caughtUp(): boolean {
    return this.positions.size > 0 && this.complete.size === this.owned.size;
  }

  /** The inboxes' messages after the positions (up to batchSize per partition), in log order; copies. */
  private fromInbox(): InboundMessage[] {
    this.pendingWake = false;
    const batch: InboundMessage[] = [];
    this.trim();
    for (const box of this.inbox.values()) for (const m of box.slice(0, this.batchSize)) batch.push({ ...m, headers: { ...m.headers } });
    return batch.sort(bySeq);
  }

  /** Drops what the worker has consumed (or read from the log) from the inboxes. */
  private trim(): void {
    for (const [k, box] of this.inbox) {
      const pos = BigInt(this.positions.get(k) ?? '0');
      let skip = 0;
      while (skip < box.length && BigInt(box[skip].offset) <= pos) skip++;
      if (skip === box.length) this.inbox.delete(k);
      else if (skip) box.splice(0, skip);
    }
  }

  private drained(batch: InboundMessage[]): boolean {
    // trimmed: whatever an inbox still holds is after the position
    if (this.caughtUp()) return this.inbox.size === 0;
    const read = new Map<string, { count: number; last: string }>();
    for (const m of batch) {
      const k = slot(m.topic, m.partition);
      read.set(k, { count: (read.get(k)?.count ?? 0) + 1, last: m.offset });
    }
    for (const [k, r] of read) if (r.count >= this.batchSize || this.positions.get(k) !== r.last) return false;
    return true;
  }

  private idle(): Promise<void> {
    this.polled = false;
    if (this.pendingWake || this.stopping) {
      this.pendingWake = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => done(true), this.options.pollMs);
      const self = this;
      function done(byTimer = false) {
        clearTimeout(t);
        self.wakeUp = null;
        self.pendingWake = false;
        self.polled = byTimer;
        resolve();
      }
      this.wakeUp = () => done();
    });
  }

  private columns(): [string[], number[]] {
    return [this.partitions.map((p) => p.topic), this.partitions.map((p) => p.partition)];
  }

  private async loadPositions(): Promise<void> {
    const [topics, partitions] = this.columns();
    const rows = this.sub.ephemeral
      // a live view starts at the end of the log
      ? await this.db.query<{ topic: string; partition: number; seq: string | number | null }>(
        `SELECT p.topic, p.partition, (SELECT max(b.seq) FROM bus_log b WHERE b.topic = p.topic AND b.partition = p.partition) AS seq
         FROM unnest($1::text[], $2::int[]) AS p (topic, partition)`,
        [topics, partitions],
      )
      : await this.db.query<{ topic: string; partition: number; seq: string | number | null }>(
        'SELECT topic, partition, seq FROM bus_offsets WHERE group_id = $1 AND topic = ANY($2::text[])',
        [this.sub.groupId, [...new Set(topics)]],
      );
    const found = new Map(rows.map((r) => [slot(r.topic, Number(r.partition)), r.seq === null ? '0' : String(r.seq)]));
    for (const p of this.partitions) this.positions.set(slot(p.topic, p.partition), found.get(slot(p.topic, p.partition)) ?? '0');
  }

  /** The next messages of every assigned partition (up to batchSize each), in log order. */
  private async fetch(): Promise<InboundMessage[]> {
    this.pendingWake = false;
    if (this.positions.size === 0) await this.loadPositions();
    const [topics, partitions] = this.columns();
    const givenUpBefore = new Map(this.givenUp);
    const rows = await this.db.query<Row>(
      `SELECT l.seq, l.topic, l.partition, l.key, l.value, l.headers, l.created_at
       FROM unnest($1::text[], $2::int[], $3::bigint[]) AS p (topic, partition, pos)
       CROSS JOIN LATERAL (
         SELECT b.seq, b.topic, b.partition, b.key, b.value, b.headers, b.created_at FROM bus_log b
         WHERE b.topic = p.topic AND b.partition = p.partition AND b.seq > p.pos ORDER BY b.seq LIMIT $4) l
       ORDER BY l.seq`,
      [topics, partitions, this.partitions.map((p) => this.positions.get(slot(p.topic, p.partition))), this.batchSize],
    );
    // a partition read short is caught up: everything committed later reaches the inbox (unless it was given up meanwhile)
    const counts = new Map<string, number>();
    for (const r of rows) counts.set(slot(r.topic, Number(r.partition)), (counts.get(slot(r.topic, Number(r.partition))) ?? 0) + 1);
    for (const k of this.owned) {
      if ((counts.get(k) ?? 0) < this.batchSize && this.givenUp.get(k) === givenUpBefore.get(k)) this.complete.add(k);
      else this.complete.delete(k);
    }
    return rows.map((r) => ({
      topic: r.topic, partition: Number(r.partition), offset: String(r.seq), key: r.key, value: r.value,
      headers: r.headers ?? {}, timestamp: new Date(r.created_at).getTime(), attempt: 1,
    }));
  }

  /** Live views: each message once, in order, no transaction and no offset; a failure is logged and skipped. */
  private async processLive(batch: InboundMessage[]): Promise<void> {
    await showLive(this.sub, batch, this.log);
    for (const m of batch) this.positions.set(slot(m.topic, m.partition), m.offset);
  }

  /** Stores the offset of the last message of each partition in `messages` (inside the caller's transaction). */
  private commitOffsets(messages: InboundMessage[]): Promise<unknown> {
    const last = new Map<string, InboundMessage>();
    for (const m of messages) last.set(slot(m.topic, m.partition), m);
    const ms = [...last.values()];
    return this.db.query(
      `INSERT INTO bus_offsets (group_id, topic, partition, seq)
       SELECT $1, t, p, s FROM unnest($2::text[], $3::int[], $4::bigint[]) AS v (t, p, s)
       ON CONFLICT (group_id, topic, partition) DO UPDATE SET seq = EXCLUDED.seq`,
      [this.sub.groupId, ms.map((m) => m.topic), ms.map((m) => m.partition), ms.map((m) => m.offset)],
    );
  }

  /**
   * The whole batch and its offsets in one transaction. If it fails, the transaction is rolled back and each
   * partition's messages run again one by one (the partitions side by side, so a message waiting out its retries
   * holds only its own partition), each through the retry policy; when the failing message is known, this failure
   * counts as its first attempt.
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
        await this.commitOffsets(batch);
      });
      for (const m of batch) this.positions.set(slot(m.topic, m.partition), m.offset);
      return;
    } catch (err) {
      failure = err;
    }
    const byPartition = new Map<string, InboundMessage[]>();
    for (const m of batch) byPartition.set(slot(m.topic, m.partition), [...(byPartition.get(slot(m.topic, m.partition)) ?? []), m]);
    const failed = failedAt >= 0 ? batch[failedAt] : undefined;
    await Promise.all([...byPartition.values()].map((messages) => this.oneByOne(messages, failed, failure)));
  }

  private async oneByOne(messages: InboundMessage[], failed: InboundMessage | undefined, failure: unknown): Promise<void> {
    for (const m of messages) {
      const outcome = await runWithRetries(
        this.sub, m, this.options.retry, this.log,
        (msg) => this.db.run(async () => {
          await this.sub.handle(msg);
          await this.commitOffsets([msg]);
        }),
        (dl) => this.db.run(async () => {
          await this.deadLetter(dl);
          await this.commitOffsets([m]);
        }),
        () => this.stopping,
        m === failed ? failure : undefined,
        this.options.onMessageFailed,
      );
      if (outcome === 'stopped') return;
      this.positions.set(slot(m.topic, m.partition), m.offset);
    }
  }
}
