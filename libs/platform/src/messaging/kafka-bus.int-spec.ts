import { Kafka, logLevel } from 'kafkajs';
import { PermanentMessageError, deadLetterTopic, retryTopic } from '@linan/contracts';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '../../../testing/src/services/postgres';
import { startKafkaMock, type KafkaMock } from '../../../testing/src/services/kafka';
import { eventually, openTestDatabase, silentLogger } from '../../../testing/src/test-platform';
import { StartupError } from '../config/config';
import type { OpenedDatabase } from '../persistence/open-database';
import { KafkaBus, encodeOutboxBatch, type KafkaBusOptions } from './kafka-bus';
import { kafkajsModule } from './kafkajs-internals';
import type { ConsumerHandle, InboundMessage, MessageFailure } from './message-bus';

const available = postgresAvailable();

describe('KafkaBus (Kafka-protocol mock cluster and PostgreSQL)', () => {
  let kafka: KafkaMock;
  let testDb: TestDatabase;
  let opened: OpenedDatabase;
  const buses: KafkaBus[] = [];
  const handles: ConsumerHandle[] = [];
  let n = 0;
  const topic = () => `test.things-${++n}.v1`;

  beforeAll(async () => {
    if (!(await available)) throw new Error('PostgreSQL at 127.0.0.1:5432 (or TEST_POSTGRES_URL) is needed for the Kafka bus tests');
    [kafka, testDb] = await Promise.all([startKafkaMock(), createTestDatabase()]);
    opened = await openTestDatabase({ DATABASE_URL: testDb.url });
    await opened.database.query('CREATE TABLE applied (id text PRIMARY KEY, n integer NOT NULL DEFAULT 1)');
  });

  afterEach(async () => {
    await Promise.all(handles.splice(0).map((h) => h.stop()));
    await Promise.all(buses.splice(0).map((b) => b.close()));
  });

  afterAll(async () => {
    await opened?.close();
    await testDb?.drop();
    await kafka?.stop();
  });

  async function bus(over: Partial<KafkaBusOptions> = {}): Promise<KafkaBus> {
    const b = new KafkaBus(opened.database, {
      brokers: [kafka.brokers], clientId: 'test', maxWaitMs: 20, lingerMs: 5, outboxSweepMs: 200, retry: { maxAttempts: 3, baseDelayMs: 20 },
      joinTimeoutMs: 20_000, ...over,
    }, silentLogger);
    await b.connect();
    buses.push(b);
    return b;
  }

  /** A handler whose effect is a row per message id: applying a message twice shows as n = 2. */
  const apply = async (m: InboundMessage): Promise<void> => {
    await opened.database.query('INSERT INTO applied (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET n = applied.n + 1', [m.value]);
  };
  const appliedCounts = async (prefix: string) =>
    opened.database.query<{ id: string; n: number }>('SELECT id, n FROM applied WHERE id LIKE $1 ORDER BY id', [`${prefix}%`]);

  it('hands a live view a fetched burst through handleBatch, in order, and stores no offsets for it', async () => {
    const b = await bus();
    const t = topic();
    const calls: string[][] = [];
    handles.push(await b.subscribe({
      groupId: `live-${t}`, topics: [t], ephemeral: true,
      handle: async (m) => void calls.push([m.value]),
      handleBatch: async (ms) => void calls.push(ms.map((m) => m.value)),
    }));
    await b.publish(t, ['l1', 'l2', 'l3', 'l4'].map((value) => ({ key: 'home-1', value })));
    await eventually(() => calls.flat().length === 4, 10_000, 'the burst');
    expect(calls).toEqual([['l1', 'l2', 'l3', 'l4']]);
    expect(await opened.database.query('SELECT * FROM bus_offsets WHERE group_id = $1', [`live-${t}`])).toEqual([]);
  });

  it('counts the requests Kafka answered, by client and API (for /metrics)', async () => {
    const counted = new Map<string, number>();
    const b = await bus({ countRequest: (client, api) => void counted.set(`${client} ${api}`, (counted.get(`${client} ${api}`) ?? 0) + 1) });
    const t = topic();
    const seen: string[] = [];
    handles.push(await b.subscribe({ groupId: `count-${t}`, topics: [t], handle: async (m) => void seen.push(m.value) }));
    const producesBefore = counted.get('producer Produce') ?? 0;
    await b.publish(t, [{ key: 'home-1', value: 'c1' }]);
    await b.publish(t, [{ key: 'home-1', value: 'c2' }]);
    await eventually(() => seen.length === 2, 10_000, 'both delivered');
    // two publishes, two produce requests at least (kafkajs retries one that meets a partition without a leader yet)
    expect((counted.get('producer Produce') ?? 0) - producesBefore).toBeGreaterThanOrEqual(2);
    expect(counted.get('consumer Fetch')).toBeGreaterThanOrEqual(1);
    expect(counted.get('consumer JoinGroup')).toBeGreaterThanOrEqual(1);
    expect([...counted.keys()].every((k) => /^(producer|consumer|admin) [A-Za-z]+$/.test(k))).toBe(true);
  });

  it('delivers every message once, in order per key, and stores the effect with the offset', async () => {
    const t = topic();
    const b = await bus();
    const seen: string[] = [];
    handles.push(await b.subscribe({ groupId: 'g1', topics: [t], handle: async (m) => {
      seen.push(m.value);
      await apply(m);
    } }));
    const messages = Array.from({ length: 60 }, (_, i) => ({ key: `home-${i % 3}`, value: `a-${String(i).padStart(3, '0')}` }));
    await b.publish(t, messages);
    await eventually(async () => (await appliedCounts('a-')).length === 60, 15_000, 'all 60 applied');
    for (const key of ['home-0', 'home-1', 'home-2']) {
      const sent = messages.filter((m) => m.key === key).map((m) => m.value);
      expect(seen.filter((v) => sent.includes(v))).toEqual(sent);
    }
    expect((await appliedCounts('a-')).every((r) => r.n === 1)).toBe(true);
    const offsets = await opened.database.query<{ seq: string }>('SELECT seq FROM bus_offsets WHERE group_id = $1 AND topic = $2', ['g1', t]);
    expect(offsets.length).toBeGreaterThan(0);
  });

  it('handles what it fetched from several partitions in one transaction, storing every partition\'s offset with the effects', async () => {
    const t = topic();
    const b = await bus();
    // published before the group exists: the first fetch finds one batch waiting in every partition
    const messages = Array.from({ length: 40 }, (_, i) => ({ key: `home-${i % 8}`, value: `c-${String(i).padStart(3, '0')}` }));
    await b.publish(t, messages);
    const batches: InboundMessage[][] = [];
    handles.push(await b.subscribe({
      groupId: 'g-combined', topics: [t],
      handle: async (m) => {
        batches.push([m]);
        await apply(m);
      },
      handleBatch: async (ms) => {
        batches.push(ms);
        for (const m of ms) await apply(m);
      },
    }));
    await eventually(async () => (await appliedCounts('c-')).length === 40, 15_000, 'all 40 applied');
    expect(batches).toHaveLength(1);
    expect(new Set(batches[0].map((m) => m.partition)).size).toBeGreaterThan(1);
    for (let k = 0; k < 8; k++) {
      const sent = messages.filter((m) => m.key === `home-${k}`).map((m) => m.value);
      expect(batches[0].filter((m) => m.key === `home-${k}`).map((m) => m.value)).toEqual(sent);
    }
    const offsets = await opened.database.query<{ partition: number }>('SELECT partition FROM bus_offsets WHERE group_id = $1 AND topic = $2', ['g-combined', t]);
    expect(offsets.length).toBe(new Set(batches[0].map((m) => m.partition)).size);
  });

  it('reads a backlog without waiting fetchGatherMs per fetch (the mock returns one produce request per partition per fetch)', async () => {
    const t = topic();
    const producing = await bus();
    for (let i = 0; i < 30; i++) await producing.publish(t, [{ key: 'home-1', value: `b-${String(i).padStart(2, '0')}` }]);
    const b = await bus({ fetchGatherMs: 500 });
    const seen: string[] = [];
    const at: number[] = [];
    handles.push(await b.subscribe({ groupId: 'g-backlog', topics: [t], handle: async (m) => void (seen.push(m.value), at.push(Date.now())) }));
    await eventually(() => seen.length === 30, 20_000, 'the backlog');
    // 29 ms when this was written; waiting 500 ms after every fetch, 10.5 s
    expect(at[29] - at[0]).toBeLessThan(2_500);
    expect(seen).toEqual([...seen].sort());
  });

  it('commits to Kafka only what it has handled, though it fetches ahead', async () => {
    const t = topic();
    const b = await bus();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    handles.push(await b.subscribe({ groupId: 'g-prefetch', topics: [t], handle: async (m) => {
      await gate;
      await apply(m);
    } }));
    await b.publish(t, Array.from({ length: 20 }, (_, i) => ({ key: `home-${i % 4}`, value: `pf-${String(i).padStart(2, '0')}` })));
    const admin = new Kafka({ brokers: [kafka.brokers], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const committed = async () => (await admin.fetchOffsets({ groupId: 'g-prefetch', topics: [t] }))
      .flatMap((x) => x.partitions).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
    try {
      await new Promise((r) => setTimeout(r, 1_500));
      expect(await committed()).toBe(0);
      release();
      await eventually(async () => (await appliedCounts('pf-')).length === 20, 15_000, 'all 20 applied');
      await eventually(async () => (await committed()) === 20, 15_000, 'Kafka offsets committed after the effects');
    } finally {
      release();
      await admin.disconnect();
    }
  });

  it.each([0, 20])('publishes of separate ticks share produce requests, in order (linger %i ms)', async (lingerMs) => {
    const t = topic();
    const b = await bus({ lingerMs });
    const producer = (b as unknown as { producer: { sendBatch: (...a: unknown[]) => Promise<unknown> } }).producer;
    const send = jest.spyOn(producer, 'sendBatch');
    const seen: string[] = [];
    handles.push(await b.subscribe({ groupId: `g-linger-${lingerMs}`, topics: [t], handle: async (m) => void seen.push(m.value) }));
    // 30 publishes in 30 separate ticks, as a gateway receives them from devices
    const published: Promise<void>[] = [];
    for (let i = 0; i < 30; i++) {
      published.push(b.publish(t, [{ key: 'home-1', value: `l-${String(i).padStart(2, '0')}` }]));
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(published);
    expect(send.mock.calls.length).toBeLessThan(30);
    await eventually(() => seen.length === 30, 15_000, 'all 30 consumed');
    expect(seen).toEqual([...seen].sort());
  });

  it('publishes outbox messages only when the unit of work commits, a transaction\'s messages as one row', async () => {
    const [t, u] = [topic(), topic()];
    const b = await bus();
    const seen: string[] = [];
    handles.push(await b.subscribe({ groupId: 'g-outbox', topics: [t, u], handle: async (m) => void seen.push(m.value) }));
    await opened.database.run(async () => {
      await b.add(t, [{ key: 'k', value: 'committed-1' }, { key: 'k', value: 'committed-2' }]);
      await b.add(u, [{ key: 'k', value: 'committed-3' }]);
    });
    // handed-over rows are deleted together a little later (OUTBOX_FORGET_MS), so the row is still there
    expect(await opened.database.query('SELECT messages FROM outbox_batches WHERE messages LIKE $1', ['%committed-%'])).toHaveLength(1);
    await expect(opened.database.run(async () => {
      await b.add(t, [{ key: 'k', value: 'rolled-back' }]);
      throw new Error('no');
    })).rejects.toThrow('no');
    await eventually(() => seen.length === 3, 10_000, 'the committed messages');
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.sort()).toEqual(['committed-1', 'committed-2', 'committed-3']);
    await eventually(async () => (await opened.database.query('SELECT 1 FROM outbox_batches')).length === 0, 5_000, 'an empty outbox');
  });

  it('resends outbox rows a crashed process left behind, in order, and keeps an unreadable row', async () => {
    const t = topic();
    // rows committed by a process that died before handing them to Kafka (and one that no code of ours writes)
    const left = encodeOutboxBatch([
      { topic: t, message: { key: 'k', value: 'left-behind-1', headers: { eventId: 'e-1' } } },
      { topic: t, message: { key: 'k', value: 'left-behind-2' } },
    ]);
    await opened.database.query(`INSERT INTO outbox_batches (messages, created_at) VALUES ('not json', now() - interval '1 minute')`);
    await opened.database.query(`INSERT INTO outbox_batches (messages, created_at) VALUES ($1, now() - interval '1 minute')`, [left]);
    let resent = 0;
    const b = await bus({ countResent: (n) => void (resent += n) });
    const seen: InboundMessage[] = [];
    handles.push(await b.subscribe({ groupId: 'g-sweep', topics: [t], handle: async (m) => void seen.push(m) }));
    await eventually(() => seen.length === 2, 10_000, 'the swept messages');
    expect(resent).toBe(2);
    expect(seen[0]).toMatchObject({ value: 'left-behind-1', headers: { eventId: 'e-1' } });
    expect(seen[1]).toMatchObject({ value: 'left-behind-2', headers: {} });
    await eventually(async () => (await opened.database.query('SELECT 1 FROM outbox_batches WHERE messages = $1', [left])).length === 0, 5_000, 'the swept row deleted');
    expect(await opened.database.query(`SELECT 1 FROM outbox_batches WHERE messages = 'not json'`)).toHaveLength(1);
    await opened.database.query(`DELETE FROM outbox_batches WHERE messages = 'not json'`);
  });

  it('dead-letters a poison message with its reason and headers, and the partition keeps flowing', async () => {
    const t = topic();
    const failures: MessageFailure[] = [];
    const b = await bus({ onMessageFailed: (f) => void failures.push(f) });
    const ok: string[] = [];
    const dead: InboundMessage[] = [];
    handles.push(await b.subscribe({ groupId: 'g-poison', topics: [t], handle: async (m) => {
      if (m.value === 'poison') throw new PermanentMessageError('bad_envelope', 'cannot be read');
      ok.push(m.value);
    } }));
    handles.push(await b.subscribe({ groupId: 'g-dlq-reader', topics: [deadLetterTopic(t, 'g-poison')], handle: async (m) => void dead.push(m) }));
    await b.publish(t, [{ key: 'same', value: 'before' }, { key: 'same', value: 'poison', headers: { eventId: 'p-1' } }, { key: 'same', value: 'after' }]);
    await eventually(() => ok.includes('after') && dead.length === 1, 15_000, 'the message after the poison and the dead letter');
    // 'before' may be handled twice (its batch was rolled back when the poison failed); its stored effect is not
    expect([...new Set(ok)]).toEqual(['before', 'after']);
    expect(dead[0]).toMatchObject({ value: 'poison', headers: { eventId: 'p-1', 'dlq-reason': 'bad_envelope', 'dlq-group': 'g-poison' } });
    expect(failures).toEqual([{ group: 'g-poison', topic: t, outcome: 'dead_letter', reason: 'bad_envelope' }]);
  });

  it('retries a transient failure through the retry topic, and dead-letters it after the last attempt', async () => {
    const t = topic();
    const failures: MessageFailure[] = [];
    const b = await bus({ onMessageFailed: (f) => void failures.push(f) });
    const attempts = new Map<string, number[]>();
    const dead: InboundMessage[] = [];
    handles.push(await b.subscribe({ groupId: 'g-retry', topics: [t], handle: async (m) => {
      attempts.set(m.value, [...(attempts.get(m.value) ?? []), m.attempt]);
      expect(m.topic).toBe(t);
      if (m.value === 'flaky' && m.attempt < 2) throw new Error('database hiccup');
      if (m.value === 'hopeless') throw new Error('always down');
    } }));
    handles.push(await b.subscribe({ groupId: 'g-dlq-reader2', topics: [deadLetterTopic(t, 'g-retry')], handle: async (m) => void dead.push(m) }));
    await b.publish(t, [{ key: 'a', value: 'flaky' }, { key: 'b', value: 'hopeless' }, { key: 'a', value: 'fine' }]);
    await eventually(() => dead.length === 1 && attempts.get('flaky')?.length === 2, 20_000, 'the retry and the dead letter');
    expect(attempts.get('flaky')).toEqual([1, 2]);
    expect(attempts.get('fine')).toEqual([1]);
    expect(attempts.get('hopeless')).toEqual([1, 2, 3]);
    expect(dead[0]).toMatchObject({ value: 'hopeless', headers: { 'dlq-reason': 'max_attempts' } });
    expect(dead[0].headers['retry-attempt']).toBeUndefined();
    expect(retryTopic(t, 'g-retry')).toBe(`${t}.g-retry.retry`);
    // flaky once and hopeless twice went to the retry topic, hopeless then to the dead-letter topic
    const retry = { group: 'g-retry', topic: t, outcome: 'retry', reason: 'transient' };
    expect(failures).toEqual(expect.arrayContaining([retry, { group: 'g-retry', topic: t, outcome: 'dead_letter', reason: 'max_attempts' }]));
    expect(failures.filter((f) => f.outcome === 'retry')).toEqual([retry, retry, retry]);
    expect(failures).toHaveLength(4);
  });

  it('tells each group\'s lag per partition, growing while its consumer is stuck and back to 0 once it catches up', async () => {
    const t = topic();
    const b = await bus();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: string[] = [];
    handles.push(await b.subscribe({ groupId: `g-lag-${t}`, topics: [t], handle: async (m) => {
      await gate;
      seen.push(m.value);
    } }));
    // a live view keeps no position: it has no lag
    handles.push(await b.subscribe({ groupId: `live-lag-${t}`, topics: [t], ephemeral: true, handle: async () => undefined }));
    const behind = async () => (await b.lag()).filter((l) => l.topic === t);
    await b.publish(t, ['m1', 'm2', 'm3'].map((value) => ({ key: 'home-1', value })));
    await b.publish(t, [{ key: 'home-2', value: 'm4' }]);
    await eventually(async () => (await behind()).reduce((n, l) => n + l.messages, 0) === 4, 10_000, 'a lag of 4');
    const lag = await behind();
    expect(new Set(lag.map((l) => l.group))).toEqual(new Set([`g-lag-${t}`]));
    expect(lag.map((l) => l.partition).sort()).toEqual([0, 1, 2, 3]);
    await b.publish(t, [{ key: 'home-1', value: 'm5' }]);
    await eventually(async () => (await behind()).reduce((n, l) => n + l.messages, 0) === 5, 10_000, 'a lag of 5 while stuck');
    release();
    await eventually(() => seen.length === 5, 10_000, 'all five applied');
    await eventually(async () => (await behind()).every((l) => l.messages === 0), 10_000, 'no lag once caught up');
    // its retry topic is watched too (nothing waits there)
    expect((await b.lag()).filter((l) => l.topic === retryTopic(t, `g-lag-${t}`)).map((l) => l.messages)).toEqual([0, 0, 0, 0]);
  });

  it('does not hold up new messages while a retried one waits out its delay', async () => {
    const t = topic();
    const b = await bus({ retry: { maxAttempts: 3, baseDelayMs: 3_000 } });
    const handled = new Map<string, number>();
    let failedAt = 0;
    handles.push(await b.subscribe({ groupId: 'g-retry-delay', topics: [t], handle: async (m) => {
      if (m.value === 'slow' && m.attempt === 1) {
        failedAt = Date.now();
        throw new Error('database hiccup');
      }
      handled.set(m.value, Date.now());
    } }));
    await b.publish(t, [{ key: 'a', value: 'slow' }]);
    await eventually(() => failedAt > 0, 10_000, 'the first attempt');
    await new Promise((r) => setTimeout(r, 700)); // the retry is on its topic, fetched, and waiting
    const sentAt = Date.now();
    await b.publish(t, [{ key: 'a', value: 'fresh' }, { key: 'b', value: 'fresh-2' }]);
    await eventually(() => handled.has('fresh') && handled.has('fresh-2'), 10_000, 'the new messages');
    // held up behind the retry, they would come at least 2.3 s after sending (3 s after the failure)
    expect(handled.get('fresh')! - sentAt).toBeLessThan(2_000);
    expect(handled.has('slow')).toBe(false);
    await eventually(() => handled.has('slow'), 10_000, 'the retried message');
    expect(handled.get('slow')! - failedAt).toBeGreaterThanOrEqual(2_900);
  });

  it('holds the partition while the database is down instead of spending the message\'s attempts', async () => {
    const t = topic();
    let down = true;
    // the database as the bus sees it: while "down", its health check fails as the handler's statements do
    const flaky = Object.create(opened.database) as typeof opened.database;
    flaky.query = ((sql: string, params?: unknown[]) =>
      down && sql === 'SELECT 1' ? Promise.reject(new Error('connection refused')) : opened.database.query(sql, params)) as typeof flaky.query;
    const b = new KafkaBus(flaky, {
      brokers: [kafka.brokers], clientId: 'test', maxWaitMs: 20, lingerMs: 5, outboxSweepMs: 200, retry: { maxAttempts: 2, baseDelayMs: 20 },
    }, silentLogger);
    await b.connect();
    buses.push(b);
    const attempts: number[] = [];
    handles.push(await b.subscribe({ groupId: 'g-db-down', topics: [t], handle: async (m) => {
      attempts.push(m.attempt);
      if (down) throw new Error('connection refused');
    } }));
    await b.publish(t, [{ key: 'k', value: 'alarm' }]);
    await eventually(() => attempts.length >= 1, 15_000, 'the first try');
    await new Promise((r) => setTimeout(r, 2_500)); // longer than every retry delay: nothing may be spent meanwhile
    expect(attempts).toEqual([1]);
    down = false;
    await eventually(async () => {
      const r = await opened.database.query<{ seq: string }>('SELECT seq FROM bus_offsets WHERE group_id = $1', ['g-db-down']);
      return r.length > 0 && r[0].seq !== '-1';
    }, 15_000, 'the message handled once the database is back');
    expect(attempts).toEqual([1, 1]);
  });

  it('hands a stopped member\'s partitions to the other member with nothing lost or applied twice', async () => {
    const t = topic();
    const [b1, b2] = await Promise.all([bus(), bus()]);
    const sub = { groupId: 'g-pair', topics: [t], handle: apply };
    const h1 = await b1.subscribe(sub);
    const h2 = await b2.subscribe(sub);
    handles.push(h2);
    const first = Array.from({ length: 40 }, (_, i) => ({ key: `h-${i}`, value: `p-${String(i).padStart(3, '0')}` }));
    await b1.publish(t, first);
    // usually under a second; once in CI more than 15 s (the two members' joins can take a rebalance or two on the
    // mock, each bounded by the session and rebalance timeouts): the wait allows for that, and a failure says whether
    // messages were lost or only late
    await eventually(async () => (await appliedCounts('p-')).length === 40, 40_000, 'the first 40').catch(async (e: unknown) => {
      throw new Error(`${(e as Error).message} (${(await appliedCounts('p-')).length} of 40 applied)`);
    });
    await h1.stop();
    const second = Array.from({ length: 40 }, (_, i) => ({ key: `h-${i}`, value: `p-${String(40 + i).padStart(3, '0')}` }));
    await b2.publish(t, second);
    await eventually(async () => (await appliedCounts('p-')).length === 80, 30_000, 'all 80 after the hand-over');
    expect((await appliedCounts('p-')).filter((r) => r.n !== 1)).toEqual([]);
  }, 120_000);

  it('leaves its connections\' request queues alone while nothing waits (no timer turning over every millisecond)', async () => {
    const b = await bus({ maxWaitMs: 100 });
    const t = topic();
    const seen: string[] = [];
    handles.push(await b.subscribe({ groupId: `idle-${t}`, topics: [t], handle: async (m) => void seen.push(m.value) }));
    await b.publish(t, [{ key: 'home-1', value: 'wake' }]);
    await eventually(() => seen.length === 1, 10_000, 'the message');
    // kafkajs 2.2.4 checks each connection's queue again 1 ms after every check, forever: hundreds of checks here
    const RequestQueue = kafkajsModule<{ prototype: { checkPendingRequests(): void } }>('./src/network/requestQueue/index.js');
    const checks = jest.spyOn(RequestQueue.prototype, 'checkPendingRequests');
    try {
      await new Promise((r) => setTimeout(r, 500));
      // what is left: one check per response (fetches every 100 ms, heartbeats every second, on a few connections)
      expect(checks.mock.calls.length).toBeLessThan(60);
    } finally {
      checks.mockRestore();
    }
  });

  it('refuses to start when Kafka does not answer, naming KAFKA_BROKERS', async () => {
    const b = new KafkaBus(opened.database, {
      brokers: ['127.0.0.1:1'], clientId: 'test', maxWaitMs: 20, lingerMs: 5, outboxSweepMs: 1000, retry: { maxAttempts: 1, baseDelayMs: 1 },
    }, silentLogger);
    const error = await b.connect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StartupError);
    expect((error as Error).message).toMatch(/cannot reach Kafka at 127\.0\.0\.1:1 \(KAFKA_BROKERS\)/);
  });
});
