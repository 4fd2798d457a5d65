import { createHash } from 'node:crypto';
import type { Database } from '../persistence/database';

/** A partition of a topic as fetched: with its log's end then (Kafka's high watermark), when known. */
export interface FetchedPartition {
  topic: string;
  partition: number;
  highWatermark?: string;
}

/** A partition of a topic, as a map key. */
export const slot = (p: { topic: string; partition: number }) => `${p.topic}/${p.partition}`;

/**
 * A group's stored offset for a partition, the log it was taken from (a Kafka cluster's id; null if unknown), and the
 * digest of the message at that offset (see messageDigest; null for offsets stored before digests were kept).
 */
export interface StoredOffset {
  seq: bigint;
  logId: string | null;
  digest: string | null;
}

/**
 * What tells one message from another at the same offset: its offset, its Kafka timestamp and a hash of its key and
 * value. Stored with the offset of the last message applied, it shows whether the log read now still holds that
 * message there. The offset in it tells whether it is the digest of the offset stored with it (see digestOf).
 */
export function messageDigest(m: { offset: string; key: string; value: string; timestamp: number }): string {
  return `${m.offset}/${m.timestamp}/${createHash('sha1').update(m.key).update('\0').update(m.value).digest('base64url').slice(0, 16)}`;
}

/**
 * The digest on record of the message at the stored offset; null when there is none, or when the offset moved on
 * without it: stored by an app older than digests (during a rolling upgrade) or set by hand.
 */
export function digestOf(s: StoredOffset): string | null {
  return s.digest?.startsWith(`${s.seq}/`) ? s.digest : null;
}

/**
 * Locks the partitions' offset rows of a consumer group (creating missing ones) and returns, per partition, the
 * offset stored with the last effects: messages at or below it were already applied (by this member before a crash,
 * or by another before a rebalance). Inside the transaction that applies the next messages.
 */
export async function lockStoredOffsets(
  db: Database, groupId: string, parts: readonly { topic: string; partition: number }[],
): Promise<Map<string, StoredOffset>> {
  const rows = await db.query<{ topic: string; partition: number; seq: string; log_id: string | null; last_digest: string | null }>(
    `INSERT INTO bus_offsets (group_id, topic, partition, seq) SELECT $1, t, p, -1 FROM unnest($2::text[], $3::int[]) AS v (t, p)
     ON CONFLICT (group_id, topic, partition) DO UPDATE SET seq = bus_offsets.seq RETURNING topic, partition, seq, log_id, last_digest`,
    [groupId, parts.map((b) => b.topic), parts.map((b) => b.partition)],
  );
  return new Map(rows.map((r) => [
    slot({ topic: r.topic, partition: Number(r.partition) }), { seq: BigInt(r.seq), logId: r.log_id, digest: r.last_digest },
  ]));
}

/**
 * Stores each batch's last offset with that message's digest, and the log it was taken from when known (`logId`;
 * otherwise the one on record stays). Never backwards: a member that lost a partition during a rebalance must not undo
 * its successor's progress. A held write (Database.write): it goes with the transaction's other trailing writes.
 */
export function storeOffsets(
  db: Database, groupId: string,
  batches: readonly { topic: string; partition: number; messages: readonly { offset: string; key: string; value: string; timestamp: number }[] }[],
  logId?: string,
): Promise<void> {
  const last = batches.map((b) => b.messages[b.messages.length - 1]);
  return db.write(
    `UPDATE bus_offsets AS o SET seq = GREATEST(o.seq, v.s), log_id = COALESCE($5::text, o.log_id),
       last_digest = CASE WHEN v.s >= o.seq THEN v.d ELSE o.last_digest END
     FROM unnest($2::text[], $3::int[], $4::bigint[], $6::text[]) AS v (t, p, s, d)
     WHERE o.group_id = $1 AND o.topic = v.t AND o.partition = v.p`,
    [groupId, batches.map((b) => b.topic), batches.map((b) => b.partition), last.map((m) => m.offset), logId ?? null, last.map(messageDigest)],
  );
}

/**
 * The partitions whose stored offset is at or past the end their log had when fetched. Offsets there have been
 * given again: the log started over (the topic deleted and created again, a cluster rebuilt empty, data lost).
 */
export function pastLogEnd<P extends FetchedPartition>(parts: readonly P[], stored: ReadonlyMap<string, bigint>): P[] {
  return parts.filter((p) => p.highWatermark !== undefined && BigInt(p.highWatermark) <= (stored.get(slot(p)) ?? -1n));
}

/**
 * The partitions whose offset was stored from another log than the one read now (`logId`: another Kafka cluster). An
 * offset stored before logs were named (null) is taken to be from this one.
 */
export function fromOtherLog<P extends { topic: string; partition: number }>(
  parts: readonly P[], stored: ReadonlyMap<string, StoredOffset>, logId: string | undefined,
): P[] {
  if (logId === undefined) return [];
  return parts.filter((p) => {
    const s = stored.get(slot(p));
    return s !== undefined && s.seq >= 0n && s.logId !== null && s.logId !== logId;
  });
}

/** Forgets the stored offset of these partitions (their rows locked by lockStoredOffsets in the same transaction). */
export async function forgetStoredOffsets(db: Database, groupId: string, parts: readonly { topic: string; partition: number }[]): Promise<void> {
  await db.query(
    `UPDATE bus_offsets AS o SET seq = -1, log_id = NULL, last_digest = NULL FROM unnest($2::text[], $3::int[]) AS v (t, p)
     WHERE o.group_id = $1 AND o.topic = v.t AND o.partition = v.p`,
    [groupId, parts.map((p) => p.topic), parts.map((p) => p.partition)],
  );
}
