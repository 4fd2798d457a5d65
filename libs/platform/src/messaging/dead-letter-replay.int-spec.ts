import { PermanentMessageError } from '@linan/contracts';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '../../../testing/src/services/postgres';
import { startKafkaMock, type KafkaMock } from '../../../testing/src/services/kafka';
import { eventually, openTestDatabase, silentLogger } from '../../../testing/src/test-platform';
import type { OpenedDatabase } from '../persistence/open-database';
import { replayDeadLetters } from './dead-letter-replay';
import { KafkaBus } from './kafka-bus';
import type { ConsumerHandle, InboundMessage } from './message-bus';

const available = postgresAvailable();

describe('replayDeadLetters (Kafka-protocol mock cluster and PostgreSQL)', () => {
  let kafka: KafkaMock;
  let testDb: TestDatabase;
  let opened: OpenedDatabase;
  let bus: KafkaBus;
  let handle: ConsumerHandle;

  beforeAll(async () => {
    if (!(await available)) throw new Error('PostgreSQL at 127.0.0.1:5432 (or TEST_POSTGRES_URL) is needed for the dead-letter replay tests');
    [kafka, testDb] = await Promise.all([startKafkaMock(), createTestDatabase()]);
    opened = await openTestDatabase({ DATABASE_URL: testDb.url });
  });

  afterAll(async () => {
    await handle?.stop();
    await bus?.close();
    await opened?.close();
    await testDb?.drop();
    await kafka?.stop();
  });

  it('lists a group\'s dead letters, sends them back once the cause is fixed, applied once, and never twice', async () => {
    const topic = 'test.replay.v1';
    bus = new KafkaBus(opened.database, {
      brokers: [kafka.brokers], clientId: 'test', maxWaitMs: 20, lingerMs: 0, outboxSweepMs: 200, retry: { maxAttempts: 3, baseDelayMs: 20 }, joinTimeoutMs: 20_000,
    }, silentLogger);
    await bus.connect();
    // the household of "late" is registered only after its event came: until then the event can never be applied
    let registered = false;
    const applied: InboundMessage[] = [];
    const dead: string[] = [];
    handle = await bus.subscribe({ groupId: 'g-replay', topics: [topic], handle: async (m) => {
      if (m.value === 'late' && !registered) {
        dead.push(m.value);
        throw new PermanentMessageError('unknown_household', 'household h-late does not exist');
      }
      applied.push(m);
    } });
    await bus.publish(topic, [{ key: 'h-late', value: 'late', headers: { eventId: 'e-late' } }, { key: 'h-ok', value: 'fine', headers: { eventId: 'e-ok' } }]);
    await eventually(() => dead.length === 1 && applied.length === 1, 15_000, 'one applied, one dead-lettered');

    // a dry run lists it and changes nothing
    const listed = await eventually(async () => {
      const l = await replayDeadLetters({ brokers: [kafka.brokers], topic, group: 'g-replay', dryRun: true });
      return l.length === 1 && l;
    }, 15_000, 'the dead letter listed');
    expect(listed[0]).toMatchObject({ key: 'h-late', reason: 'unknown_household', error: 'household h-late does not exist', eventId: 'e-late', source: expect.stringMatching(/^test\.replay\.v1\/\d+@\d+$/) });

    registered = true;
    const replayed = await replayDeadLetters({ brokers: [kafka.brokers], topic, group: 'g-replay' });
    expect(replayed.map((l) => l.eventId)).toEqual(['e-late']);
    await eventually(() => applied.some((m) => m.value === 'late'), 15_000, 'the replayed event applied');
    const back = applied.find((m) => m.value === 'late')!;
    expect(back.headers).toMatchObject({ eventId: 'e-late', 'replayed-from': expect.stringMatching(/^test\.replay\.v1\.g-replay\.dlq\/\d+@\d+$/) });
    expect(Object.keys(back.headers).filter((k) => k.startsWith('dlq-'))).toEqual([]);

    // replayed once: a second run finds nothing left
    expect(await replayDeadLetters({ brokers: [kafka.brokers], topic, group: 'g-replay' })).toEqual([]);
    expect(applied.filter((m) => m.value === 'late')).toHaveLength(1);
  }, 90_000);
});
