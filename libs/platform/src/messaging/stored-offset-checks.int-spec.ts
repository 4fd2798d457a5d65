import { PermanentMessageError } from '@linan/contracts';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '../../../testing/src/services/postgres';
import { openTestDatabase, silentLogger } from '../../../testing/src/test-platform';
import type { OpenedDatabase } from '../persistence/open-database';
import { KafkaBatchApplier, SeekBack, type LostMessages, type LogRestart, type ReplayedMessages } from './kafka-batch-applier';
import type { InboundMessage } from './message-bus';
import { messageDigest } from './stored-offsets';

const available = postgresAvailable();

/**
 * StoredOffsetChecks through the KafkaBatchApplier on PostgreSQL, with batches made up as Kafka could give them: the
 * cases the mock cluster cannot stage (kafka-stored-offsets.int-spec.ts has those it can, end to end).
 */
let opened: OpenedDatabase;
let testDb: TestDatabase;
const topic = 'test.log-restart.v1';

beforeAll(async () => {
  if (!(await available)) throw new Error('PostgreSQL at 127.0.0.1:5432 (or TEST_POSTGRES_URL) is needed for the stored offset tests');
  testDb = await createTestDatabase();
  opened = await openTestDatabase({ DATABASE_URL: testDb.url });
});

afterAll(async () => {
  await opened?.close();
  await testDb?.drop();
});

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
      await a.apply([{ topic, partition: 0, highWatermark: '30', messages: [message('9'), message('10'), message('11')] }], noHeartbeat);
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

    describe('checked at the stored offset when a batch goes on from the message after it (see sendBackToCheck)', () => {
      const checking = (seen: string[], told: LogRestart[], logCheckEveryMs?: number) =>
        new KafkaBatchApplier(opened.database, { groupId: staleGroup, topics: [topic], handle: async (m) => void seen.push(m.value) },
          { maxAttempts: 3, baseDelayMs: 20 }, silentLogger, async () => undefined, () => false,
          { partitionEnd: async () => 30n, onLogRestart: (r) => void told.push(r), partitionStart: async () => 0n, logCheckEveryMs });
      const batch = (make: (o: string) => InboundMessage, ...offsets: string[]) => [{ topic, partition: 0, highWatermark: '30', messages: offsets.map(make) }];
      const sentBack = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => (e instanceof SeekBack ? { to: e.to, toCheck: e.toCheck } : Promise.reject(e)));

      it('the first batch is sent back to the stored offset, quietly and storing nothing; the same message there holds and the group goes on', async () => {
        const seen: string[] = [];
        const told: LogRestart[] = [];
        const a = checking(seen, told);
        expect(await sentBack(a.apply(batch(message, '10', '11'), noHeartbeat))).toEqual({ to: [{ topic, partition: 0, offset: '9' }], toCheck: true });
        expect(seen).toEqual([]);
        expect(await storedRow()).toEqual({ seq: '9', last_digest: messageDigest(message('9')) });
        await a.apply(batch(message, '9', '10', '11'), noHeartbeat);
        // checked: the next batches go on without being sent back
        await a.apply(batch(message, '12'), noHeartbeat);
        expect(seen).toEqual(['stale-10', 'stale-11', 'stale-12']);
        expect(told).toEqual([]);
      });

      it('another message there: the partition is sent back to its log\'s start, and the whole log applied from there', async () => {
        const seen: string[] = [];
        const told: LogRestart[] = [];
        const a = checking(seen, told);
        await expect(sentBack(a.apply(batch(again, '10'), noHeartbeat))).resolves.toMatchObject({ toCheck: true });
        expect(await sentBack(a.apply(batch(again, '9', '10'), noHeartbeat))).toEqual({ to: [{ topic, partition: 0, offset: '0' }], toCheck: false });
        const offsets = Array.from({ length: 11 }, (_, i) => String(i));
        await a.apply(batch(again, ...offsets), noHeartbeat);
        expect(seen).toEqual(offsets.map((o) => `again-${o}`));
        expect(told).toEqual([{
          group: staleGroup, topic, partition: 0, storedOffset: '9', logEnd: '30',
          message: { stored: messageDigest(message('9')), now: messageDigest(again('9')) },
        }]);
      });

      it('sent back once only: when the message there does not come (Kafka no longer holds it), the batch after it is applied', async () => {
        const seen: string[] = [];
        const a = checking(seen, []);
        await expect(sentBack(a.apply(batch(message, '10'), noHeartbeat))).resolves.toMatchObject({ toCheck: true });
        await a.apply(batch(message, '10'), noHeartbeat);
        expect(seen).toEqual(['stale-10']);
      });

      it('not sent back for a batch from before the stored offset, one past the message after it (the gap checks take it), or with no digest on record', async () => {
        const seen: string[] = [];
        const lost: LostMessages[] = [];
        await checking(seen, []).apply(batch(message, '4', '5'), noHeartbeat);
        const a = new KafkaBatchApplier(opened.database, { groupId: staleGroup, topics: [topic], handle: async (m) => void seen.push(m.value) },
          { maxAttempts: 3, baseDelayMs: 20 }, silentLogger, async () => undefined, () => false, { partitionEnd: async () => 30n, onLost: (e) => void lost.push(e) });
        await a.apply(batch(message, '12'), noHeartbeat);
        expect(lost).toEqual([{ group: staleGroup, topic, partition: 0, from: '10', count: 2 }]);
        await opened.database.query('UPDATE bus_offsets SET last_digest = NULL WHERE group_id = $1', [staleGroup]);
        await checking(seen, []).apply(batch(message, '13'), noHeartbeat);
        expect(seen).toEqual(['stale-12', 'stale-13']);
      });

      it('not sent back when a message that failed is moved past (it went to the dead-letter topic, and would go again)', async () => {
        const forwarded: string[] = [];
        const a = new KafkaBatchApplier(opened.database, {
          groupId: staleGroup, topics: [topic], handle: async () => {
            // longer than logCheckEveryMs: the check falls due while the message is handled
            await new Promise((r) => setTimeout(r, 400));
            throw new PermanentMessageError('bad_payload', 'unreadable');
          },
        }, { maxAttempts: 3, baseDelayMs: 20 }, silentLogger, async (t, ms) => void forwarded.push(...ms.map((m) => `${t}:${m.value}`)), () => false,
        { partitionEnd: async () => 30n, logCheckEveryMs: 300 });
        await a.apply(batch(message, '9'), noHeartbeat);
        await expect(a.applyOne({ topic, partition: 0, highWatermark: '30' }, message('10'), noHeartbeat)).resolves.toBe(true);
        expect(forwarded).toEqual([`${topic}.${staleGroup}.dlq:stale-10`]);
        expect(await storedRow()).toEqual({ seq: '10', last_digest: messageDigest(message('10')) });
      });

      it('checked again after each join (recheckLogs), and every logCheckEveryMs while the consumer runs', async () => {
        const seen: string[] = [];
        const a = checking(seen, [], 500);
        await a.apply(batch(message, '9', '10'), noHeartbeat);
        await a.apply(batch(message, '11'), noHeartbeat);
        a.recheckLogs();
        expect(await sentBack(a.apply(batch(message, '12'), noHeartbeat))).toEqual({ to: [{ topic, partition: 0, offset: '11' }], toCheck: true });
        await a.apply(batch(message, '11', '12'), noHeartbeat);
        await a.apply(batch(message, '13'), noHeartbeat);
        await new Promise((r) => setTimeout(r, 550));
        expect(await sentBack(a.apply(batch(message, '14'), noHeartbeat))).toEqual({ to: [{ topic, partition: 0, offset: '13' }], toCheck: true });
        await a.apply(batch(message, '13', '14'), noHeartbeat);
        expect(seen).toEqual(['stale-10', 'stale-11', 'stale-12', 'stale-13', 'stale-14']);
      });
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
