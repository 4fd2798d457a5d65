import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, openTestDatabase, testBus } from '@linan/testing';
import { PermanentMessageError } from '@linan/contracts';
import type { OpenedDatabase } from '../persistence/open-database';
import { INBOX_LIMIT } from './embedded-group-member';
import type { InboundMessage, MessageFailure } from './message-bus';
import { partitionFor } from './partitioner';

const msg = (key: string, value: string) => ({ key, value });

describe('EmbeddedBus', () => {
  let opened: OpenedDatabase;
  beforeEach(async () => {
    opened = await openTestDatabase();
  });
  afterEach(async () => {
    await opened.close();
  });

  it('delivers every message of a key in order, to every group', async () => {
    const bus = testBus(opened);
    const seenA: string[] = [];
    const seenB: string[] = [];
    await bus.subscribe({ groupId: 'a', topics: ['t'], handle: async (m) => void seenA.push(`${m.key}:${m.value}`) });
    await bus.subscribe({ groupId: 'b', topics: ['t'], handle: async (m) => void seenB.push(`${m.key}:${m.value}`) });
    for (let i = 0; i < 20; i++) await bus.publish('t', [msg(`k${i % 3}`, String(i))]);
    await eventually(() => seenA.length === 20 && seenB.length === 20, 5000, 'all delivered');
    for (const seen of [seenA, seenB]) {
      for (const k of ['k0', 'k1', 'k2']) {
        const values = seen.filter((s) => s.startsWith(`${k}:`)).map((s) => Number(s.split(':')[1]));
        expect(values).toEqual([...values].sort((x, y) => x - y));
      }
    }
    await bus.close();
  });

  it('splits partitions between members of one group and hands them over when one stops', async () => {
    const bus = testBus(opened);
    const byMember: Record<string, string[]> = { one: [], two: [] };
    const one = await bus.subscribe({ groupId: 'g', topics: ['t'], handle: async (m) => void byMember.one.push(m.value) });
    await bus.subscribe({ groupId: 'g', topics: ['t'], handle: async (m) => void byMember.two.push(m.value) });
    await bus.publish('t', Array.from({ length: 40 }, (_, i) => msg(`key-${i}`, String(i))));
    await eventually(() => byMember.one.length + byMember.two.length === 40, 5000, 'first 40');
    expect(byMember.one.length).toBeGreaterThan(0);
    expect(byMember.two.length).toBeGreaterThan(0);
    expect(new Set([...byMember.one, ...byMember.two]).size).toBe(40);
    await one.stop();
    byMember.two.length = 0;
    await bus.publish('t', Array.from({ length: 40 }, (_, i) => msg(`key-${i}`, `b${i}`)));
    await eventually(() => byMember.two.length === 40, 5000, 'member two takes every partition');
    await bus.close();
  });

  it('redelivers after a transient failure and rolls back the failed attempt', async () => {
    const failures: MessageFailure[] = [];
    const bus = testBus(opened, { onMessageFailed: (f) => void failures.push(f) });
    let calls = 0;
    const done: string[] = [];
    await bus.subscribe({
      groupId: 'g', topics: ['t'],
      handle: async (m: InboundMessage) => {
        calls++;
        if (m.value === 'flaky' && m.attempt < 2) throw new Error('database hiccup');
        done.push(`${m.value}@${m.attempt}`);
      },
    });
    await bus.publish('t', [msg('k', 'flaky')]);
    await eventually(() => done.length === 1, 5000, 'redelivery');
    expect(done).toEqual(['flaky@2']);
    expect(calls).toBe(2);
    expect(failures).toEqual([{ group: 'g', topic: 't', outcome: 'retry', reason: 'transient' }]);
    await bus.close();
  });

  it('dead-letters a permanent failure at once and keeps the partition flowing', async () => {
    const failures: MessageFailure[] = [];
    const bus = testBus(opened, { onMessageFailed: (f) => void failures.push(f) });
    // in-memory effects are not rolled back with the batch, so "a" may be seen twice: count distinct values
    const done = new Set<string>();
    const dead: InboundMessage[] = [];
    await bus.subscribe({ groupId: 'g', topics: ['t.g.dlq'], handle: async (m) => void dead.push(m) });
    await bus.subscribe({
      groupId: 'g', topics: ['t'],
      handle: async (m) => {
        if (m.value === 'poison') throw new PermanentMessageError('bad_envelope', 'not an envelope');
        done.add(m.value);
      },
    });
    await bus.publish('t', [msg('k', 'a'), msg('k', 'poison'), msg('k', 'b')]);
    await eventually(() => done.size === 2 && dead.length === 1, 5000, 'dead letter');
    expect([...done]).toEqual(['a', 'b']);
    expect(dead[0].value).toBe('poison');
    expect(dead[0].headers['dlq-reason']).toBe('bad_envelope');
    expect(dead[0].headers['dlq-source']).toMatch(/^t\/\d+@\d+$/);
    expect(failures).toEqual([{ group: 'g', topic: 't', outcome: 'dead_letter', reason: 'bad_envelope' }]);
    await bus.close();
  });

  it('dead-letters a message that fails on every attempt', async () => {
    const failures: MessageFailure[] = [];
    const bus = testBus(opened, { retry: { maxAttempts: 3, baseDelayMs: 1 }, onMessageFailed: (f) => void failures.push(f) });
    let attempts = 0;
    const dead: InboundMessage[] = [];
    await bus.subscribe({ groupId: 'g', topics: ['t.g.dlq'], handle: async (m) => void dead.push(m) });
    await bus.subscribe({ groupId: 'g', topics: ['t'], handle: async () => { attempts++; throw new Error('always'); } });
    await bus.publish('t', [msg('k', 'x')]);
    await eventually(() => dead.length === 1, 5000, 'dead letter after retries');
    expect(dead[0].headers['dlq-reason']).toBe('max_attempts');
    expect(attempts).toBe(3);
    const retry = { group: 'g', topic: 't', outcome: 'retry', reason: 'transient' };
    expect(failures).toEqual([retry, retry, { group: 'g', topic: 't', outcome: 'dead_letter', reason: 'max_attempts' }]);
    await bus.close();
  });

  it('tells each group\'s lag per partition, growing while its consumer is stuck and back to 0 once it catches up', async () => {
    // stuck: every attempt fails until released (a handler that waited inside its transaction would hold the
    // embedded database's one connection, and the lag could not be read at all)
    const bus = testBus(opened, { retry: { maxAttempts: 100, baseDelayMs: 5 } });
    let released = false;
    const release = () => void (released = true);
    const seen: string[] = [];
    await bus.subscribe({ groupId: 'slow', topics: ['t'], handle: async (m) => {
      if (!released) throw new Error('stuck');
      seen.push(m.value);
    } });
    await bus.subscribe({ groupId: 'live', topics: ['t'], ephemeral: true, handle: async () => undefined });
    const total = async () => (await bus.lag()).reduce((n, l) => n + l.messages, 0);
    await bus.publish('t', [msg('home-1', 'm1'), msg('home-1', 'm2'), msg('home-2', 'm3')]);
    expect(await total()).toBe(3);
    const lag = await bus.lag();
    // the live view keeps no position, so only the group's four partitions
    expect(lag.map((l) => `${l.group} ${l.topic} ${l.partition}`).sort()).toEqual(['slow t 0', 'slow t 1', 'slow t 2', 'slow t 3']);
    expect(lag.find((l) => l.partition === partitionFor('home-1', 4))!.messages).toBeGreaterThanOrEqual(2);
    await bus.publish('t', [msg('home-1', 'm4')]);
    expect(await total()).toBe(4);
    release();
    await eventually(() => seen.length === 4, 5000, 'all four applied');
    await eventually(async () => (await total()) === 0, 5000, 'no lag once caught up');
    await bus.close();
  });

  it('handles the waiting messages of all its partitions as one batch, each key in order', async () => {
    const bus = testBus(opened);
    // published before anyone subscribes: the member's first read finds all of them waiting
    await bus.publish('t', Array.from({ length: 40 }, (_, i) => msg(`k${i % 8}`, String(i))));
    const batches: InboundMessage[][] = [];
    await bus.subscribe({
      groupId: 'g', topics: ['t'],
      handle: async (m) => void batches.push([m]),
      handleBatch: async (ms) => void batches.push(ms),
    });
    await eventually(() => batches.flat().length === 40, 5000, 'all 40');
    expect(batches).toHaveLength(1);
    expect(new Set(batches[0].map((m) => m.partition)).size).toBe(4);
    for (let k = 0; k < 8; k++) {
      const values = batches[0].filter((m) => m.key === `k${k}`).map((m) => Number(m.value));
      expect(values).toEqual([...values].sort((x, y) => x - y));
    }
    await bus.close();
  });

  it('a message waiting out its retries holds only its own partition', async () => {
    const bus = testBus(opened, { retry: { maxAttempts: 3, baseDelayMs: 400 } });
    const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const slowKey = keys[0];
    const otherKey = keys.find((k) => partitionFor(k, 4) !== partitionFor(slowKey, 4))!;
    const done: { value: string; at: number }[] = [];
    await bus.subscribe({
      groupId: 'g', topics: ['t'],
      handle: async (m) => {
        if (m.value === 'slow' && m.attempt < 2) throw new Error('transient');
        done.push({ value: m.value, at: Date.now() });
      },
    });
    await bus.publish('t', [msg(slowKey, 'slow'), msg(otherKey, 'other')]);
    await eventually(() => done.length === 2, 5000, 'both handled');
    const at = Object.fromEntries(done.map((d) => [d.value, d.at]));
    // the other partition's message is not held behind the 400 ms backoff
    expect(at.slow - at.other).toBeGreaterThanOrEqual(300);
    await bus.close();
  });

  it('publishes through the outbox only when the unit of work commits', async () => {
    const bus = testBus(opened);
    const seen: string[] = [];
    await bus.subscribe({ groupId: 'g', topics: ['t'], handle: async (m) => void seen.push(m.value) });
    await expect(opened.database.run(async () => {
      await bus.add('t', [msg('k', 'rolled-back')]);
      throw new Error('abort');
    })).rejects.toThrow('abort');
    await opened.database.run(() => bus.add('t', [msg('k', 'committed')]));
    await eventually(() => seen.length === 1, 5000, 'outbox delivery');
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toEqual(['committed']);
    await bus.close();
  });
});

describe('EmbeddedBus delivery from memory', () => {
  let opened: OpenedDatabase;
  let logReads: number;
  beforeEach(async () => {
    opened = await openTestDatabase();
    logReads = 0;
    const query = opened.database.query.bind(opened.database);
    jest.spyOn(opened.database, 'query').mockImplementation((sql: string, params?: unknown[]) => {
      if (sql.includes('CROSS JOIN LATERAL')) logReads++;
      return query(sql, params);
    });
  });
  afterEach(async () => {
    await opened.close();
  });

  it('a consumer that has caught up takes new messages from memory, not from the log', async () => {
    const bus = testBus(opened, { pollMs: 60_000 });
    const seen: string[] = [];
    await bus.subscribe({ groupId: 'g', topics: ['t'], handle: async (m) => void seen.push(m.value) });
    await bus.publish('t', [msg('k', '0')]);
    await eventually(() => seen.length === 1, 5000, 'the first message');
    const readsWhenCaughtUp = logReads;
    for (let i = 1; i <= 30; i++) {
      await bus.publish('t', [msg(`k${i % 5}`, String(i)), msg(`k${(i + 1) % 5}`, `${i}b`)]);
      await opened.database.run(() => bus.add('t', [msg(`k${i % 5}`, `${i}c`)]));
    }
    await eventually(() => seen.length === 91, 5000, 'all 91');
    expect(logReads).toBe(readsWhenCaughtUp);
    await bus.close();
  });

  it('every committed message once, in each key\'s order, and no rolled-back one, with publishes, transactions and rollbacks interleaved', async () => {
    // COMMIT fails for a transaction that inserts the same id twice, after its outbox rows went in
    await opened.database.query('CREATE TABLE bus_test_deferred (id int PRIMARY KEY DEFERRABLE INITIALLY DEFERRED)');
    const bus = testBus(opened, { pollMs: 60_000 });
    const seen: string[] = [];
    let slow = 0;
    await bus.subscribe({
      groupId: 'g', topics: ['t'],
      handle: async (m) => {
        seen.push(`${m.key}:${m.value}`);
        if (slow++ % 7 === 0) await new Promise((r) => setTimeout(r, 3)); // so some arrive while a batch runs
      },
    });
    const expected: string[] = [];
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 150; i++) {
      // publishes: keys p0..p4, each key's values in publish order
      work.push(bus.publish('t', [msg(`p${i % 5}`, String(i))]));
      expected.push(`p${i % 5}:${i}`);
      if (i % 3 === 0) {
        const kind = i % 9; // 0: commits, 3: rolls back before its outbox insert, 6: its COMMIT fails after it
        work.push(opened.database.run(async () => {
          if (kind === 6) await opened.database.query('INSERT INTO bus_test_deferred VALUES ($1), ($1)', [i]);
          await bus.add('t', [msg(`x${i}`, 'tx')]);
          if (kind === 3) throw new Error('abort');
        }).catch(() => undefined));
        if (kind === 0) expected.push(`x${i}:tx`);
      }
      if (i % 10 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(work);
    await eventually(() => seen.length >= expected.length, 10_000, `all ${expected.length}`);
    await new Promise((r) => setTimeout(r, 200));
    expect([...seen].sort()).toEqual([...expected].sort());
    for (let k = 0; k < 5; k++) {
      const values = seen.filter((v) => v.startsWith(`p${k}:`)).map((v) => Number(v.split(':')[1]));
      expect(values).toEqual([...values].sort((a, b) => a - b));
    }
    await bus.close();
  });

  it('hands appends over in the order they ran, even when an earlier transaction reports its commit late', async () => {
    const bus = testBus(opened, { partitions: 1, pollMs: 60_000 });
    const seen: string[] = [];
    await bus.subscribe({ groupId: 'g', topics: ['t'], handle: async (m) => void seen.push(m.value) });
    await bus.publish('t', [msg('k', 'first')]);
    await eventually(() => seen.length === 1, 5000, 'caught up');
    // the transaction's outcome reaches the bus 100 ms after its COMMIT; a publish runs and commits meanwhile
    const afterTransaction = opened.database.afterTransaction.bind(opened.database);
    jest.spyOn(opened.database, 'afterTransaction').mockImplementation((fn) => (opened.database.inTransaction()
      ? afterTransaction((ok) => void setTimeout(() => fn(ok), 100))
      : afterTransaction(fn)));
    await opened.database.run(() => bus.add('t', [msg('k', 'from the transaction')]));
    await bus.publish('t', [msg('k', 'published after it')]);
    await eventually(() => seen.length === 3, 5000, 'both');
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toEqual(['first', 'from the transaction', 'published after it']);
    await bus.close();
  });

  it('a consumer further behind than its inbox holds reads the log, and misses and repeats nothing', async () => {
    const bus = testBus(opened, { partitions: 1, pollMs: 60_000 });
    const seen: number[] = [];
    await bus.subscribe({ groupId: 'g', topics: ['t'], handle: async (m) => void seen.push(Number(m.value)) });
    await bus.publish('t', [msg('k', '0')]);
    await eventually(() => seen.length === 1, 5000, 'the first message');
    const readsWhenCaughtUp = logReads;
    const n = INBOX_LIMIT + 200;
    await bus.publish('t', Array.from({ length: n - 1 }, (_, i) => msg('k', String(i + 1))));
    await bus.publish('t', [msg('k', String(n))]);
    await eventually(() => seen.length >= n + 1, 10_000, `all ${n + 1}`);
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toEqual(Array.from({ length: n + 1 }, (_, i) => i));
    expect(logReads).toBeGreaterThan(readsWhenCaughtUp);
    await bus.close();
  });
});

describe('EmbeddedBus live views', () => {
  it('an ephemeral subscription starts at the end of the log and commits nothing', async () => {
    const opened = await openTestDatabase();
    try {
      const bus = testBus(opened);
      await bus.publish('t', [msg('k', 'old')]);
      const seen: string[] = [];
      await bus.subscribe({ groupId: 'live', topics: ['t'], ephemeral: true, handle: async (m) => void seen.push(m.value) });
      await bus.publish('t', [msg('k', 'new')]);
      await eventually(() => seen.length === 1, 5000, 'the new message');
      await new Promise((r) => setTimeout(r, 100));
      expect(seen).toEqual(['new']);
      expect(await opened.database.query("SELECT * FROM bus_offsets WHERE group_id = 'live'")).toEqual([]);
      await bus.close();
    } finally {
      await opened.close();
    }
  });
});

describe('EmbeddedBus live views, bursts', () => {
  it('hands a burst to a live view with handleBatch in one call, in order, and a failing batch is skipped', async () => {
    const opened = await openTestDatabase();
    try {
      const bus = testBus(opened);
      const calls: string[][] = [];
      let fail = true;
      await bus.subscribe({
        groupId: 'live', topics: ['t'], ephemeral: true,
        handle: async (m) => void calls.push([m.value]),
        handleBatch: async (ms) => {
          if (fail) {
            fail = false;
            throw new Error('the live channel is down');
          }
          calls.push(ms.map((m) => m.value));
        },
      });
      await bus.publish('t', ['x1', 'x2'].map((v) => msg('k', v)));
      await new Promise((r) => setTimeout(r, 200));
      await bus.publish('t', ['a', 'b', 'c'].map((v) => msg('k', v)));
      await eventually(() => calls.flat().includes('c'), 5000, 'the burst');
      expect(calls).toEqual([['a', 'b', 'c']]);
      await bus.close();
    } finally {
      await opened.close();
    }
  });
});

describe('EmbeddedBus retention', () => {
  it('deletes old messages every group has consumed, and keeps what a lagging group still needs', async () => {
    const opened = await openTestDatabase();
    try {
      const bus = testBus(opened, { partitions: 1 });
      const seen: string[] = [];
      await bus.subscribe({ groupId: 'fast', topics: ['t'], handle: async (m) => void seen.push(m.value) });
      await bus.publish('t', [msg('k', '1'), msg('k', '2')]);
      await bus.publish('orphan', [msg('k', 'x')]);
      await eventually(() => seen.length === 2, 5000, 'consumed');
      // a group that committed only the first message
      const first = await opened.database.query<{ seq: string }>("SELECT min(seq) AS seq FROM bus_log WHERE topic = 't'");
      await opened.database.query("INSERT INTO bus_offsets (group_id, topic, partition, seq) VALUES ('slow', 't', 0, $1)", [first[0].seq]);
      const later = Date.now() + 3600_000;
      expect(await bus.prune(Date.now(), 3600_000)).toBe(0);
      expect(await bus.prune(later, 1000)).toBe(2);
      const left = await opened.database.query<{ value: string }>('SELECT value FROM bus_log ORDER BY seq');
      expect(left.map((r) => r.value)).toEqual(['2']);
      await bus.close();
    } finally {
      await opened.close();
    }
  });
});

describe('EmbeddedBus polling', () => {
  it('an idle consumer\'s polls do not keep the database from being quiet, so maintenance can run', async () => {
    const opened = await openTestDatabase();
    try {
      const bus = testBus(opened, { partitions: 2, pollMs: 20 });
      const seen: string[] = [];
      await bus.subscribe({ groupId: 'g', topics: ['t'], handle: async (m) => void seen.push(m.value) });
      await bus.publish('t', [msg('k', '1')]);
      await eventually(() => seen.length === 1, 5000, 'consumed');
      const started = Date.now();
      await opened.database.quiet(200, 3000); // the consumer polls ten times a second meanwhile
      expect(Date.now() - started).toBeLessThan(1000);
      await bus.publish('t', [msg('k', '2')]);
      await eventually(() => seen.length === 2, 5000, 'consumed after the quiet spell');
      await bus.close();
    } finally {
      await opened.close();
    }
  });
});

describe.each(['main', 'worker'])('EmbeddedBus on disk, database on the %s thread', (thread) => {
  it('resumes after a restart from the committed offset, losing and repeating nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'linan-bus-'));
    try {
      let opened = await openTestDatabase({ DATA_DIR: dir, EMBEDDED_DB_THREAD: thread });
      let bus = testBus(opened);
      const seen: string[] = [];
      await bus.subscribe({ groupId: 'g', topics: ['t'], handle: async (m) => void seen.push(m.value) });
      await bus.publish('t', [msg('k', '1'), msg('k', '2')]);
      await eventually(() => seen.length === 2, 5000, 'first two');
      await bus.close();
      await bus.publish('t', [msg('k', '3')]).catch(() => undefined);
      const fresh = testBus(opened);
      await fresh.publish('t', [msg('k', '3')]);
      await fresh.close();
      await opened.close();

      opened = await openTestDatabase({ DATA_DIR: dir, EMBEDDED_DB_THREAD: thread });
      bus = testBus(opened);
      await bus.subscribe({ groupId: 'g', topics: ['t'], handle: async (m) => void seen.push(m.value) });
      await eventually(() => seen.length === 3, 5000, 'the one published while stopped');
      await new Promise((r) => setTimeout(r, 100));
      expect(seen).toEqual(['1', '2', '3']);
      await bus.close();
      await opened.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
