import { createTestDatabase, postgresAvailable, type TestDatabase } from '../../../testing/src/services/postgres';
import { startKafkaMock, type KafkaMock } from '../../../testing/src/services/kafka';
import { eventually, openTestDatabase, silentLogger } from '../../../testing/src/test-platform';
import type { OpenedDatabase } from '../persistence/open-database';
import type { LostMessages, LogRestart, ReplayedMessages } from './kafka-batch-applier';
import { KafkaBus, type KafkaBusOptions } from './kafka-bus';
import type { ConsumerHandle } from './message-bus';

const available = postgresAvailable();

/**
 * The offsets that count are stored in PostgreSQL with the effects, and Kafka's log may not agree with them. When a
 * topic's log starts over (the topic deleted and created again, a Kafka cluster rebuilt empty, data lost), its new
 * messages reuse offsets at or below the stored one: taken for messages already applied, they would be skipped,
 * alarms among them. When Kafka's retention removed messages the group had not applied, the next batch starts past
 * the stored offset: those are lost, and must be reported.
 */
describe('KafkaBus offsets stored in PostgreSQL against Kafka\'s log (Kafka-protocol mock cluster and PostgreSQL)', () => {
  let testDb: TestDatabase;
  let opened: OpenedDatabase;
  const mocks: KafkaMock[] = [];
  const buses: KafkaBus[] = [];
  const handles: ConsumerHandle[] = [];
  const topic = 'test.log-restart.v1';
  const group = 'restart-group';

  beforeAll(async () => {
    if (!(await available)) throw new Error('PostgreSQL at 127.0.0.1:5432 (or TEST_POSTGRES_URL) is needed for the Kafka bus tests');
    testDb = await createTestDatabase();
    opened = await openTestDatabase({ DATABASE_URL: testDb.url });
  });

  afterEach(async () => {
    await Promise.all(handles.splice(0).map((h) => h.stop()));
    await Promise.all(buses.splice(0).map((b) => b.close()));
  });

  afterAll(async () => {
    await opened?.close();
    await testDb?.drop();
    await Promise.all(mocks.map((m) => m.stop()));
  });

  const restarts: LogRestart[] = [];

  async function busOn(mock: KafkaMock, more: Partial<KafkaBusOptions> = {}): Promise<KafkaBus> {
    const b = new KafkaBus(opened.database, {
      brokers: [mock.brokers], clientId: 'test', maxWaitMs: 20, lingerMs: 0, outboxSweepMs: 200, retry: { maxAttempts: 3, baseDelayMs: 20 },
      joinTimeoutMs: 20_000, onLogRestart: (r) => void restarts.push(r), ...more,
    }, silentLogger);
    await b.connect();
    buses.push(b);
    return b;
  }

  /** The offsets stored for the group's partitions that have any. */
  const storedOffsets = async () => (await opened.database.query<{ seq: string }>(
    'SELECT seq FROM bus_offsets WHERE group_id = $1 AND seq >= 0', [group])).map((r) => Number(r.seq));

  async function consume(b: KafkaBus, seen: string[]): Promise<void> {
    handles.push(await b.subscribe({ groupId: group, topics: [topic], handle: async (m) => void seen.push(m.value) }));
  }

  it('applies the messages of a log that started over instead of taking them for ones already applied', async () => {
    // the first life of the topic: ten messages on one key (one partition) applied, offsets 0..9 stored
    const first = await startKafkaMock();
    mocks.push(first);
    const before = await busOn(first);
    const seenBefore: string[] = [];
    await consume(before, seenBefore);
    const earlier = Array.from({ length: 10 }, (_, i) => `old-${i}`);
    for (const value of earlier) await before.publish(topic, [{ key: 'home-1', value }]);
    await eventually(() => seenBefore.length === 10, 15_000, 'the first life applied');
    // a handler runs inside the transaction that stores the offset: wait for its commit
    await eventually(async () => (await storedOffsets()).join() === '9', 10_000, 'offset 9 stored');
    expect(restarts).toEqual([]);
    await Promise.all(handles.splice(0).map((h) => h.stop()));
    await Promise.all(buses.splice(0).map((b) => b.close()));

    // the same database on a Kafka whose log is empty: its new messages are at offsets 0, 1, 2
    const second = await startKafkaMock();
    mocks.push(second);
    const after = await busOn(second);
    const seenAfter: string[] = [];
    await consume(after, seenAfter);
    await after.publish(topic, [{ key: 'home-1', value: 'new-0' }, { key: 'home-1', value: 'new-1' }, { key: 'home-1', value: 'new-2' }]);
    await eventually(() => seenAfter.length === 3, 15_000, 'the new messages applied');
    expect(seenAfter).toEqual(['new-0', 'new-1', 'new-2']);
    // and the stored offset follows the new log
    await eventually(async () => (await storedOffsets()).join() === '2', 10_000, 'offset 2 stored');
    // told once, with where the old log had got to, where the new one ended when fetched, and the two clusters
    expect(restarts).toEqual([{
      group, topic, partition: expect.any(Number), storedOffset: '9', logEnd: expect.stringMatching(/^[123]$/),
      cluster: { stored: expect.stringMatching(/^mockCluster/), now: expect.stringMatching(/^mockCluster/) },
    }]);
    expect(restarts[0].cluster!.stored).not.toBe(restarts[0].cluster!.now);
  }, 60_000);

  /**
   * A log that starts over and grows past the stored offset while its group is stopped: five messages applied on one
   * mock (offset 4 stored), then eight published to a second mock (one produce request each, or one for all) before
   * the group starts again on it. With `sameCluster` the stored offset is made to name the second mock's cluster, as
   * for a topic deleted and created again on the same cluster (the mock cannot delete a topic). Returns the offset rows
   * stored after each life, and what was published and applied in the second.
   */
  async function grownWhileStopped(name: string, o: { sameCluster: boolean; together: boolean }) {
    const t = `test.${name}.v1`;
    const g = `${name}-group`;
    const stored = async () => (await opened.database.query<{ seq: string; log_id: string | null; last_digest: string | null }>(
      'SELECT seq, log_id, last_digest FROM bus_offsets WHERE group_id = $1 AND topic = $2 AND seq >= 0', [g, t]));
    const consumeOn = async (b: KafkaBus, seen: string[]) =>
      void handles.push(await b.subscribe({ groupId: g, topics: [t], handle: async (m) => void seen.push(m.value) }));
    const first = await startKafkaMock();
    mocks.push(first);
    const before = await busOn(first);
    await consumeOn(before, []);
    for (let i = 0; i < 5; i++) await before.publish(t, [{ key: 'home-1', value: `old-${i}` }]);
    await eventually(async () => (await stored()).map((r) => r.seq).join() === '4', 15_000, 'offset 4 stored');
    const [firstRow] = await stored();
    await Promise.all(handles.splice(0).map((h) => h.stop()));
    await Promise.all(buses.splice(0).map((b) => b.close()));
    restarts.length = 0;

    // the group stays stopped, and the gateways go on: the new log passes offset 4
    const second = await startKafkaMock();
    mocks.push(second);
    const after = await busOn(second);
    const pressed = Array.from({ length: 8 }, (_, i) => `new-${i}`);
    if (o.together) await after.publish(t, pressed.map((value) => ({ key: 'home-1', value })));
    else for (const value of pressed) await after.publish(t, [{ key: 'home-1', value }]);
    if (o.sameCluster) {
      await opened.database.query('UPDATE bus_offsets SET log_id = $3 WHERE group_id = $1 AND topic = $2', [g, t, (await after.ping()).clusterId]);
    }
    const seen: string[] = [];
    await consumeOn(after, seen);
    // by its end alone (7 is past 4) this log looks like the one the offset came from: new-0..new-4 would be skipped
    await eventually(() => seen.length >= 8, 15_000, 'all eight applied');
    await eventually(async () => (await stored()).map((r) => r.seq).join() === '7', 10_000, 'offset 7 stored');
    const [secondRow] = await stored();
    return { group: g, topic: t, firstRow, secondRow, pressed, seen };
  }

  it('applies every message of a rebuilt Kafka whose log grew past the stored offset while the group was stopped', async () => {
    const r = await grownWhileStopped('log-grown', { sameCluster: false, together: false });
    expect(r.seen).toEqual(r.pressed);
    expect(r.firstRow.log_id).toMatch(/^mockCluster/);
    expect(r.secondRow.log_id).toMatch(/^mockCluster/);
    expect(r.secondRow.log_id).not.toBe(r.firstRow.log_id);
    expect(restarts).toEqual([{
      group: r.group, topic: r.topic, partition: expect.any(Number), storedOffset: '4', logEnd: '8',
      cluster: { stored: r.firstRow.log_id, now: r.secondRow.log_id },
    }]);
  }, 60_000);

  it.each([
    ['one produce request each (the mock gives one per fetch: the batches before offset 4 come first)', 'apart', false],
    ['one produce request (the first batch holds them all)', 'together', true],
  ])('applies every message of a topic created again on the same cluster whose log grew past the stored offset while the group was stopped: %s', async (_, name, together) => {
    const r = await grownWhileStopped(`topic-again-${name}`, { sameCluster: true, together });
    // its cluster and its end tell nothing: the message at offset 4 does
    expect(r.seen).toEqual(r.pressed);
    expect(r.firstRow.last_digest).toMatch(/^4\/\d+\/[\w-]{16}$/);
    expect(restarts).toEqual([{
      group: r.group, topic: r.topic, partition: expect.any(Number), storedOffset: '4', logEnd: '8',
      message: { stored: r.firstRow.last_digest, now: expect.stringMatching(/^4\/\d+\//) },
    }]);
    expect(restarts[0].message!.now).not.toBe(r.firstRow.last_digest);
  }, 60_000);

  it.each([
    ['while the member keeps running (checked every logCheckEveryMs)', 'running', false],
    ['when the group joins again (Kafka resumes it after the stored offset)', 'rejoined', true],
  ])('applies again every message of a log rewritten under a group that kept its position: %s', async (_, name, rejoin) => {
    const t = `test.rewritten-${name}.v1`;
    const g = `rewritten-${name}-group`;
    const stored = async () => (await opened.database.query<{ seq: string; last_digest: string | null }>(
      'SELECT seq, last_digest FROM bus_offsets WHERE group_id = $1 AND topic = $2 AND seq >= 0', [g, t]));
    const mock = await startKafkaMock();
    mocks.push(mock);
    const b = await busOn(mock, { logCheckEveryMs: rejoin ? 600_000 : 300 });
    const seen: string[] = [];
    const consumeOn = async () => void handles.push(await b.subscribe({ groupId: g, topics: [t], handle: async (m) => void seen.push(m.value) }));
    await consumeOn();
    const earlier = Array.from({ length: 5 }, (_, i) => `m-${i}`);
    for (const value of earlier) await b.publish(t, [{ key: 'home-1', value }]);
    await eventually(async () => (await stored()).map((r) => r.seq).join() === '4', 15_000, 'offset 4 stored');
    if (rejoin) await handles.pop()!.stop();
    restarts.length = 0;
    // The log now holds another message at offset 4 than the one applied there, with the group's position (5) kept:
    // what an unclean leader election leaves, or a topic created again whose log passed 4 between two fetches. The
    // mock can do neither, so the digest on record is made another message's: to the consumer it is the same.
    const [{ last_digest: applied }] = await stored();
    const other = `4/${Date.now()}/AAAAAAAAAAAAAAAA`;
    await opened.database.query('UPDATE bus_offsets SET last_digest = $3 WHERE group_id = $1 AND topic = $2', [g, t, other]);
    if (rejoin) await consumeOn();
    else await new Promise((r) => setTimeout(r, 400));
    await b.publish(t, [{ key: 'home-1', value: 'm-5' }]);
    // without the check only m-5 would be applied: the consumer reads on from offset 5
    await eventually(() => seen.length >= 11, 20_000, 'the log applied again from its start, then m-5');
    expect(seen).toEqual([...earlier, ...earlier, 'm-5']);
    expect(restarts).toEqual([{
      group: g, topic: t, partition: expect.any(Number), storedOffset: '4', logEnd: '6', message: { stored: other, now: applied },
    }]);
    await eventually(async () => (await stored()).map((r) => r.seq).join() === '5', 10_000, 'offset 5 stored');
  }, 60_000);

  it('applies again, in order, what a group had applied before its database went back to an older state, when Kafka still holds it', async () => {
    const mock = await startKafkaMock();
    mocks.push(mock);
    const replayTopic = 'test.replay-after-restore.v1';
    const replayGroup = 'replay-group';
    const stored = async () => (await opened.database.query<{ seq: string }>(
      'SELECT seq FROM bus_offsets WHERE group_id = $1 AND topic = $2 AND seq >= 0', [replayGroup, replayTopic])).map((r) => Number(r.seq));
    const consumeReplay = async (b: KafkaBus, seen: string[]) =>
      void handles.push(await b.subscribe({ groupId: replayGroup, topics: [replayTopic], handle: async (m) => void seen.push(m.value) }));
    // ten messages of one home applied, offset 9 stored, and Kafka told the group's position (10) when it stopped
    const before = await busOn(mock);
    const seenBefore: string[] = [];
    await consumeReplay(before, seenBefore);
    for (let i = 0; i < 10; i++) await before.publish(replayTopic, [{ key: 'home-1', value: `m-${i}` }]);
    await eventually(() => seenBefore.length === 10, 15_000, 'the first ten applied');
    await eventually(async () => (await stored()).join() === '9', 10_000, 'offset 9 stored');
    await Promise.all(handles.splice(0).map((h) => h.stop()));
    await Promise.all(buses.splice(0).map((b) => b.close()));

    // the database goes back to when offset 4 was stored (a restore; a failover to a replica behind the primary)
    await opened.database.query('UPDATE bus_offsets SET seq = 4 WHERE group_id = $1 AND topic = $2 AND seq = 9', [replayGroup, replayTopic]);
    const replayed: ReplayedMessages[] = [];
    const lost: LostMessages[] = [];
    const after = await busOn(mock, { replayMaxAgeMs: 3_600_000, onReplayed: (e) => void replayed.push(e), onLost: (e) => void lost.push(e) });
    const seenAfter: string[] = [];
    await consumeReplay(after, seenAfter);
    await after.publish(replayTopic, [{ key: 'home-1', value: 'm-10' }, { key: 'home-1', value: 'm-11' }]);
    await eventually(() => seenAfter.length >= 7, 20_000, 'the five the database lost and the two new ones applied');
    expect(seenAfter).toEqual(['m-5', 'm-6', 'm-7', 'm-8', 'm-9', 'm-10', 'm-11']);
    // a replay is told of once its transaction has committed, which is after the handler saw its messages
    await eventually(async () => (await stored()).join() === '11', 10_000, 'offset 11 stored');
    await eventually(() => replayed.reduce((n, e) => n + e.count, 0) >= 5, 5_000, 'the replay told of');
    expect(replayed.reduce((n, e) => n + e.count, 0)).toBe(5);
    expect(replayed[0]).toMatchObject({ group: replayGroup, topic: replayTopic, from: '5' });
    expect(lost).toEqual([]);
  }, 60_000);
});
