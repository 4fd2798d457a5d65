import type { Kafka } from 'kafkajs';
import { silentLogger } from '@linan/testing';
import type { Database } from '../persistence/database';
import { SeekBack } from './kafka-batch-applier';
import { KAFKA_COMMIT_INTERVAL_MS, KafkaConsumer } from './kafka-consumer';
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

describe('KafkaConsumer join wait', () => {
  it('leaves no timer behind once the consumer has joined (a stopped process would otherwise live on for the join timeout)', async () => {
    const kafka = { consumer: () => ({ on: () => () => undefined, events: {} }) } as unknown as Kafka;
    const c = new KafkaConsumer(kafka, { groupId: 'live', topics: ['t'], handle: async () => undefined, ephemeral: true }, {} as Database,
      { maxWaitMs: 5, retry: { maxAttempts: 3, baseDelayMs: 10 }, joinTimeoutMs: 30_000 }, silentLogger, async () => undefined);
    (c as unknown as { joined: Promise<void> }).joined = Promise.resolve();
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    await c.waitForJoin();
    expect(timers()).toBe(before);
  });
});

describe('KafkaConsumer fetch gathering', () => {
  /** A consumer on stubs: its batches are handled in a "transaction" that only records what it was given. */
  function consumer(sub: Partial<Subscription>, fetchGatherMs: number) {
    const commits: { topic: string; partition: number; offset: string }[][] = [];
    const kafka = {
      consumer: () => ({
        on: () => () => undefined, events: {}, disconnect: async () => undefined,
        commitOffsets: async (offsets: { topic: string; partition: number; offset: string }[]) => void commits.push(offsets),
      }),
    } as unknown as Kafka;
    const db = {
      run: async (fn: () => Promise<unknown>) => fn(),
      query: async (sql: string, params: unknown[]) =>
        sql.startsWith('INSERT INTO bus_offsets') ? (params[1] as string[]).map((topic, i) => ({ topic, partition: (params[2] as number[])[i], seq: '-1' })) : [],
      write: async () => undefined,
    } as unknown as Database;
    const c = new KafkaConsumer(kafka, { groupId: 'g', topics: ['t'], handle: async () => undefined, ...sub } as Subscription, db,
      { maxWaitMs: 5, retry: { maxAttempts: 3, baseDelayMs: 10 }, fetchGatherMs }, silentLogger, async () => undefined);
    /** One partition's batch of one message at `offset`; `left` more messages wait in the partition behind it. */
    const eachBatch = (partition: number, offset: string, left = 0) => (c as unknown as { eachBatch(p: unknown): Promise<void> }).eachBatch({
      batch: {
        topic: 't', partition, highWatermark: String(Number(offset) + 1 + left),
        messages: [{ offset, key: Buffer.from('k'), value: Buffer.from(`v${offset}`), headers: {}, timestamp: '0' }],
      },
      resolveOffset: () => undefined, heartbeat: async () => undefined, isRunning: () => true, isStale: () => false,
    });
    return { eachBatch, commits, stop: () => c.stop() };
  }

  /** Lets promises and setImmediate callbacks run, without moving the (fake) clock. */
  async function settle(): Promise<void> {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  }

  /** Runs `fn` on a fake clock (jest's), so the waits are checked by the clock's steps rather than by wall time. */
  async function onFakeClock(fn: () => Promise<void>): Promise<void> {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    try {
      await fn();
    } finally {
      jest.useRealTimers();
    }
  }

  it('hands a fetch\'s batches on at once and lets kafkajs fetch again only after fetchGatherMs, one wait per fetch', () => onFakeClock(async () => {
    const timers = jest.spyOn(global, 'setTimeout');
    const handled: string[] = [];
    const { eachBatch } = consumer({ handleBatch: async (ms) => void handled.push(...ms.map((m) => m.value)) }, 80);
    let returned = 0;
    const fetch = [eachBatch(0, '1'), eachBatch(1, '7')].map((p) => p.then(() => void returned++));
    await settle();
    expect(handled.sort()).toEqual(['v1', 'v7']); // handled while the fetch loop waits
    expect(returned).toBe(0);
    await jest.advanceTimersByTimeAsync(79);
    expect(returned).toBe(0);
    await jest.advanceTimersByTimeAsync(1);
    await Promise.all(fetch);
    expect(returned).toBe(2);
    expect(timers.mock.calls.filter(([, ms]) => ms === 80)).toHaveLength(1); // the two batches of the fetch share one wait
  }));

  it('fetches again at once without it', () => onFakeClock(async () => {
    const { eachBatch } = consumer({ handleBatch: async () => undefined }, 0);
    let returned = false;
    void eachBatch(0, '1').then(() => (returned = true));
    await settle(); // the clock does not move: returning cannot depend on a timer
    expect(returned).toBe(true);
  }));

  it('fetches again at once when a batch left messages behind in its partition, cutting the wait of the fetch\'s other batches', () => onFakeClock(async () => {
    const { eachBatch } = consumer({ handleBatch: async () => undefined }, 80);
    let returned = 0;
    const fetch = [eachBatch(0, '1'), eachBatch(1, '7', 3)];
    for (let i = 0; i < 5; i++) await Promise.resolve(); // kafkajs may hand on a fetch's batches a few ticks apart
    fetch.push(eachBatch(2, '4'));
    fetch.forEach((p) => void p.then(() => void returned++));
    await settle(); // the clock does not move
    expect(returned).toBe(3);
    await Promise.all(fetch);
    // the next fetch, caught up everywhere, waits again
    let next = false;
    void eachBatch(0, '2').then(() => (next = true));
    await settle();
    expect(next).toBe(false);
    await jest.advanceTimersByTimeAsync(80);
    expect(next).toBe(true);
  }));

  it('lets a live view\'s changes gather for LIVE_VIEW_GATHER_MS between fetches', async () => {
    const shown: string[] = [];
    const { eachBatch } = consumer({ ephemeral: true, handle: async (m) => void shown.push(m.value) }, 0);
    const t0 = Date.now();
    await eachBatch(0, '3');
    expect(shown).toEqual(['v3']);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(LIVE_VIEW_GATHER_MS - 5);
  });

  it('lets a live view that is behind catch up without waiting', () => onFakeClock(async () => {
    const shown: string[] = [];
    const { eachBatch } = consumer({ ephemeral: true, handle: async (m) => void shown.push(m.value) }, 0);
    let returned = false;
    void eachBatch(0, '3', 5).then(() => (returned = true));
    await settle();
    expect(shown).toEqual(['v3']);
    expect(returned).toBe(true);
  }));

  it('tells Kafka how far each partition got once per KAFKA_COMMIT_INTERVAL_MS, not once per transaction, and at once when it stops', () => onFakeClock(async () => {
    const { eachBatch, commits, stop } = consumer({ handleBatch: async () => undefined }, 0);
    await eachBatch(0, '1');
    await settle();
    await jest.advanceTimersByTimeAsync(20);
    await eachBatch(0, '2');
    await eachBatch(1, '9');
    await settle();
    await jest.advanceTimersByTimeAsync(KAFKA_COMMIT_INTERVAL_MS - 21);
    expect(commits).toEqual([]); // three transactions, nothing sent yet
    await jest.advanceTimersByTimeAsync(1);
    expect(commits).toEqual([[{ topic: 't', partition: 0, offset: '3' }, { topic: 't', partition: 1, offset: '10' }]]);
    await eachBatch(1, '10');
    await settle();
    await jest.advanceTimersByTimeAsync(20);
    await stop();
    expect(commits).toEqual([
      [{ topic: 't', partition: 0, offset: '3' }, { topic: 't', partition: 1, offset: '10' }],
      [{ topic: 't', partition: 1, offset: '11' }],
    ]);
  }));
});

describe('KafkaConsumer of the retry topics', () => {
  it('sends a partition back where StoredOffsetChecks says (a retry topic created again) and takes nothing more of the batch', async () => {
    const seeks: { topic: string; partition: number; offset: string }[] = [];
    const kafka = {
      consumer: () => ({ on: () => () => undefined, events: {}, seek: (at: { topic: string; partition: number; offset: string }) => void seeks.push(at) }),
    } as unknown as Kafka;
    const c = new KafkaConsumer(kafka, { groupId: 'g', topics: ['t'], handle: async () => undefined }, {} as Database,
      { maxWaitMs: 5, retry: { maxAttempts: 3, baseDelayMs: 10 } }, silentLogger, async () => undefined, 'retries');
    const tried: string[] = [];
    (c as unknown as { applier: unknown }).applier = {
      applyOne: async (_: unknown, m: { offset: string }) => {
        tried.push(m.offset);
        throw new SeekBack([{ topic: 't.g.retry', partition: 2, offset: '0' }]);
      },
    };
    const message = (offset: string) => ({ offset, key: Buffer.from('k'), value: Buffer.from('v'), headers: {}, timestamp: '0' });
    const resolved: string[] = [];
    await (c as unknown as { eachBatch(p: unknown): Promise<void> }).eachBatch({
      batch: { topic: 't.g.retry', partition: 2, highWatermark: '9', messages: [message('6'), message('7')] },
      resolveOffset: (o: string) => void resolved.push(o), heartbeat: async () => undefined, isRunning: () => true, isStale: () => false,
    });
    expect(tried).toEqual(['6']);
    expect(resolved).toEqual([]);
    expect(seeks).toEqual([{ topic: 't.g.retry', partition: 2, offset: '0' }]);
  });
});

describe('KafkaConsumer joining its group', () => {
  it('has every partition\'s log checked again at its stored offset after each join (kafkajs resumes after it)', () => {
    const handlers = new Map<string, (e: { payload: { memberId: string; memberAssignment: object } }) => void>();
    const kafka = {
      consumer: () => ({
        events: { GROUP_JOIN: 'consumer.group_join', CRASH: 'consumer.crash', REQUEST: 'consumer.network.request' },
        on: (event: string, h: (e: { payload: { memberId: string; memberAssignment: object } }) => void) => {
          handlers.set(event, h);
          return () => undefined;
        },
      }),
    } as unknown as Kafka;
    const c = new KafkaConsumer(kafka, { groupId: 'g', topics: ['t'], handle: async () => undefined }, {} as Database,
      { maxWaitMs: 5, retry: { maxAttempts: 3, baseDelayMs: 10 } }, silentLogger, async () => undefined);
    let rechecks = 0;
    (c as unknown as { applier: unknown }).applier = { recheckLogs: () => void rechecks++ };
    const join = () => handlers.get('consumer.group_join')!({ payload: { memberId: 'm', memberAssignment: { t: [0, 1] } } });
    join();
    join();
    expect(rechecks).toBe(2);
  });
});
