import { createTestDatabase, postgresAvailable, type TestDatabase } from '../../../testing/src/services/postgres';
import { startKafkaMock, type KafkaMock } from '../../../testing/src/services/kafka';
import { eventually, openTestDatabase, silentLogger } from '../../../testing/src/test-platform';
import type { OpenedDatabase } from '../persistence/open-database';
import { KafkaBatchApplier, SeekBack, type LostMessages, type LogRestart, type ReplayedMessages } from './kafka-batch-applier';
import { KafkaBus, type KafkaBusOptions } from './kafka-bus';
import type { ConsumerHandle, InboundMessage } from './message-bus';
import { messageDigest } from './stored-offsets';

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

  describe('batches that do not follow on from the stored offset (the applier on PostgreSQL, offset 9 stored)', () => {
    const staleGroup = 'stale-group';
    const message = (offset: string): InboundMessage => ({ topic, partition: 0, offset, key: 'home-1', value: `stale-${offset}`, headers: {}, timestamp: 0, attempt: 1 });
    const applier = (partitionEnd: (() => Promise<bigint>) | undefined, seen: string[], told: LogRestart[], lost: LostMessages[] = []) =>
      new KafkaBatchApplier(opened.database, { groupId: staleGroup, topics: [topic], handle: async (m) => void seen.push(m.value) },
        { maxAttempts: 3, baseDelayMs: 20 }, silentLogger, async () => undefined, () => false,
        { partitionEnd, onLogRestart: (r) => void told.push(r), onLost: (e) => void lost.push(e) });
    const storedSeq = async () => Number((await opened.database.query<{ seq: string }>(
      'SELECT seq FROM bus_offsets WHERE group_id = $1 AND topic = $2 AND partition = 0', [staleGroup, topic]))[0].seq);

    beforeEach(async () => {
      await opened.database.query('DELETE FROM bus_offsets WHERE group_id = $1', [staleGroup]);
      await opened.database.query('INSERT INTO bus_offsets (group_id, topic, partition, seq) VALUES ($1, $2, 0, 9)', [staleGroup, topic]);
    });

    it('a batch fetched before a rebalance, older than its successor\'s progress, is taken for what it is when Kafka says the log goes on: skipped, the offset kept', async () => {
      const seen: string[] = [];
      const told: LogRestart[] = [];
      const done = await applier(async () => 20n, seen, told).apply([{ topic, partition: 0, highWatermark: '6', messages: [message('4'), message('5')] }], async () => undefined);
      expect(done.flatMap((b) => b.messages.map((m) => m.offset))).toEqual(['4', '5']);
      expect(seen).toEqual([]);
      expect(told).toEqual([]);
      expect(await storedSeq()).toBe(9);
    });

    it('such a batch, when Kafka cannot say where the log ends: the fetch believed, applied again rather than lost', async () => {
      const seen: string[] = [];
      const told: LogRestart[] = [];
      await applier(async () => { throw new Error('Kafka did not answer'); }, seen, told)
        .apply([{ topic, partition: 0, highWatermark: '6', messages: [message('4'), message('5')] }], async () => undefined);
      expect(seen).toEqual(['stale-4', 'stale-5']);
      expect(told.map((r) => [r.storedOffset, r.logEnd])).toEqual([['9', '6']]);
      expect(await storedSeq()).toBe(5);
    });

    it('a batch that starts past the next offset: the messages between, removed by Kafka before they were applied, are reported once', async () => {
      const seen: string[] = [];
      const lost: LostMessages[] = [];
      const a = applier(async () => 30n, seen, [], lost);
      await a.apply([{ topic, partition: 0, highWatermark: '20', messages: [message('15'), message('16')] }], async () => undefined);
      expect(seen).toEqual(['stale-15', 'stale-16']);
      expect(lost).toEqual([{ group: staleGroup, topic, partition: 0, from: '10', count: 5 }]);
      expect(await storedSeq()).toBe(16);
      // the next batch follows on: nothing more to report
      await a.apply([{ topic, partition: 0, highWatermark: '20', messages: [message('17')] }], async () => undefined);
      expect(lost).toHaveLength(1);
    });

    describe('the Kafka cluster each offset was stored on', () => {
      const storedRow = async () => (await opened.database.query<{ seq: string; log_id: string | null }>(
        'SELECT seq, log_id FROM bus_offsets WHERE group_id = $1 AND topic = $2 AND partition = 0', [staleGroup, topic]))[0];
      const onCluster = (logId: string | undefined, seen: string[], told: LogRestart[]) =>
        new KafkaBatchApplier(opened.database, { groupId: staleGroup, topics: [topic], handle: async (m) => void seen.push(m.value) },
          { maxAttempts: 3, baseDelayMs: 20 }, silentLogger, async () => undefined, () => false,
          { partitionEnd: async () => 30n, onLogRestart: (r) => void told.push(r), logId: async () => logId });
      const batch = (...offsets: string[]) => [{ topic, partition: 0, highWatermark: '30', messages: offsets.map(message) }];

      it('an offset stored on another cluster is forgotten, however far this log has grown: its messages applied, the restart told', async () => {
        await opened.database.query('UPDATE bus_offsets SET log_id = $2 WHERE group_id = $1', [staleGroup, 'cluster-a']);
        const seen: string[] = [];
        const told: LogRestart[] = [];
        await onCluster('cluster-b', seen, told).apply(batch('3', '12'), async () => undefined);
        expect(seen).toEqual(['stale-3', 'stale-12']);
        expect(told).toEqual([{ group: staleGroup, topic, partition: 0, storedOffset: '9', logEnd: '30', cluster: { stored: 'cluster-a', now: 'cluster-b' } }]);
        expect(await storedRow()).toEqual({ seq: '12', log_id: 'cluster-b' });
      });

      it.each([
        ['an offset stored on this cluster holds: what it covers is skipped', 'cluster-a', 'cluster-a', 'cluster-a'],
        ['an offset stored before clusters were recorded is taken for this cluster\'s, and gets its id', null, 'cluster-b', 'cluster-b'],
        ['when Kafka does not say which cluster it is, the stored offset holds and keeps the cluster on record', 'cluster-a', undefined, 'cluster-a'],
      ])('%s', async (_, onRecord, reading, after) => {
        await opened.database.query('UPDATE bus_offsets SET log_id = $2 WHERE group_id = $1', [staleGroup, onRecord]);
        const seen: string[] = [];
        const told: LogRestart[] = [];
        await onCluster(reading, seen, told).apply(batch('9', '10'), async () => undefined);
        expect(seen).toEqual(['stale-10']);
        expect(told).toEqual([]);
        expect(await storedRow()).toEqual({ seq: '10', log_id: after });
      });
    });

    describe('the message at the stored offset (its digest stored with it)', () => {
      const storedRow = async () => (await opened.database.query<{ seq: string; last_digest: string | null }>(
        'SELECT seq, last_digest FROM bus_offsets WHERE group_id = $1 AND topic = $2 AND partition = 0', [staleGroup, topic]))[0];
      /** A message of the new log: another value at the same offset. */
      const again = (offset: string): InboundMessage => ({ ...message(offset), value: `again-${offset}` });
      const onLog = (start: bigint, seen: string[], told: LogRestart[]) =>
        new KafkaBatchApplier(opened.database, { groupId: staleGroup, topics: [topic], handle: async (m) => void seen.push(m.value) },
          { maxAttempts: 3, baseDelayMs: 20 }, silentLogger, async () => undefined, () => false,
          { partitionEnd: async () => 30n, onLogRestart: (r) => void told.push(r), partitionStart: async () => start });
      const noHeartbeat = async () => undefined;

      beforeEach(async () => {
        await opened.database.query('UPDATE bus_offsets SET last_digest = $2 WHERE group_id = $1', [staleGroup, messageDigest(message('9'))]);
      });

      it('is stored with every offset, and a batch older than the stored offset leaves it', async () => {
        const a = onLog(0n, [], []);
        await a.apply([{ topic, partition: 0, highWatermark: '30', messages: [message('10'), message('11')] }], noHeartbeat);
        expect(await storedRow()).toEqual({ seq: '11', last_digest: messageDigest(message('11')) });
        await a.apply([{ topic, partition: 0, highWatermark: '30', messages: [message('4')] }], noHeartbeat);
        expect(await storedRow()).toEqual({ seq: '11', last_digest: messageDigest(message('11')) });
        await a.applyOne({ topic, partition: 0, highWatermark: '30' }, message('12'), noHeartbeat);
        expect(await storedRow()).toEqual({ seq: '12', last_digest: messageDigest(message('12')) });
      });

      it('the same message there (a group reading again after a restart) holds: what it covers is skipped', async () => {
        const seen: string[] = [];
        const told: LogRestart[] = [];
        await onLog(0n, seen, told).apply([{ topic, partition: 0, highWatermark: '30', messages: ['8', '9', '10'].map(message) }], noHeartbeat);
        expect(seen).toEqual(['stale-10']);
        expect(told).toEqual([]);
      });

      it('another message there, in a batch from the log\'s start: the offset forgotten at once, the whole batch applied, the restart told', async () => {
        const seen: string[] = [];
        const told: LogRestart[] = [];
        const offsets = Array.from({ length: 12 }, (_, i) => String(i));
        await onLog(0n, seen, told).apply([{ topic, partition: 0, highWatermark: '12', messages: offsets.map(again) }], noHeartbeat);
        expect(seen).toEqual(offsets.map((o) => `again-${o}`));
        expect(told).toEqual([{
          group: staleGroup, topic, partition: 0, storedOffset: '9', logEnd: '12',
          message: { stored: messageDigest(message('9')), now: messageDigest(again('9')) },
        }]);
        expect(await storedRow()).toEqual({ seq: '11', last_digest: messageDigest(again('11')) });
      });

      it('another message there, in a later batch: the partition sent back to its log\'s start, and applied from there', async () => {
        const seen: string[] = [];
        const told: LogRestart[] = [];
        const a = onLog(2n, seen, told);
        // the batches before it were taken for messages already applied
        await a.apply([{ topic, partition: 0, highWatermark: '14', messages: ['2', '3', '4', '5'].map(again) }], noHeartbeat);
        expect(seen).toEqual([]);
        const err = await a.apply([{ topic, partition: 0, highWatermark: '14', messages: ['6', '7', '8', '9', '10'].map(again) }], noHeartbeat)
          .catch((e: unknown) => e);
        expect((err as SeekBack).to).toEqual([{ topic, partition: 0, offset: '2' }]);
        expect(seen).toEqual([]);
        expect(told).toEqual([]);
        expect(await storedRow()).toEqual({ seq: '9', last_digest: messageDigest(message('9')) });
        // a batch fetched before the seek comes on: sent back again
        await expect(a.apply([{ topic, partition: 0, highWatermark: '14', messages: [again('11')] }], noHeartbeat)).rejects.toBeInstanceOf(SeekBack);
        // what the seek fetches: the log from its start, every message applied
        await a.apply([{ topic, partition: 0, highWatermark: '14', messages: ['2', '3', '4', '5', '6'].map(again) }], noHeartbeat);
        await a.apply([{ topic, partition: 0, highWatermark: '14', messages: ['7', '8', '9', '10', '11', '12', '13'].map(again) }], noHeartbeat);
        expect(seen).toEqual(Array.from({ length: 12 }, (_, i) => `again-${i + 2}`));
        expect(told).toEqual([{
          group: staleGroup, topic, partition: 0, storedOffset: '9', logEnd: '14',
          message: { stored: messageDigest(message('9')), now: messageDigest(again('9')) },
        }]);
        expect(await storedRow()).toEqual({ seq: '13', last_digest: messageDigest(again('13')) });
      });

      it('a digest of another offset than the one stored is not compared: the offset moved on without it (an app older than digests during a rolling upgrade, a hand edit)', async () => {
        await opened.database.query('UPDATE bus_offsets SET last_digest = $2 WHERE group_id = $1', [staleGroup, messageDigest(message('7'))]);
        const seen: string[] = [];
        const told: LogRestart[] = [];
        await onLog(0n, seen, told).apply([{ topic, partition: 0, highWatermark: '30', messages: ['7', '8', '9', '10'].map(again) }], noHeartbeat);
        expect(seen).toEqual(['again-10']);
        expect(told).toEqual([]);
        expect(await storedRow()).toEqual({ seq: '10', last_digest: messageDigest(again('10')) });
      });

      it('an offset stored before digests were kept holds, and gets one', async () => {
        await opened.database.query('UPDATE bus_offsets SET last_digest = NULL WHERE group_id = $1', [staleGroup]);
        const seen: string[] = [];
        const told: LogRestart[] = [];
        await onLog(0n, seen, told).apply([{ topic, partition: 0, highWatermark: '30', messages: ['9', '10'].map(again) }], noHeartbeat);
        expect(seen).toEqual(['again-10']);
        expect(told).toEqual([]);
        expect(await storedRow()).toEqual({ seq: '10', last_digest: messageDigest(again('10')) });
      });
    });

    it('a batch that follows on from the stored offset, or a group that never stored one, reports nothing', async () => {
      const lost: LostMessages[] = [];
      await applier(async () => 30n, [], [], lost).apply([{ topic, partition: 0, highWatermark: '20', messages: [message('10')] }], async () => undefined);
      await opened.database.query('DELETE FROM bus_offsets WHERE group_id = $1', [staleGroup]);
      await applier(async () => 30n, [], [], lost).apply([{ topic, partition: 0, highWatermark: '20', messages: [message('12')] }], async () => undefined);
      expect(lost).toEqual([]);
    });

    describe('messages skipped over that Kafka still holds (a database restored or failed over to an older state), applied again', () => {
      const hour = 3_600_000;
      const young = (offset: string): InboundMessage => ({ ...message(offset), timestamp: Date.now() - 60_000 });
      const old = (offset: string): InboundMessage => ({ ...message(offset), timestamp: Date.now() - 2 * hour });
      /** An applier that replays what Kafka holds from `start` on, with what it applied, reported lost and replayed. */
      const replaying = (start: bigint) => {
        const r = { seen: [] as string[], marked: [] as string[], lost: [] as LostMessages[], replayed: [] as ReplayedMessages[], asked: 0 };
        const handle = async (m: InboundMessage) => {
          r.seen.push(m.value);
          if (m.replayed) r.marked.push(m.value);
        };
        const a = new KafkaBatchApplier(opened.database, { groupId: staleGroup, topics: [topic], handle, handleBatch: async (ms) => { for (const m of ms) await handle(m); } },
          { maxAttempts: 3, baseDelayMs: 20 }, silentLogger, async () => undefined, () => false, {
            partitionEnd: async () => 30n, onLost: (e) => void r.lost.push(e), onReplayed: (e) => void r.replayed.push(e),
            partitionStart: async () => (r.asked++, start), replayMaxAgeMs: hour,
          });
        return { a, r };
      };
      const noHeartbeat = async () => undefined;

      it('sends the partition back to the message after the stored offset, storing nothing, then applies from there and tells how many', async () => {
        const { a, r } = replaying(0n);
        const { seen, lost, replayed } = r;
        const err = await a.apply([{ topic, partition: 0, highWatermark: '20', messages: [young('15'), young('16')] }], noHeartbeat).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(SeekBack);
        expect((err as SeekBack).to).toEqual([{ topic, partition: 0, offset: '10' }]);
        expect(seen).toEqual([]);
        expect(await storedSeq()).toBe(9);
        // a batch fetched before the seek comes on: sent back again, without asking Kafka again
        await expect(a.apply([{ topic, partition: 0, highWatermark: '20', messages: [young('17')] }], noHeartbeat)).rejects.toBeInstanceOf(SeekBack);
        expect(r.asked).toBe(1);
        // what the seek fetches: the skipped messages, then on past them
        await a.apply([{ topic, partition: 0, highWatermark: '20', messages: ['10', '11', '12'].map(young) }], noHeartbeat);
        await a.apply([{ topic, partition: 0, highWatermark: '20', messages: ['13', '14', '15', '16'].map(young) }], noHeartbeat);
        expect(seen).toEqual(['10', '11', '12', '13', '14', '15', '16'].map((o) => `stale-${o}`));
        // the handler is told which ones it sees again (the batch set-based, and one by one)
        expect(r.marked).toEqual(['10', '11', '12', '13', '14'].map((o) => `stale-${o}`));
        expect(replayed).toEqual([
          { group: staleGroup, topic, partition: 0, from: '10', count: 3 },
          { group: staleGroup, topic, partition: 0, from: '13', count: 2 },
        ]);
        expect(lost).toEqual([]);
        expect(await storedSeq()).toBe(16);
        // the replay is over: a later gap is looked at afresh
        await expect(a.apply([{ topic, partition: 0, highWatermark: '30', messages: [young('20')] }], noHeartbeat)).rejects.toBeInstanceOf(SeekBack);
        expect(r.asked).toBe(2);
      });

      it('applies again only the messages younger than the limit; the older ones are reported lost and the offset moves past them', async () => {
        const { a, r: { seen, lost, replayed } } = replaying(0n);
        await expect(a.apply([{ topic, partition: 0, highWatermark: '20', messages: [young('14')] }], noHeartbeat)).rejects.toBeInstanceOf(SeekBack);
        await a.apply([{ topic, partition: 0, highWatermark: '20', messages: [old('10'), old('11'), young('12'), young('13'), young('14')] }], noHeartbeat);
        expect(seen).toEqual(['stale-12', 'stale-13', 'stale-14']);
        expect(lost).toEqual([{ group: staleGroup, topic, partition: 0, from: '10', count: 2 }]);
        expect(replayed).toEqual([{ group: staleGroup, topic, partition: 0, from: '12', count: 2 }]);
        expect(await storedSeq()).toBe(14);
      });

      it('one message at a time too (a batch that failed is run message by message): an old one only moves the offset', async () => {
        const { a, r: { seen, marked, lost, replayed } } = replaying(0n);
        await expect(a.applyOne({ topic, partition: 0, highWatermark: '20' }, young('12'), noHeartbeat)).rejects.toBeInstanceOf(SeekBack);
        expect(await a.applyOne({ topic, partition: 0, highWatermark: '20' }, old('10'), noHeartbeat)).toBe(true);
        expect(await a.applyOne({ topic, partition: 0, highWatermark: '20' }, young('11'), noHeartbeat)).toBe(true);
        expect(seen).toEqual(['stale-11']);
        expect(marked).toEqual(['stale-11']);
        expect(lost).toEqual([{ group: staleGroup, topic, partition: 0, from: '10', count: 1 }]);
        expect(replayed).toEqual([{ group: staleGroup, topic, partition: 0, from: '11', count: 1 }]);
        expect(await storedSeq()).toBe(11);
      });

      it('what Kafka no longer holds of them is reported lost, the rest applied again from the log\'s start', async () => {
        const { a, r: { seen, lost, replayed } } = replaying(12n);
        const err = await a.apply([{ topic, partition: 0, highWatermark: '20', messages: [young('15')] }], noHeartbeat).catch((e: unknown) => e);
        expect((err as SeekBack).to).toEqual([{ topic, partition: 0, offset: '12' }]);
        expect(lost).toEqual([]);
        await a.apply([{ topic, partition: 0, highWatermark: '20', messages: ['12', '13', '14', '15'].map(young) }], noHeartbeat);
        expect(seen).toEqual(['12', '13', '14', '15'].map((o) => `stale-${o}`));
        expect(lost).toEqual([{ group: staleGroup, topic, partition: 0, from: '10', count: 2 }]);
        expect(replayed).toEqual([{ group: staleGroup, topic, partition: 0, from: '12', count: 3 }]);
      });

      it('a partition with no offset stored (the database restored to before the group\'s first message there) goes back to the log\'s start', async () => {
        await opened.database.query('DELETE FROM bus_offsets WHERE group_id = $1', [staleGroup]);
        const { a, r: { seen, lost, replayed } } = replaying(0n);
        const err = await a.apply([{ topic, partition: 0, highWatermark: '20', messages: [young('3')] }], noHeartbeat).catch((e: unknown) => e);
        expect((err as SeekBack).to).toEqual([{ topic, partition: 0, offset: '0' }]);
        await a.apply([{ topic, partition: 0, highWatermark: '20', messages: ['0', '1', '2', '3'].map(young) }], noHeartbeat);
        expect(seen).toEqual(['0', '1', '2', '3'].map((o) => `stale-${o}`));
        expect(replayed).toEqual([{ group: staleGroup, topic, partition: 0, from: '0', count: 3 }]);
        expect(lost).toEqual([]);
        // a group new to a partition starts at the log's start: nothing to go back for
        await opened.database.query('DELETE FROM bus_offsets WHERE group_id = $1', [staleGroup]);
        const fresh = replaying(5n);
        await fresh.a.apply([{ topic, partition: 0, highWatermark: '20', messages: [young('5')] }], noHeartbeat);
        expect(fresh.r.seen).toEqual(['stale-5']);
        expect(fresh.r.asked).toBe(1);
      });

      it('nothing to go back for when Kafka removed them all, or cannot say where the log starts, or the limit is 0: reported lost as before', async () => {
        for (const [start, maxAge] of [[15n, 3_600_000], [null, 3_600_000], [0n, 0]] as const) {
          await opened.database.query('UPDATE bus_offsets SET seq = 9 WHERE group_id = $1', [staleGroup]);
          const seen: string[] = [];
          const lost: LostMessages[] = [];
          const a = new KafkaBatchApplier(opened.database, { groupId: staleGroup, topics: [topic], handle: async (m) => void seen.push(m.value) },
            { maxAttempts: 3, baseDelayMs: 20 }, silentLogger, async () => undefined, () => false, {
              partitionEnd: async () => 30n, onLost: (e) => void lost.push(e), replayMaxAgeMs: maxAge,
              partitionStart: async () => { if (start === null) throw new Error('Kafka did not answer'); return start; },
            });
          await a.apply([{ topic, partition: 0, highWatermark: '20', messages: [young('15'), young('16')] }], noHeartbeat);
          expect(seen).toEqual(['stale-15', 'stale-16']);
          expect(lost).toEqual([{ group: staleGroup, topic, partition: 0, from: '10', count: 5 }]);
        }
      });
    });
  });
});
