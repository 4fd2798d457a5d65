import type { Logger } from 'pino';
import { Database } from '../persistence/database';
import type { InboundMessage } from './message-bus';
import {
  digestOf, forgetStoredOffsets, fromOtherLog, lockStoredOffsets, messageDigest, pastLogEnd, slot, type FetchedPartition, type StoredOffset,
} from './stored-offsets';

/** One partition's fetched messages. */
export interface PartitionBatch extends FetchedPartition {
  messages: InboundMessage[];
}

/** A partition whose log started over: its messages are applied from the new log's start. */
export interface LogRestart {
  group: string;
  topic: string;
  partition: number;
  /** The offset stored for it, from the earlier log. */
  storedOffset: string;
  /** Where its log ends now; unknown when the offset was stored on another cluster and no fetch said yet. */
  logEnd: string | null;
  /** When the offset was stored on another Kafka cluster: that cluster's id and this one's. */
  cluster?: { stored: string; now: string };
  /**
   * When the message at the stored offset is not the one applied there: the digest on record and the one read now
   * (see messageDigest).
   */
  message?: { stored: string; now: string };
}

/**
 * Messages between the group's stored offset and the next one Kafka gave it: never applied here, and not coming.
 * Kafka's retention removed them, or the database is older than the group's position in Kafka (restored from a backup).
 */
export interface LostMessages {
  group: string;
  topic: string;
  partition: number;
  /** The first offset not applied, and how many from there the log no longer holds. */
  from: string;
  count: number;
}

/**
 * Messages between the group's stored offset and the next one Kafka gave it that Kafka still holds, applied again:
 * the database was restored to before the group's position in Kafka (a failover to a replica that had not received
 * the last commits, a restore to a point in time). Those older than the replay's age limit are not applied again and
 * are reported as LostMessages instead.
 */
export interface ReplayedMessages {
  group: string;
  topic: string;
  partition: number;
  /** The first offset applied again, and how many were. */
  from: string;
  count: number;
}

/**
 * Thrown inside the transaction that found messages to apply again (see ReplayedMessages): nothing of the batch is
 * stored, and the consumer fetches each of these partitions again from the offset given.
 */
export class SeekBack extends Error {
  constructor(
    readonly to: readonly { topic: string; partition: number; offset: string }[],
    /** Only to read the message at the stored offset again (see StoredOffsetChecks.sendBackToCheck): nothing is wrong. */
    readonly toCheck = false,
  ) {
    super(`seek back to ${to.map((t) => `${t.topic}/${t.partition}@${t.offset}`).join(', ')}`);
  }
}

/** What lockStoredOffsets found, after the checks of storedOffsets: per partition, and the log read now. */
export interface Stored {
  offsets: Map<string, bigint>;
  logId: string | undefined;
}

/** The later of two offsets. */
const later = (a: bigint, b: bigint): bigint => (a > b ? a : b);

/**
 * A replay under way: the partition, its offset stored at `stored`, was sent back to `from`, to apply again what lies
 * up to `to`. It holds while the stored offset is from `stored` to before `to`.
 */
interface Replay {
  stored: bigint;
  from: bigint;
  to: bigint;
  /** Messages produced before this (Kafka's timestamp, epoch ms) are not applied again. */
  cutoff: number;
}

/**
 * A partition whose message at the stored offset was found to be another (a log created again and grown past it),
 * sent back to its log's start at `from`; its offset is forgotten with the first batch from there (one that starts at
 * or before `seen`, where the other message was found: later ones were fetched before the seek).
 */
interface Rewrite {
  stored: bigint;
  digest: string;
  from: bigint;
  seen: bigint;
  restart: LogRestart;
}

/** What the checks of stored offsets ask of Kafka and tell of what they found. */
export interface StoredOffsetHooks {
  /** Where a partition's log ends now (Kafka's high watermark). */
  partitionEnd?: (topic: string, partition: number) => Promise<bigint>;
  /** Told of every partition whose log started over. */
  onLogRestart?: (r: LogRestart) => void;
  /**
   * The identity of the log the consumer reads now (its Kafka cluster's id), stored with each offset; undefined when
   * not known. Without it, a log that started over is seen only by its end (see storedOffsets).
   */
  logId?: () => Promise<string | undefined>;
  /** Told of messages the group never applied and will not be given (see LostMessages). */
  onLost?: (e: LostMessages) => void;
  /**
   * Where a partition's log starts now (the oldest offset Kafka holds). Without it nothing is applied again, and a log
   * found created again is fetched again from offset 0 (Kafka gives a group reading from the beginning its log's start
   * for an offset it no longer holds).
   */
  partitionStart?: (topic: string, partition: number) => Promise<bigint>;
  /**
   * How old (from Kafka's timestamp) a message skipped over may be and still be applied again (0: none are; they are
   * reported lost). Only for a consumer that can seek (not the retry topics' consumer).
   */
  replayMaxAgeMs?: number;
  /** Told of messages applied again (see ReplayedMessages). */
  onReplayed?: (e: ReplayedMessages) => void;
  /**
   * How often each partition's log is checked at its stored offset while the consumer runs (see sendBackToCheck), in
   * ms; 0 or unset: only after each join (recheckLogs).
   */
  logCheckEveryMs?: number;
}

/**
 * What a consumer group's stored offsets say of the batches it fetched, inside the transaction that applies them: the
 * offsets locked, a log that started over forgotten, messages Kafka skipped over sent back for or reported, and which
 * messages of a batch to apply. KafkaBatchApplier's first step in every transaction.
 */
export class StoredOffsetChecks {
  /** Gaps already reported (a batch whose transaction failed is looked at again one message at a time). */
  private readonly gapsReported = new Set<string>();
  /** Per partition (slot), the replay it was sent back for. */
  private readonly replays = new Map<string, Replay>();
  /** Per partition (slot), the start of its log it was sent back to because the log was created again. */
  private readonly rewrites = new Map<string, Rewrite>();
  /** Per partition (slot), when its log was last checked at the stored offset (see sendBackToCheck). */
  private readonly checkedAt = new Map<string, number>();
  /** Per partition (slot), the stored offset it was sent back to, to read the message there. */
  private readonly sentToCheck = new Map<string, bigint>();

  constructor(
    private readonly db: Database,
    private readonly groupId: string,
    private readonly log: Logger,
    private readonly hooks: StoredOffsetHooks = {},
  ) {}

  /**
   * lockStoredOffsets, and two checks of each batch against the stored offset. (1) A partition whose log started
   * over (the topic deleted and created again, a Kafka cluster rebuilt empty, data lost): its new messages reuse
   * offsets at or below the one stored, and would be taken for messages already applied and skipped. Its stored
   * offset is forgotten instead, so its messages are applied from the new log's start; every handler is idempotent by
   * event id. Three signs: the offset was stored on another Kafka cluster (its id is stored with it), which holds
   * however far the new log has grown; the partition's log ends at or before the stored offset, for a topic created
   * again on the same cluster; or, for such a topic whose new log grew past the stored offset, the message at that
   * offset is not the one applied there (its digest is stored with it; see rewrittenLogs). A batch fetched before a
   * rebalance can be older than the stored offset its successor wrote since, so for the second the log's end is asked
   * of Kafka again before anything is forgotten.
   * (2) A batch that starts past the message after the stored offset: the messages between were never applied here
   * and Kafka will not give them (offsets in these topics are consecutive: no compaction, no transactions). Its
   * retention removed them, or the database was restored to a time before the group's position in Kafka. Those Kafka
   * still holds are applied again when young enough (replayMaxAgeMs): SeekBack is thrown and nothing is stored. The
   * rest are reported.
   * (3) A batch that goes on from the message after the stored offset, once after each join and every
   * logCheckEveryMs: sent back to the stored offset to read the message there (sendBackToCheck), unless
   * `sendBackToCheck` is false.
   */
  async storedOffsets(parts: readonly PartitionBatch[], o: { sendBackToCheck?: boolean } = {}): Promise<Stored> {
    const logId = await this.hooks.logId?.();
    const rows = await lockStoredOffsets(this.db, this.groupId, parts);
    const stored = new Map([...rows].map(([key, r]) => [key, r.seq]));
    const moved = fromOtherLog(parts, rows, logId);
    if (moved.length) {
      await this.forget(moved.map((p) => ({
        group: this.groupId, topic: p.topic, partition: p.partition, storedOffset: String(stored.get(slot(p))),
        logEnd: p.highWatermark ?? null, cluster: { stored: rows.get(slot(p))!.logId!, now: logId! },
      })), stored);
    }
    const suspects = pastLogEnd(parts.filter((p) => !moved.includes(p)), stored);
    if (suspects.length) await this.forgetRestartedLogs(suspects, stored);
    const seeks = await this.rewrittenLogs(parts, rows, stored);
    const toCheck: SeekBack['to'][number][] = [];
    for (const p of parts) {
      if (seeks.some((s) => slot(s) === slot(p))) continue;
      const check = o.sendBackToCheck === false ? null : this.sendBackToCheck(p, rows.get(slot(p)), stored.get(slot(p))!);
      if (check) {
        toCheck.push(check);
        continue;
      }
      const from = await this.replayFrom(p, stored.get(slot(p))!);
      if (from === null) this.reportGap(p, stored.get(slot(p))!);
      else seeks.push({ topic: p.topic, partition: p.partition, offset: String(from) });
    }
    if (seeks.length || toCheck.length) throw new SeekBack([...seeks, ...toCheck], !seeks.length);
    return { offsets: stored, logId };
  }

  /** Every partition's log is checked again at its next batch (see sendBackToCheck): the consumer joined its group. */
  recheckLogs(): void {
    this.checkedAt.clear();
    this.sentToCheck.clear();
  }

  /**
   * The third sign (rewrittenLogs) needs the message at the stored offset, and a consumer that goes on from where it
   * was reading never fetches it again. So it is fetched again once after each join (kafkajs resumes from Kafka's
   * committed offset, the one after it) and every logCheckEveryMs while the consumer runs: the partition is sent back
   * to its stored offset (a quiet SeekBack, before anything of the batch is applied), and the batch from there shows
   * whether that is still the message applied. That covers the logs rewritten under a consumer that kept its position:
   * a topic deleted and created again while a member was held up (its database down) or between two of its fetches,
   * and an unclean leader election that cut a log back and wrote other messages there. Kafka's own consumers see both
   * by the topic's id or the leader's epoch; kafkajs reads neither. Returns where to send the partition, or null.
   */
  private sendBackToCheck(p: PartitionBatch, row: StoredOffset | undefined, seq: bigint): SeekBack['to'][number] | null {
    const key = slot(p);
    const every = this.hooks.logCheckEveryMs ?? 0;
    const checked = this.checkedAt.get(key);
    if (!p.messages.length || (checked !== undefined && (every <= 0 || Date.now() - checked < every))) return null;
    const first = BigInt(p.messages[0].offset);
    const last = BigInt(p.messages[p.messages.length - 1].offset);
    // a batch from before the stored offset (fetched before another member's progress): the check is still to come
    if (row && seq >= 0n && last < seq) return null;
    // Checked now or never possible: no digest of the stored offset on record (see digestOf); the batch holds the
    // message there (rewrittenLogs compared it); it starts past the message after it (the gap checks take it); or it
    // was asked for and did not come (Kafka no longer holds it: a seek past a log's start gives the start).
    const digest = row && digestOf(row);
    if (!digest || seq < 0n || seq !== row.seq || first !== seq + 1n || this.sentToCheck.get(key) === seq) {
      if (this.checkedAt.size >= 1_000) this.checkedAt.clear();
      this.checkedAt.set(key, Date.now());
      this.sentToCheck.delete(key);
      return null;
    }
    if (this.sentToCheck.size >= 1_000) this.sentToCheck.clear();
    this.sentToCheck.set(key, seq);
    return { topic: p.topic, partition: p.partition, offset: String(seq) };
  }

  /**
   * Where to fetch a partition again from, when its batch skips messages Kafka still holds and replays are on; null
   * to go on with the batch. A partition already sent back to the start of what Kafka holds goes on from there (what
   * its retention removed before is reported by reportGap). A partition with no stored offset counts too: a database
   * restored to before the group's first message there has none, while Kafka has the group well past its start (a
   * group new to a partition starts at the log's start, so its first batch shows no gap).
   */
  private async replayFrom(b: PartitionBatch, stored: bigint): Promise<bigint | null> {
    const maxAge = this.hooks.replayMaxAgeMs ?? 0;
    if (!b.messages.length || !maxAge || !this.hooks.partitionStart) return null;
    const first = BigInt(b.messages[0].offset);
    if (first <= stored + 1n) return null;
    const key = slot(b);
    const under = this.replayOf(b, stored);
    // the first batch from a start past the stored offset goes on; a batch fetched before the seek is sent back again
    if (under) return first === under.from ? null : later(stored + 1n, under.from);
    const start = await this.logStart(b, 'the messages skipped over are not applied again');
    if (start === null || start >= first) return null;
    const from = later(start, stored + 1n);
    if (this.replays.size >= 1_000) this.replays.clear();
    this.replays.set(key, { stored, from, to: first - 1n, cutoff: Date.now() - maxAge });
    this.log.warn({ topic: b.topic, partition: b.partition, storedOffset: String(stored), from: String(from), to: String(first - 1n), maxAgeMs: maxAge },
      'messages of this partition were never applied here and Kafka still holds them: the database is older than the group\'s position '
      + 'in Kafka (restored, or a failover to a replica that lacked the last commits); fetching them again to apply those young enough');
    return from;
  }

  /** The replay under way on a partition at this stored offset, if any. */
  private replayOf(p: { topic: string; partition: number }, stored: bigint): Replay | undefined {
    const r = this.replays.get(slot(p));
    return r && stored >= r.stored && stored < r.to ? r : undefined;
  }

  /**
   * The messages of a batch to apply: those past the stored offset, less those of a replay under way that are older
   * than its age limit; the ones a replay applies again are marked `replayed`. What a replay applied and skipped is
   * told once the transaction has committed.
   */
  toApply(b: PartitionBatch, stored: bigint): InboundMessage[] {
    const r = this.replayOf(b, stored);
    const fresh = b.messages.filter((m) => BigInt(m.offset) > stored);
    if (!r) return fresh;
    const applied: InboundMessage[] = [];
    const tooOld: InboundMessage[] = [];
    const out = fresh.flatMap((m) => {
      if (BigInt(m.offset) > r.to) return [m];
      if (m.timestamp < r.cutoff) {
        tooOld.push(m);
        return [];
      }
      applied.push(m);
      return [{ ...m, replayed: true as const }];
    });
    this.db.afterCommit(() => this.settleReplay(b, r, applied, tooOld));
    return out;
  }

  /** After a commit: tells what a replay applied and skipped, and ends it once it reached its last message. */
  private settleReplay(b: PartitionBatch, r: Replay, applied: InboundMessage[], tooOld: InboundMessage[]): void {
    const base = { group: this.groupId, topic: b.topic, partition: b.partition };
    if (tooOld.length) {
      const e: LostMessages = { ...base, from: tooOld[0].offset, count: tooOld.length };
      this.log.error({ ...e, maxAgeMs: this.hooks.replayMaxAgeMs }, 'messages skipped over are older than the replay limit: not applied again; they are lost to the record');
      this.hooks.onLost?.(e);
    }
    if (applied.length) {
      const e: ReplayedMessages = { ...base, from: applied[0].offset, count: applied.length };
      this.log.warn(e, 'messages the database had lost applied again');
      this.hooks.onReplayed?.(e);
    }
    const last = b.messages[b.messages.length - 1];
    if (last && BigInt(last.offset) >= r.to && this.replays.get(slot(b)) === r) this.replays.delete(slot(b));
  }

  private reportGap(b: PartitionBatch, stored: bigint): void {
    if (stored < 0n || !b.messages.length) return;
    const first = BigInt(b.messages[0].offset);
    if (first <= stored + 1n) return;
    const key = `${slot(b)}/${stored}`;
    if (this.gapsReported.has(key)) return;
    if (this.gapsReported.size >= 1_000) this.gapsReported.clear();
    this.gapsReported.add(key);
    const e: LostMessages = { group: this.groupId, topic: b.topic, partition: b.partition, from: String(stored + 1n), count: Number(first - stored - 1n) };
    this.log.error(e, 'messages of this partition were never applied and Kafka will not give them: its retention removed them '
      + '(shorter than the group was held up), or the database was restored to before the group\'s position in Kafka; they are lost');
    this.hooks.onLost?.(e);
  }

  /**
   * The third sign of a log that started over: the batch holds the message at the stored offset, and it is not the one
   * applied there (a topic deleted and created again on this cluster, whose new log grew past the stored offset before
   * the group read it; Kafka drops a deleted topic's committed offsets, so the group reads the new log from its start
   * and comes by that offset). The batches before it were taken for messages already applied, so unless this batch
   * starts at the log's start, the partition is sent back there (SeekBack) and its offset forgotten with the first
   * batch from there; otherwise at once. Returns the partitions to send back.
   */
  private async rewrittenLogs(
    parts: readonly PartitionBatch[], rows: ReadonlyMap<string, StoredOffset>, stored: Map<string, bigint>,
  ): Promise<SeekBack['to'][number][]> {
    const seeks: SeekBack['to'][number][] = [];
    const restarts: LogRestart[] = [];
    for (const p of parts) {
      const key = slot(p);
      const row = rows.get(key);
      const seq = stored.get(key)!;
      const digest = row && digestOf(row);
      // no digest of the stored offset on record (see digestOf), or already forgotten above
      if (!row || !digest || seq < 0n || seq !== row.seq || !p.messages.length) continue;
      const first = BigInt(p.messages[0].offset);
      const sent = this.rewrites.get(key);
      if (sent && sent.stored === seq && sent.digest === digest) {
        if (first > sent.seen) {
          seeks.push({ topic: p.topic, partition: p.partition, offset: String(sent.from) });
        } else {
          restarts.push(sent.restart);
          this.db.afterCommit(() => this.rewrites.get(key) === sent && this.rewrites.delete(key));
        }
        continue;
      }
      const at = p.messages[Number(seq - first)];
      if (!at || at.offset !== String(seq)) continue;
      const now = messageDigest(at);
      if (now === digest) continue;
      const restart: LogRestart = {
        group: this.groupId, topic: p.topic, partition: p.partition, storedOffset: String(seq), logEnd: p.highWatermark ?? null,
        message: { stored: digest, now },
      };
      const from = first === 0n ? 0n : (await this.logStart(p, 'fetching it from offset 0')) ?? 0n;
      if (first <= from) {
        restarts.push(restart);
        continue;
      }
      if (this.rewrites.size >= 1_000) this.rewrites.clear();
      this.rewrites.set(key, { stored: seq, digest, from, seen: first, restart });
      this.log.warn({ ...restart, from: String(from) },
        'the message at the offset stored for this partition is not the one applied there: its log was created again; fetching it again from its start');
      seeks.push({ topic: p.topic, partition: p.partition, offset: String(from) });
    }
    await this.forget(restarts, stored);
    return seeks;
  }

  /**
   * Where a partition's log starts, as Kafka says; null when it cannot (or there is no one to ask), with a warning
   * saying what follows (`ifUnknown`). A seek to offset 0 is moved to the log's start by Kafka.
   */
  private async logStart(p: { topic: string; partition: number }, ifUnknown: string): Promise<bigint | null> {
    if (!this.hooks.partitionStart) return null;
    return this.hooks.partitionStart(p.topic, p.partition).catch((err) => {
      this.log.warn({ err, topic: p.topic, partition: p.partition }, `Kafka did not say where the partition starts; ${ifUnknown}`);
      return null;
    });
  }

  private async forgetRestartedLogs(suspects: readonly FetchedPartition[], stored: Map<string, bigint>): Promise<void> {
    const restarts: LogRestart[] = [];
    for (const p of suspects) {
      const fetched = BigInt(p.highWatermark!);
      const end = this.hooks.partitionEnd ? await this.hooks.partitionEnd(p.topic, p.partition).catch(() => fetched) : fetched;
      const was = stored.get(slot(p))!;
      if (end > was) continue;
      restarts.push({ group: this.groupId, topic: p.topic, partition: p.partition, storedOffset: String(was), logEnd: String(end) });
    }
    await this.forget(restarts, stored);
  }

  /** Forgets the stored offsets of partitions whose log started over, so that they are applied from its start. */
  private async forget(restarts: readonly LogRestart[], stored: Map<string, bigint>): Promise<void> {
    if (!restarts.length) return;
    await forgetStoredOffsets(this.db, this.groupId, restarts);
    for (const r of restarts) {
      const why = r.cluster
        ? 'the offset stored for this partition was taken on another Kafka cluster: Kafka was rebuilt or replaced; '
          + 'applying its messages from the start of this cluster\'s log (messages the old cluster held and nobody had applied are gone)'
        : r.message
          ? 'the message at the offset stored for this partition is not the one applied there: the topic was created again; '
            + 'applying its messages from the start of its new log (messages the old log held and nobody had applied are gone)'
          : 'the partition\'s log ends before the offset stored for it: the topic was created again or Kafka lost its data; '
            + 'applying its messages from the start of its new log (messages the old log held and nobody had applied are gone)';
      this.log.error(r, why);
      stored.set(slot(r), -1n);
      this.hooks.onLogRestart?.(r);
    }
  }
}
