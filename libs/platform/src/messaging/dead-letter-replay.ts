import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import { deadLetterTopic } from '@linan/contracts';
import { withTimeout } from '../time/with-timeout';
import { headersOf, withoutRetryHeaders } from './kafka-records';

export interface ReplayOptions {
  brokers: readonly string[];
  /** The topic whose dead letters are replayed, e.g. gateway.device-events.v1. */
  topic: string;
  /** The consumer group that dead-lettered them, e.g. triage. */
  group: string;
  /** List what would be replayed, and replay nothing (and remember nothing). */
  dryRun?: boolean;
  /** Gives up after this long (Kafka not answering). */
  timeoutMs?: number;
}

export interface DeadLetterSeen {
  partition: number;
  offset: string;
  key: string;
  reason: string;
  error: string;
  /** Where the message was when it failed: `topic/partition@offset`. */
  source: string;
  eventId: string | null;
}

const DLQ_HEADER = /^dlq-/;

/** The headers a dead letter goes back with: its own, without the dead-letter and retry bookkeeping, plus where it came from. */
function replayHeaders(headers: Record<string, string>, from: string): Record<string, string> {
  const own = Object.fromEntries(Object.entries(withoutRetryHeaders(headers)).filter(([k]) => !DLQ_HEADER.test(k)));
  return { ...own, 'replayed-from': from };
}

/**
 * Sends a group's dead letters back to the topic they came from, once the cause is fixed (a household registered
 * late, a bug deployed away): the consumers take them as new deliveries, and being idempotent by event id, apply each
 * at most once. Reads the dead-letter topic up to its end as it was at the start, in order per partition; each letter
 * is replayed once, as the replay's own consumer group (`<dead-letter topic>.replay`) commits after each one is back on
 * its topic (acks=all). With `dryRun`, lists them and commits nothing.
 */
export async function replayDeadLetters(o: ReplayOptions): Promise<DeadLetterSeen[]> {
  const dlq = deadLetterTopic(o.topic, o.group);
  const kafka = new Kafka({ clientId: 'linan-dlq-replay', brokers: [...o.brokers], logLevel: logLevel.NOTHING, retry: { retries: 3 } });
  const admin = kafka.admin();
  const replayGroup = `${dlq}.replay`;
  let consumer: Consumer | null = null;
  let producer: Producer | null = null;
  try {
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(dlq);
    const [{ partitions: committed }] = await admin.fetchOffsets({ groupId: replayGroup, topics: [dlq] });
    const next = new Map(committed.map((p) => [p.partition, BigInt(p.offset)]));
    // partition → the offset to read up to (exclusive), for partitions with letters not yet replayed
    const todo = new Map(ends
      .map((e) => ({ partition: e.partition, start: [next.get(e.partition) ?? -1n, BigInt(e.low)].reduce((a, b) => (a > b ? a : b)), end: BigInt(e.high) }))
      .filter((p) => p.start < p.end).map((p) => [p.partition, p.end]));
    if (!todo.size) return [];
    producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    consumer = kafka.consumer({ groupId: replayGroup, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topics: [dlq], fromBeginning: true });
    const seen: DeadLetterSeen[] = [];
    const c = consumer;
    const p = producer;
    await withTimeout(new Promise<void>((done, fail) => {
      c.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          const end = todo.get(partition);
          if (end === undefined || BigInt(message.offset) >= end) return;
          const headers = headersOf(message.headers);
          const letter: DeadLetterSeen = {
            partition, offset: message.offset, key: message.key?.toString() ?? '', reason: headers['dlq-reason'] ?? '',
            error: headers['dlq-error'] ?? '', source: headers['dlq-source'] ?? '', eventId: headers.eventId ?? null,
          };
          if (!o.dryRun) {
            await p.send({ topic: o.topic, acks: -1, messages: [{ key: letter.key, value: message.value, headers: replayHeaders(headers, `${dlq}/${partition}@${message.offset}`) }] });
            await c.commitOffsets([{ topic: dlq, partition, offset: String(BigInt(message.offset) + 1n) }]);
          }
          seen.push(letter);
          if (BigInt(message.offset) + 1n >= end) todo.delete(partition);
          if (!todo.size) done();
        },
      }).catch(fail);
    }), o.timeoutMs ?? 60_000, `the dead letters of ${dlq} were not all read in time`);
    return seen.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
  } finally {
    await consumer?.disconnect().catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
}
