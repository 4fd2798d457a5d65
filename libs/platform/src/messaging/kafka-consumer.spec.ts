import type { Kafka } from 'kafkajs';
import { silentLogger } from '@linan/testing';
import type { Database } from '../persistence/database';
import { KafkaConsumer } from './kafka-consumer';
import { LIVE_VIEW_GATHER_MS, type Subscription } from './message-bus';

/** The options each kafkajs consumer is created with (no broker needed: nothing is started). */
function consumerOptions(sub: Subscription, maxWaitMs: number): { groupId: string; maxWaitTimeInMs?: number } {
  let seen: { groupId: string; maxWaitTimeInMs?: number } | undefined;
  const kafka = {
    consumer: (opts: { groupId: string; maxWaitTimeInMs?: number }) => {
      seen = opts;
      return { on: () => () => undefined, events: {} };
    },
  } as unknown as Kafka;
  new KafkaConsumer(kafka, sub, {} as Database, { maxWaitMs, retry: { maxAttempts: 3, baseDelayMs: 10 } }, silentLogger, async () => undefined);
  return seen!;
}

describe('KafkaConsumer fetch wait', () => {
  const handle = async () => undefined;

  it('fetches with KAFKA_MAX_WAIT_MS on the alarm path', () => {
    expect(consumerOptions({ groupId: 'triage', topics: ['t'], handle }, 5).maxWaitTimeInMs).toBe(5);
  });

  it('lets a live view\'s fetch wait LIVE_VIEW_GATHER_MS, or longer when KAFKA_MAX_WAIT_MS is longer', () => {
    expect(consumerOptions({ groupId: 'live', topics: ['t'], handle, ephemeral: true }, 5).maxWaitTimeInMs).toBe(LIVE_VIEW_GATHER_MS);
    expect(consumerOptions({ groupId: 'live', topics: ['t'], handle, ephemeral: true }, 200).maxWaitTimeInMs).toBe(200);
  });
});
